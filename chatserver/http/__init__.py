"""HTTP: the REST API under /api/v1, public pages, and operator endpoints."""

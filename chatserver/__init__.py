"""chatserver: a self-hosted, privacy-first customer-service chat for websites."""

__version__ = "0.1.0"

"""Privacy (docs/privacy.md): the notice generated from the settings (notice.py,
notice_render.py), the EU residency check (residency.py), the retention purge (retention.py) and
the data subjects' rights, export and erase (rights.py). The audit log every one of them writes
is the chat core's services/audit.py."""

"""Email (docs/email.md), above the chat core: the durable outbox and its worker (outbox.py,
mailer.py), the transcript queued through the `ctx.on_close` hook (transcripts.py), and the
offline form with its notification, receipt and the agents' replies (offline.py)."""

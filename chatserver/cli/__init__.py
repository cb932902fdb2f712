"""The `chatserver` command: `main` parses and dispatches (commands.py); the assistant's and the
privacy commands live beside it (bot.py, privacy.py); `context.py` runs a service call with a
context of its own."""

from chatserver.cli.commands import main

__all__ = ["main"]

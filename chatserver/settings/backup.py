"""The `[backup]` settings section: `chatserver backup` and `chatserver restore`
(docs/deployment.md, "Backup and restore")."""

from __future__ import annotations

from pydantic import Field, field_validator

from chatserver.settings.section import Section


class BackupSettings(Section):
    folder: str = Field(
        "", description="Folder `chatserver backup` writes to and keeps tidy (backups older "
        "than privacy.retention.backups days are removed). Empty means DATA_DIR/backups.")
    recipient: str = Field(
        "", description="An age public key (age1...): backups are encrypted to it, and only "
        "the matching private key (`chatserver restore --identity FILE`) reads them. Empty "
        "writes them unencrypted.")

    @field_validator("recipient")
    @classmethod
    def _check_recipient(cls, value: str) -> str:
        value = value.strip()
        if value and not (value.startswith("age1") and len(value) > 50 and " " not in value):
            raise ValueError("expected an age public key such as age1ql3z7hjy54pw3hyww5ay...")
        return value

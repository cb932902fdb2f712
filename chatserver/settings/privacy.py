"""The `[privacy]` settings section: who the controller is, why and on what legal basis data is
processed, the processors and their countries, what optional metadata is collected and how long
each kind of personal data is kept. The privacy notice is generated from these values
(chatserver/services/privacy/notice.py), so changing one changes the notice and its version.

`Settings.privacy` (chatserver/settings/__init__.py) is this.
"""

from __future__ import annotations

import re
from typing import Literal

from babel import Locale
from pydantic import Field, field_validator

from chatserver.settings.section import Section

# The EU member states and the other EEA states (Iceland, Liechtenstein, Norway).
EU_EEA = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE "
    "IS LI NO".split()
)
PURPOSES = ("customer_service", "sales", "support", "feedback")
LEGAL_BASES = ("consent", "contract", "legal_obligation", "public_task", "legitimate_interests")
ROLES = ("hosting", "database", "email", "messaging", "backup", "other")
_COUNTRIES = frozenset(str(code) for code in Locale.parse("en").territories
                       if re.fullmatch("[A-Z]{2}", str(code))) - {"ZZ", "EU", "EZ", "UN", "QO"}



def _country(value: str) -> str:
    code = value.strip().upper()
    if code not in _COUNTRIES:
        raise ValueError("expected a two-letter ISO 3166 country code such as FI or DE")
    return code


class ControllerSettings(Section):
    name: str = Field("Example Oy", min_length=1, max_length=200,
                      description="Legal name of the controller (rekisterinpitäjä).")
    business_id: str = Field("1234567-8", max_length=40,
                             description="Business ID (Y-tunnus) or other registration number; "
                             "empty to leave it out.")
    address: str = Field("Esimerkkikatu 1, 00100 Helsinki", max_length=300,
                         description="Postal address of the controller.")
    email: str = Field("privacy@example.fi", min_length=3, max_length=254,
                       description="Email address for privacy matters.")
    phone: str = Field("", max_length=40, description="Phone number; empty to leave it out.")


class ContactSettings(Section):
    name: str = Field("", max_length=200,
                      description="Contact person for register matters (yhteyshenkilö); empty "
                      "means the controller's privacy email is the contact.")
    email: str = Field("", max_length=254,
                       description="The contact person's email; empty uses controller.email.")
    phone: str = Field("", max_length=40, description="The contact person's phone; optional.")


class PurposeSettings(Section):
    purpose: Literal["customer_service", "sales", "support", "feedback"] = Field(
        "customer_service",
        description="Why the chat is run: customer_service, sales, support or feedback.")
    legal_basis: Literal[
        "consent", "contract", "legal_obligation", "public_task", "legitimate_interests"
    ] = Field("legitimate_interests",
              description="GDPR art. 6(1) basis: consent, contract, legal_obligation, "
              "public_task or legitimate_interests.")


class ProcessorSettings(Section):
    name: str = Field(min_length=1, max_length=200,
                      description="The processor's name (henkilötietojen käsittelijä).")
    role: Literal["hosting", "database", "email", "messaging", "backup", "other"] = Field(
        description="What it does: hosting, database, email, messaging, backup or other.")
    country: str = Field(description="Two-letter ISO country code where it processes the data.")
    endpoint: str = Field("", max_length=253,
                          description="Host name this processor runs (such as db.example.fi), "
                          "matched against database_url, redis_url and the SMTP host.")

    @field_validator("country")
    @classmethod
    def _check_country(cls, value: str) -> str:
        return _country(value)

    @field_validator("endpoint")
    @classmethod
    def _clean_endpoint(cls, value: str) -> str:
        return value.strip().lower().rstrip(".")


class AuthoritySettings(Section):
    name: str = Field("", max_length=200,
                      description="Supervisory authority; empty means the Finnish Data "
                      "Protection Ombudsman (tietosuojavaltuutettu), named in each language.")
    url: str = Field("https://tietosuoja.fi", max_length=300,
                     description="Web address of the supervisory authority.")


class RetentionSettings(Section):
    conversations: int = Field(60, ge=1, le=3650,
                               description="Days a conversation, its messages and its "
                               "transcript address are kept after it ends (or after its last "
                               "activity if it was never closed).")
    offline_messages: int = Field(60, ge=1, le=3650,
                                  description="Days an offline-form message is kept.")
    sent_emails: int = Field(7, ge=1, le=3650,
                             description="Days the record of a sent (or finally failed) email "
                             "is kept in the outbox; its addresses and content are deleted as "
                             "soon as it is delivered.")
    audit_events: int = Field(365, ge=1, le=3650,
                              description="Days an audit-log entry is kept.")
    backups: int = Field(35, ge=1, le=3650,
                         description="Days a backup may live: `chatserver backup` removes older "
                         "ones from backup.folder, and the tombstones of erasures are kept as "
                         "long, so an erasure holds after a restore from any of them.")
    reports: int = Field(730, ge=1, le=36500,
                         description="Days the anonymous report counters (per day, hour, "
                         "language and agent; no personal data) are kept.")


class PrivacySettings(Section):
    controller: ControllerSettings = Field(
        default_factory=ControllerSettings)  # type: ignore[arg-type]
    contact: ContactSettings = Field(default_factory=ContactSettings)  # type: ignore[arg-type]
    register_name: str = Field("", max_length=200,
                               description="Name of the register; empty uses a generated, "
                               "translated name.")
    purposes: list[PurposeSettings] = Field(
        default_factory=lambda: [PurposeSettings()],  # type: ignore[call-arg]
        min_length=1,
        description="Purposes of processing with their legal basis, as a list of "
        "{purpose, legal_basis} tables.")
    hosting_country: str = Field("FI", description="Country of the premises where the chat "
                                 "server and its local files (SQLite) are run.")
    processors: list[ProcessorSettings] = Field(
        default_factory=list,
        description="Processors acting for the controller, as [[privacy.processors]] tables "
        "{name, role, country, endpoint}. Every non-local database, Redis and SMTP host must "
        "be one of them.")
    authority: AuthoritySettings = Field(
        default_factory=AuthoritySettings)  # type: ignore[arg-type]
    collect_user_agent: bool = Field(False, description="Store the visitor's browser "
                                     "identification (user agent) with the conversation.")
    collect_page_url: bool = Field(False, description="Store the address of the page the "
                                   "chat was opened on (without its query and fragment) with "
                                   "the conversation.")
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings)  # type: ignore[arg-type]
    enforce_eu: bool = Field(True, description="Refuse to start when an external endpoint is "
                             "outside the EU/EEA or not declared as a processor.")
    purge_interval_minutes: float = Field(60.0, gt=0, le=24 * 60,
                                          description="How often the purge worker deletes "
                                          "data whose retention period has ended.")
    purge_batch_size: int = Field(2000, ge=10, le=100_000,
                                  description="Rows deleted per purge transaction; smaller "
                                  "batches keep each pause shorter.")

    @field_validator("hosting_country")
    @classmethod
    def _check_hosting_country(cls, value: str) -> str:
        return _country(value)

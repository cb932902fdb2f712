"""Renders the privacy notice from the settings and the features switched on.

Every sentence is a msgid in the Babel catalogs; operator-given names and addresses are inserted
as parameters. Numbers, country names and lists are formatted by Babel. Nothing here depends on
the clock, so the same configuration always renders the same text (and the same version).
The sections follow the Finnish register description (DESIGN.md §5.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from babel import Locale
from babel.lists import format_list
from babel.numbers import format_decimal

from chatserver.i18n import Translator
from chatserver.i18n import gettext_noop as _
from chatserver.settings import Settings
from chatserver.settings.privacy import EU_EEA

SECTION_IDS = ("controller", "contact", "register", "purpose", "data", "sources", "retention",
               "disclosures", "transfers", "security", "rights", "cookies")

TITLE = _("Privacy notice for the chat")
SECTION_TITLES = {
    "controller": _("Controller"),
    "contact": _("Contact person for matters concerning the register"),
    "register": _("Name of the register"),
    "purpose": _("Purpose and legal basis of processing"),
    "data": _("Data content of the register"),
    "sources": _("Regular sources of data"),
    "retention": _("Retention period"),
    "disclosures": _("Disclosures and processors"),
    "transfers": _("Transfers outside the EU/EEA"),
    "security": _("Principles of data security"),
    "rights": _("Your rights"),
    "cookies": _("Cookies"),
}
PURPOSE_TEXT = {
    "customer_service": _("Answering questions from visitors to the website and providing "
                          "customer service"),
    "sales": _("Answering enquiries about our products and services"),
    "support": _("Technical support for our products and services"),
    "feedback": _("Receiving and answering feedback"),
}
BASIS_TEXT = {
    "consent": _("consent (GDPR art. 6(1)(a))"),
    "contract": _("a contract or steps before entering into one (GDPR art. 6(1)(b))"),
    "legal_obligation": _("a legal obligation (GDPR art. 6(1)(c))"),
    "public_task": _("a task in the public interest (GDPR art. 6(1)(e))"),
    "legitimate_interests": _("the controller's legitimate interest in answering the questions "
                              "visitors ask (GDPR art. 6(1)(f))"),
}
ROLE_TEXT = {
    "hosting": _("server hosting"),
    "database": _("database service"),
    "email": _("email delivery"),
    "messaging": _("message relay between servers"),
    "backup": _("backups"),
    "other": _("other service"),
}


@dataclass(frozen=True)
class Features:
    """What the running server actually does with visitors' data."""

    transcript: bool = True
    offline_form: bool = True
    bot: bool = False
    rating: bool = False  # "How did we do?" when a chat ends (`[rating] enabled`, issue 22)


def features(settings: Settings) -> Features:
    """Read from the settings defensively: sections of other features may not exist yet."""
    smtp = getattr(settings, "smtp", None)
    transcript = bool(getattr(smtp, "transcripts", True)) if smtp is not None else True
    bot = bool(getattr(getattr(settings, "bot", None), "enabled", False))
    offline = bool(getattr(getattr(settings, "offline", None), "enabled", True))
    rating = bool(getattr(getattr(settings, "rating", None), "enabled", False))
    return Features(transcript=transcript, offline_form=offline, bot=bot, rating=rating)


class _Writer:
    def __init__(self, translator: Translator, language: str) -> None:
        self.translator, self.language = translator, language
        self.locale = Locale.parse(language)

    def __call__(self, msgid: str, **params: Any) -> str:
        text = self.translator.gettext(self.language, msgid)
        return text.format(**params) if params else text

    def period(self, days: int) -> str:
        if days == 1:
            return self(_("one day"))
        return self(_("{days} days"), days=format_decimal(days, locale=self.locale))

    def country(self, code: str) -> str:
        return str(self.locale.territories.get(code, code))

    def join(self, items: list[str]) -> str:
        return format_list(items, locale=self.locale) if items else ""


def _section(section_id: str, w: _Writer, paragraphs: list[str] | None = None,
             items: list[str] | None = None,
             fields: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    return {
        "id": section_id,
        "title": w(SECTION_TITLES[section_id]),
        "fields": [{"label": label, "value": value} for label, value in fields or [] if value],
        "paragraphs": paragraphs or [],
        "items": items or [],
    }


def storage_countries(settings: Settings) -> list[str]:
    codes = [settings.privacy.hosting_country]
    codes += [p.country for p in settings.privacy.processors]
    return sorted(set(codes))


def outside_eu(settings: Settings) -> list[str]:
    return [code for code in storage_countries(settings) if code not in EU_EEA]


def render(settings: Settings, feats: Features, translator: Translator,
           language: str) -> dict[str, Any]:
    """The full notice in one language: title, layered summary and the sections."""
    w = _Writer(translator, language)
    p = settings.privacy
    authority = p.authority.name or w(_("the Data Protection Ombudsman"))
    contact_email = p.contact.email or p.controller.email
    sections = [
        _section("controller", w, fields=[
            (w(_("Name")), p.controller.name), (w(_("Business ID")), p.controller.business_id),
            (w(_("Address")), p.controller.address), (w(_("Email")), p.controller.email),
            (w(_("Phone")), p.controller.phone)]),
        _section("contact", w, fields=[
            (w(_("Name")), p.contact.name), (w(_("Email")), contact_email),
            (w(_("Phone")), p.contact.phone)]),
        _section("register", w, paragraphs=[
            p.register_name or w(_("Customer service chat of {controller}"),
                                 controller=p.controller.name)]),
        _section("purpose", w, items=_purposes(w, settings, feats)),
        _section("data", w, paragraphs=[w(_("The register contains only the data listed "
                                            "below. Your IP address is not stored."))],
                 items=_data_items(w, settings, feats)),
        _section("sources", w, paragraphs=_sources(w, settings, feats)),
        _section("retention", w, items=_retention(w, settings, feats)),
        _section("disclosures", w, paragraphs=_disclosures(w, settings),
                 items=[w(_("{name}: {role}, {country}"), name=x.name, role=w(ROLE_TEXT[x.role]),
                          country=w.country(x.country)) for x in p.processors]),
        _section("transfers", w, paragraphs=_transfers(w, settings)),
        _section("security", w, items=_security(w, settings)),
        _section("rights", w, items=_rights(w, settings, feats, contact_email),
                 paragraphs=[w(_("You have the right to lodge a complaint with the supervisory "
                                 "authority: {authority}, {url}."),
                               authority=authority, url=p.authority.url)]),
        _section("cookies", w, paragraphs=[
            w(_("The chat sets no cookies and uses no analytics or tracking. Nothing is stored "
                "in your browser before you start a chat; then only a random resume key is kept "
                "in the browser's session storage, and it disappears when you close the tab."))]),
    ]
    return {"title": w(TITLE), "summary": summary_text(w, settings, feats), "sections": sections}


def summary_text(w: _Writer, settings: Settings, feats: Features) -> str:
    p = settings.privacy
    parts = [w(_("{controller} keeps your chat messages and deletes them {period} after the chat "
                 "ends. They are stored in: {countries}."), controller=p.controller.name,
               countries=w.join([w.country(c) for c in storage_countries(settings)]),
               period=w.period(p.retention.conversations)),
             w(_("No cookies, no tracking, and nothing about you is collected unless you give "
                 "it."))]
    if feats.transcript:
        parts.append(w(_("If you ask for the transcript by email, your address is kept only to "
                         "send it.")))
    if p.collect_user_agent or p.collect_page_url:
        parts.append(w(_("Your browser type or the page address may be stored with the chat; "
                         "see the full notice.")))
    parts.append(w(_("You can download or delete your conversation at any time.")))
    return " ".join(parts)


def _purposes(w: _Writer, settings: Settings, feats: Features) -> list[str]:
    items = [w(_("{purpose}; legal basis: {basis}."), purpose=w(PURPOSE_TEXT[x.purpose]),
               basis=w(BASIS_TEXT[x.legal_basis])) for x in settings.privacy.purposes]
    if feats.offline_form:
        items.append(w(_("Answering messages left with the offline form while no one is "
                         "available; legal basis: the same as for the chat.")))
    if feats.transcript:
        items.append(w(_("Emailing you the transcript of the conversation when you ask for it; "
                         "legal basis: consent (GDPR art. 6(1)(a)).")))
    if feats.rating:
        items.append(w(_("Asking how well we served you when the chat ends, to improve the "
                         "service; answering is voluntary.")))
    items.append(w(_("Logging access to the data to keep it secure; legal basis: a legal "
                     "obligation (GDPR art. 6(1)(c) and art. 32).")))
    return items


def _data_items(w: _Writer, settings: Settings, feats: Features) -> list[str]:
    p = settings.privacy
    items = [
        w(_("The messages written in the chat, and when they were sent")),
        w(_("The language of the chat and the version of this notice you accepted, with the "
            "time")),
        w(_("A hash of a random resume key, so that you can continue the chat after "
            "reloading the page")),
        w(_("The name the answering agent uses in the chat")),
        w(_("Notes our agents write about the conversation for one another; you do not see "
            "them in the chat, but you can ask us for them")),
        w(_("If you start a new chat in the same browser, a link to your previous chat, so "
            "that our agents see it while it is stored")),
    ]
    if feats.bot:
        items.append(w(_("The answers of the automatic assistant, as part of the conversation")))
    if feats.transcript:
        items.append(w(_("Your email address, if you ask for the transcript by email")))
    if feats.offline_form:
        items.append(w(_("Your name, email address and message, if you use the offline form")))
    if feats.rating:
        items.append(w(_("Your rating of the chat (1 to 5) and your comment on it, if you give "
                         "them")))
    if p.collect_user_agent:
        items.append(w(_("The identification of your browser and operating system (user "
                         "agent)")))
    if p.collect_page_url:
        items.append(w(_("The address of the web page on which you opened the chat")))
    return items


def _sources(w: _Writer, settings: Settings, feats: Features) -> list[str]:
    p = settings.privacy
    paragraphs = [w(_("The data comes from you, from what you write in the chat, and from the "
                      "controller's staff who answer you."))]
    if p.collect_user_agent or p.collect_page_url:
        paragraphs.append(w(_("Your browser sends the technical data listed above "
                              "automatically when the chat starts.")))
    if feats.bot:
        paragraphs.append(w(_("Some answers are given by an automatic assistant from prepared "
                              "answers. It makes no decisions about you.")))
    return paragraphs


def _retention(w: _Writer, settings: Settings, feats: Features) -> list[str]:
    r = settings.privacy.retention
    items = [w(_("A conversation and its messages are deleted {period} after it ends, or after "
                 "its last message if it was left open."), period=w.period(r.conversations))]
    if feats.transcript:
        items.append(w(_("The email address given for the transcript is deleted with the "
                         "conversation.")))
    if feats.rating:
        items.append(w(_("Your rating and comment are deleted with the conversation.")))
    if feats.offline_form:
        items.append(w(_("Messages left with the offline form are deleted {period} after they "
                         "arrive."), period=w.period(r.offline_messages)))
    if feats.transcript or feats.offline_form:
        items.append(w(_("An email the chat sends keeps its addresses and content only until "
                         "it is delivered; the record that it was sent, without them, is deleted "
                         "{period} later."),
                       period=w.period(r.sent_emails)))
    items.append(w(_("The access log, which holds no message text, is kept for {period}."),
                   period=w.period(r.audit_events)))
    items.append(w(_("Backups of the database are kept for {period}. What is erased stays "
                     "erased even if one of them is restored."),
                   period=w.period(r.backups)))
    return items


def _disclosures(w: _Writer, settings: Settings) -> list[str]:
    paragraphs = [w(_("Data is not disclosed to third parties, except to authorities when the "
                      "law requires it."))]
    if settings.privacy.processors:
        paragraphs.append(w(_("The following processors handle data on the controller's behalf "
                              "and only on its instructions:")))
    else:
        paragraphs.append(w(_("No processors are used: the controller runs the service on its "
                              "own premises.")))
    return paragraphs


def _transfers(w: _Writer, settings: Settings) -> list[str]:
    countries = w.join([w.country(c) for c in storage_countries(settings)])
    paragraphs = [w(_("The data is stored and processed in: {countries}."), countries=countries)]
    outside = outside_eu(settings)
    if outside:
        paragraphs.append(w(_("Data is transferred outside the EU/EEA, to: {countries}. Ask the "
                              "contact person about the safeguards used."),
                            countries=w.join([w.country(c) for c in outside])))
    else:
        paragraphs.append(w(_("Data is not transferred outside the European Union or the "
                              "European Economic Area.")))
    return paragraphs


def _security(w: _Writer, settings: Settings) -> list[str]:
    items = []
    if urlsplit(settings.public_url).scheme == "https":
        items.append(w(_("Connections to the chat are encrypted (HTTPS).")))
    items += [
        w(_("Agents sign in with personal accounts; passwords are stored only as strong "
            "hashes.")),
        w(_("Every reading, export and deletion of a conversation is logged.")),
        w(_("Data whose retention period has ended is deleted automatically.")),
    ]
    if settings.is_sqlite:
        items.append(w(_("Deleted data is overwritten in the database file.")))
    return items


def _rights(w: _Writer, settings: Settings, feats: Features, contact: str) -> list[str]:
    items = [
        w(_("Right of access and to data portability: you can download your conversation as a "
            "file from the chat window at any time.")),
        w(_("Right to erasure: you can delete your conversation from the chat window at any "
            "time.")),
        w(_("Right to rectification, to restriction of processing and to object: contact "
            "{email}."), email=contact),
    ]
    if feats.transcript or feats.offline_form:
        items.append(w(_("The controller can also find, export and delete everything tied to "
                         "your email address: write to {email}."), email=contact))
    if feats.transcript:
        items.append(w(_("You can withdraw your consent to the transcript email at any time by "
                         "deleting the conversation.")))
    return items

"""JSON Schemas of the REST API's success bodies, for the OpenAPI document (openapi.py).

They follow the views in services/views.py and the handlers; tests/test_api_fuzz.py checks every
response Schemathesis provokes against them, so a change of shape that is not written here fails
there. Objects stay open (extra keys allowed) so that adding a field is not a breaking change.
"""

from __future__ import annotations

from typing import Any

from chatserver.services.archive import STATES

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
TIME: Schema = {"type": "string", "format": "date-time"}
MAYBE_TIME: Schema = {"type": ["string", "null"], "format": "date-time"}
MAYBE_STRING: Schema = {"type": ["string", "null"]}
LANGUAGE: Schema = {"enum": ["fi", "sv", "en"]}
HEX_ID: Schema = {"type": "string", "pattern": "^[0-9a-f]{32}$"}


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    return {"type": "object", "required": list(required),
            "properties": {**required, **(optional or {})}}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def ok(**properties: Schema) -> Schema:
    """A success body: `{"ok": true, ...}` with these keys required."""
    return obj({"ok": {"const": True}, **properties})


AGENT = obj({"id": {"type": "integer"}, "email": STRING, "name": STRING,
             "role": {"enum": ["admin", "agent"]}, "language": LANGUAGE,
             "presence": STRING, "disabled": {"type": "boolean"}})
MESSAGE = obj({"id": HEX_ID, "conversation_id": HEX_ID, "seq": {"type": "integer"},
               "author": obj({"kind": {"enum": ["visitor", "agent", "system", "bot"]}},
                             {"name": STRING}),
               "text": STRING, "created_at": TIME})
CONVERSATION = obj(
    {"id": HEX_ID, "state": {"enum": list(STATES)}, "language": LANGUAGE,
     "agent": {"oneOf": [{"type": "null"},
                         obj({"id": {"type": "integer"}, "name": STRING})]},
     "last_seq": {"type": "integer"}, "notice_version": MAYBE_STRING,
     "created_at": TIME, "queued_at": MAYBE_TIME, "claimed_at": MAYBE_TIME,
     "closed_at": MAYBE_TIME, "last_activity_at": MAYBE_TIME},
    {"page_url": STRING, "user_agent": STRING},
)
NOTE = obj({"id": HEX_ID, "conversation_id": HEX_ID, "after_seq": {"type": "integer"},
            "author": obj({"kind": {"const": "agent"}}, {"name": STRING}),
            "text": STRING, "created_at": TIME})
# What the FAQ assistant did in a conversation (while it is on; docs/protocol.md).
ASSISTANT_ACTION = obj({"seq": {"type": "integer"}, "message_id": HEX_ID,
                        "kind": {"enum": ["answer", "choices", "unsure", "handoff"]},
                        "entry_id": MAYBE_STRING, "title": MAYBE_STRING,
                        "confidence": {"type": "number"}})
CONVERSATION_WITH_MESSAGES: Schema = {
    **CONVERSATION,
    "required": [*CONVERSATION["required"], "messages", "notes"],
    "properties": {**CONVERSATION["properties"], "messages": array(MESSAGE),
                   "notes": array(NOTE), "assistant": array(ASSISTANT_ACTION)},
}
SEARCH_RESULT = obj({"kind": {"enum": ["message", "note"]}, "id": HEX_ID,
                     "conversation_id": HEX_ID, "seq": {"type": "integer"},
                     "author": obj({"kind": {"enum": ["visitor", "agent", "system", "bot"]}},
                                   {"name": STRING}),
                     "language": LANGUAGE, "created_at": TIME,
                     "snippet": array(obj({"text": STRING, "match": {"type": "boolean"}}))})
# "" logged in; "second_factor": a one-time code is due; "enrol": codes must be set up first.
STAGE: Schema = {"enum": ["", "second_factor", "enrol"]}
OBJECT: Schema = {"type": "object"}
# The second factors an agent at the login's second step may use.
FACTORS = array({"enum": ["totp", "passkey"]})
PASSKEY = obj({"id": {"type": "integer"}, "name": STRING, "created_at": TIME,
               "last_used_at": MAYBE_TIME})
SESSION = obj({"id": HEX_ID, "started_at": TIME, "last_used_at": TIME, "client": STRING,
               "current": {"type": "boolean"}})
API_TOKEN = obj({"id": {"type": "integer"}, "name": STRING, "scope": {"enum": ["full", "read"]},
                 "created_at": TIME, "expires_at": MAYBE_TIME, "last_used_at": MAYBE_TIME})
CANNED = obj({"id": {"type": "integer"}, "language": LANGUAGE,
              "shortcut": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,39}$"},
              "text": STRING, "created_at": TIME})
EMAIL_STATUS: Schema = {"enum": ["pending", "sent", "failed"]}
REPLY = obj({"id": HEX_ID, "status": EMAIL_STATUS, "created_at": TIME, "sent_at": MAYBE_TIME,
             "last_error": MAYBE_STRING})
OFFLINE_MESSAGE = obj({"id": HEX_ID, "language": LANGUAGE, "name": STRING, "email": STRING,
                       "text": STRING, "created_at": TIME, "handled_at": MAYBE_TIME,
                       "handled_by": {"type": ["integer", "null"]}, "replies": array(REPLY)})
EMAIL = obj({"id": HEX_ID, "kind": STRING, "to": STRING, "subject": STRING,
             "status": EMAIL_STATUS, "attempts": {"type": "integer"},
             "last_error": MAYBE_STRING, "created_at": TIME, "next_attempt_at": MAYBE_TIME,
             "sent_at": MAYBE_TIME, "conversation_id": {"type": ["string", "null"]},
             "offline_message_id": {"type": ["string", "null"]}})
AUDIT_EVENT = obj({"id": {"type": "integer"}, "at": TIME,
                   "actor": obj({"kind": STRING, "id": MAYBE_STRING}, {"name": STRING}),
                   "action": STRING,
                   "target": {"oneOf": [{"type": "null"},
                                        obj({"kind": STRING, "id": MAYBE_STRING})]},
                   "detail": {"type": "object"}})
STRINGS: Schema = {"type": "object", "additionalProperties": STRING}
NOTICE_SUMMARY = obj({"version": STRING, "title": STRING, "summary": STRING, "url": STRING})
FOUND = {"conversations": array(obj({"id": HEX_ID, "state": STRING, "created_at": TIME,
                                     "closed_at": MAYBE_TIME, "messages": {"type": "integer"}})),
         "offline_messages": array(obj({"id": HEX_ID, "created_at": TIME,
                                        "handled_at": MAYBE_TIME})),
         "emails": array(obj({"id": HEX_ID, "kind": STRING, "status": EMAIL_STATUS,
                              "created_at": TIME}))}
EXPORT = obj({"format": STRING, "email": STRING, "exported_at": TIME,
              "conversations": array(obj({"id": HEX_ID, "messages": array(MESSAGE)})),
              "offline_messages": array(obj({"id": HEX_ID, "text": STRING})),
              "emails": array(obj({"id": HEX_ID, "to": MAYBE_STRING})),
              "access_log": array(obj({"at": TIME, "action": STRING}))})
COUNTS = obj({"conversations": {"type": "integer"}, "offline_messages": {"type": "integer"},
              "emails": {"type": "integer"}})
# The figures of GET /api/v1/reports (services/reports.py `_summary`).
NUMBER_OR_NULL: Schema = {"type": ["number", "null"]}
HISTOGRAM = obj({"count": {"type": "integer"}, "p50": NUMBER_OR_NULL, "p90": NUMBER_OR_NULL,
                 "buckets": array({"type": "integer"})})
FIGURES = obj({"started": {"type": "integer"}, "handed_off": {"type": "integer"},
               "claimed": {"type": "integer"}, "assistant_solved": {"type": "integer"},
               "closed": {"type": "integer"}, "offline_messages": {"type": "integer"},
               "messages": {"type": "object"}, "wait": HISTOGRAM, "first_response": HISTOGRAM,
               "duration": HISTOGRAM, "ratings": {"type": "object"},
               "rating_average": NUMBER_OR_NULL})
REPORT = obj({"from": {"type": "string", "format": "date"},
              "to": {"type": "string", "format": "date"},
              "language": {"type": ["string", "null"]}, "agent_id": {"type": ["integer", "null"]},
              "time_zone": STRING, "bounds": {"type": "object"}, "total": FIGURES,
              "days": array({"allOf": [FIGURES, obj({"day": STRING})]}),
              "heatmap": array(array({"type": "integer"})),
              "agents": array({"allOf": [FIGURES, obj({"agent_id": {"type": "integer"},
                                                       "name": STRING})]})})
CLOCK_OR_NULL: Schema = {"type": ["string", "null"]}
HOURS = obj({"weekly": array(obj({"weekday": {"type": "integer"}, "opens": STRING,
                                  "closes": STRING})),
             "exceptions": array(obj({"date": STRING, "opens": CLOCK_OR_NULL,
                                      "closes": CLOCK_OR_NULL})),
             "time_zone": STRING, "open": {"type": "boolean"}})
DAYS: Schema = {"type": "object", "additionalProperties": {"type": ["integer", "null"]}}

# The FAQ editor (issue 23): entries in the FAQ file's shape, labelled questions, scores.
LABELLED = obj({"language": LANGUAGE, "question": STRING, "expected": STRING})
SCORE = obj({"languages": {"type": "object", "additionalProperties": obj(
    {"right": {"type": "integer"}, "wrong": {"type": "integer"},
     "handed_off": {"type": "integer"}})},
    "right": {"type": "integer"}, "total": {"type": "integer"}, "misses": array(OBJECT)})
OUTCOME = obj({"kind": {"enum": ["answer", "choices", "unsure", "handoff"]},
               "entry_id": MAYBE_STRING, "title": MAYBE_STRING, "confidence": {"type": "number"},
               "answer": MAYBE_STRING,
               "candidates": array(obj({"id": STRING, "title": STRING,
                                        "coverage": {"type": "number"}}))})
SAVED = {"version": {"type": "integer"}, "before": SCORE, "after": SCORE}
REVIEW_ITEM = obj({"id": HEX_ID, "language": LANGUAGE, "kind": STRING, "entry_id": MAYBE_STRING,
                   "confidence": {"type": "number"}, "created_at": TIME, "text": STRING,
                   "flags": array({"enum": ["email", "phone", "digits"]})})

# The success body of each operation, by (method, path).
RESPONSES: dict[tuple[str, str], Schema] = {
    ("get", "/api/v1/widget/config"): obj({
        "language": LANGUAGE, "languages": array(LANGUAGE), "notice": NOTICE_SUMMARY,
        "online": {"type": "boolean"},
        "features": obj({"transcript": {"type": "boolean"}, "offline_form": {"type": "boolean"},
                         "bot": {"type": "boolean"}}),
        "limits": obj({"max_message_chars": {"type": "integer"}}), "strings": STRINGS}),
    ("get", "/api/v1/privacy-notice"): ok(current={"type": "boolean"}, version=STRING,
                                          language=LANGUAGE, published_at=MAYBE_TIME),
    ("post", "/api/v1/auth/login"): ok(agent=AGENT, csrf_token=STRING, stage=STAGE,
                                       factors=FACTORS),
    ("post", "/api/v1/auth/logout"): ok(),
    ("get", "/api/v1/auth/me"): ok(agent=AGENT, csrf_token=MAYBE_STRING, stage=STAGE,
                                   factors=FACTORS),
    ("post", "/api/v1/auth/verify"): ok(agent=AGENT, stage={"const": ""}),
    ("get", "/api/v1/auth/second-factor"): ok(enabled={"type": "boolean"},
                                               recovery_codes_left={"type": "integer"},
                                               required={"type": "boolean"}),
    ("post", "/api/v1/auth/second-factor/start"): ok(secret=STRING, uri=STRING, qr=STRING),
    ("post", "/api/v1/auth/second-factor/confirm"): ok(recovery_codes=array(STRING)),
    ("delete", "/api/v1/auth/second-factor"): ok(),
    ("post", "/api/v1/agents/{agent_id}/second-factor/reset"): ok(),
    ("post", "/api/v1/auth/passkey-options"): ok(handle=HEX_ID, options=OBJECT),
    ("post", "/api/v1/auth/passkeys"): ok(passkey=PASSKEY),
    ("get", "/api/v1/auth/passkeys"): ok(passkeys=array(PASSKEY)),
    ("delete", "/api/v1/auth/passkeys/{passkey_id}"): ok(),
    ("post", "/api/v1/auth/passkey-login/options"): ok(handle=HEX_ID, options=OBJECT),
    ("post", "/api/v1/auth/passkey-login"): ok(agent=AGENT, csrf_token=STRING, stage=STAGE),
    ("post", "/api/v1/auth/verify/passkey-options"): ok(handle=HEX_ID, options=OBJECT),
    ("post", "/api/v1/auth/verify/passkey"): ok(agent=AGENT, stage=STAGE),
    ("get", "/api/v1/auth/sessions"): ok(sessions=array(SESSION)),
    ("delete", "/api/v1/auth/sessions/{session_id}"): ok(),
    ("post", "/api/v1/auth/logout-everywhere"): ok(),
    ("get", "/api/v1/auth/tokens"): ok(tokens=array(API_TOKEN)),
    ("delete", "/api/v1/auth/tokens/{token_id}"): ok(),
    ("get", "/api/v1/console/strings"): ok(language=LANGUAGE, languages=array(LANGUAGE),
                                           strings=STRINGS),
    ("get", "/api/v1/conversations"): ok(conversations=array(CONVERSATION)),
    ("get", "/api/v1/conversations/{conversation_id}"): ok(
        conversation=CONVERSATION_WITH_MESSAGES),
    ("get", "/api/v1/search"): ok(results=array(SEARCH_RESULT), limit={"type": "integer"}),
    ("get", "/api/v1/agents"): ok(agents=array(AGENT)),
    ("post", "/api/v1/agents"): ok(agent=AGENT),
    ("patch", "/api/v1/agents/{agent_id}"): ok(agent=AGENT),
    ("post", "/api/v1/agents/{agent_id}/password"): ok(),
    ("get", "/api/v1/canned-responses"): ok(canned_responses=array(CANNED)),
    ("post", "/api/v1/canned-responses"): ok(canned_response=CANNED),
    ("put", "/api/v1/canned-responses/{canned_id}"): ok(canned_response=CANNED),
    ("delete", "/api/v1/canned-responses/{canned_id}"): ok(),
    ("get", "/api/v1/offline-messages"): ok(offline_messages=array(OFFLINE_MESSAGE)),
    ("post", "/api/v1/offline-messages/{message_id}/handled"): ok(),
    ("post", "/api/v1/offline-messages/{message_id}/reply"): ok(
        email=obj({"id": HEX_ID, "status": EMAIL_STATUS})),
    ("get", "/api/v1/outbox"): ok(emails=array(EMAIL)),
    ("get", "/api/v1/dsar"): ok(email=STRING, **FOUND),
    ("post", "/api/v1/dsar/export"): ok(data=EXPORT),
    ("post", "/api/v1/dsar/erase"): ok(erased=COUNTS),
    ("get", "/api/v1/audit"): ok(events=array(AUDIT_EVENT), actions=array(STRING)),
    ("get", "/api/v1/retention"): ok(
        retention_days=DAYS,
        collected=obj({"user_agent": {"type": "boolean"}, "page_url": {"type": "boolean"}})),
    ("get", "/api/v1/faq"): ok(
        source={"enum": ["file", "database", "example"]}, read_only={"type": "boolean"},
        read_only_reason=MAYBE_STRING, version={"type": ["integer", "null"]},
        saved_at=MAYBE_TIME, saved_by=MAYBE_STRING, entries=array(OBJECT),
        labelled=array(LABELLED)),
    ("put", "/api/v1/faq"): ok(**SAVED),
    ("post", "/api/v1/faq/try"): ok(draft=OUTCOME, live=OUTCOME),
    ("post", "/api/v1/faq/evaluate"): ok(before=SCORE, after=SCORE),
    ("get", "/api/v1/faq/review"): ok(groups=array(obj(
        {"entry_id": MAYBE_STRING, "title": MAYBE_STRING, "wording": MAYBE_STRING,
         "items": array(REVIEW_ITEM)}))),
    ("post", "/api/v1/faq/review/{message_id}"): ok(
        saved={"oneOf": [{"type": "null"}, obj(SAVED)]}),
    ("get", "/api/v1/reports"): ok(report=REPORT),
    ("get", "/api/v1/business-hours"): ok(hours=HOURS),
    ("put", "/api/v1/business-hours"): ok(hours=HOURS),
    ("get", "/api/v1/openapi.json"): obj({"openapi": STRING, "info": {"type": "object"},
                                          "paths": {"type": "object"}}),
}

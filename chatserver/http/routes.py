"""Every HTTP route in one table."""

from __future__ import annotations

from aiohttp import web

from chatserver.http import admin as admin_api
from chatserver.http import (
    api,
    auth,
    console,
    dsar,
    faq,
    hours,
    offline,
    openapi,
    ops,
    passkeys,
    privacy,
    public,
    reports,
    widget,
)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", public.demo_page)
    app.router.add_get("/widget.js", widget.widget_js)
    app.router.add_get("/healthz", public.healthz)
    app.router.add_get("/readyz", ops.readyz)
    app.router.add_get("/metrics", ops.metrics)
    app.router.add_get("/privacy", privacy.notice_page)
    app.router.add_get("/api/v1/privacy-notice", privacy.notice_json)
    app.router.add_get("/api/v1/dsar", dsar.find)
    app.router.add_post("/api/v1/dsar/export", dsar.export)
    app.router.add_post("/api/v1/dsar/erase", dsar.erase)
    app.router.add_get("/api/v1/widget/config", public.widget_config)
    app.router.add_route("OPTIONS", "/api/v1/widget/config", widget.preflight)  # CORS
    app.router.add_post("/api/v1/auth/login", auth.login)
    app.router.add_post("/api/v1/auth/logout", auth.logout)
    app.router.add_get("/api/v1/auth/me", auth.me)
    app.router.add_post("/api/v1/auth/verify", auth.verify)
    app.router.add_get("/api/v1/auth/second-factor", auth.second_factor_status)
    app.router.add_post("/api/v1/auth/second-factor/start", auth.second_factor_start)
    app.router.add_post("/api/v1/auth/second-factor/confirm", auth.second_factor_confirm)
    app.router.add_delete("/api/v1/auth/second-factor", auth.second_factor_remove)
    app.router.add_post("/api/v1/agents/{agent_id}/second-factor/reset",
                        admin_api.reset_second_factor)
    app.router.add_post("/api/v1/auth/passkey-options", passkeys.registration_options)
    app.router.add_post("/api/v1/auth/passkeys", passkeys.register)
    app.router.add_get("/api/v1/auth/passkeys", passkeys.list_passkeys)
    app.router.add_delete("/api/v1/auth/passkeys/{passkey_id}", passkeys.remove)
    app.router.add_post("/api/v1/auth/passkey-login/options", passkeys.login_options)
    app.router.add_post("/api/v1/auth/passkey-login", passkeys.login)
    app.router.add_post("/api/v1/auth/verify/passkey-options", passkeys.second_step_options)
    app.router.add_post("/api/v1/auth/verify/passkey", passkeys.second_step)
    app.router.add_get("/api/v1/auth/sessions", auth.list_sessions)
    app.router.add_delete("/api/v1/auth/sessions/{session_id}", auth.end_session)
    app.router.add_post("/api/v1/auth/logout-everywhere", auth.logout_everywhere)
    app.router.add_get("/api/v1/auth/tokens", auth.list_tokens)
    app.router.add_delete("/api/v1/auth/tokens/{token_id}", auth.revoke_token)
    app.router.add_get("/api/v1/conversations", api.list_conversations)
    app.router.add_get("/api/v1/search", api.search_conversations)
    app.router.add_get("/api/v1/conversations/{conversation_id}", api.get_conversation)
    app.router.add_get("/api/v1/agents", api.list_agents)
    app.router.add_post("/api/v1/agents", api.create_agent)
    app.router.add_get("/api/v1/offline-messages", offline.list_offline_messages)
    app.router.add_post("/api/v1/offline-messages/{message_id}/handled",
                        offline.mark_offline_message_handled)
    app.router.add_post("/api/v1/offline-messages/{message_id}/reply",
                        offline.reply_to_offline_message)
    app.router.add_get("/api/v1/outbox", offline.list_outbox)
    # The agent console and its admin REST (docs/console.md).
    app.router.add_get("/console", console.console_page)
    app.router.add_get("/console/{tail:.*}", console.console_page)
    app.router.add_get("/console.js", console.console_asset)
    app.router.add_get("/console.css", console.console_asset)
    app.router.add_get("/api/v1/console/strings", console.strings)
    app.router.add_patch("/api/v1/agents/{agent_id}", admin_api.update_agent)
    app.router.add_post("/api/v1/agents/{agent_id}/password", admin_api.reset_password)
    app.router.add_get("/api/v1/canned-responses", admin_api.list_canned)
    app.router.add_post("/api/v1/canned-responses", admin_api.create_canned)
    app.router.add_put("/api/v1/canned-responses/{canned_id}", admin_api.update_canned)
    app.router.add_delete("/api/v1/canned-responses/{canned_id}", admin_api.delete_canned)
    app.router.add_get("/api/v1/audit", admin_api.list_audit)
    app.router.add_get("/api/v1/retention", admin_api.retention)
    app.router.add_get("/api/v1/reports", reports.get_reports)  # issue 22
    app.router.add_get("/api/v1/business-hours", hours.get_hours)
    app.router.add_put("/api/v1/business-hours", hours.put_hours)
    app.router.add_get("/api/v1/openapi.json", openapi.openapi_json)
    # The FAQ editor and the review list (docs/bot.md).
    app.router.add_get("/api/v1/faq", faq.get_faq)
    app.router.add_put("/api/v1/faq", faq.save_faq)
    app.router.add_post("/api/v1/faq/try", faq.try_faq)
    app.router.add_post("/api/v1/faq/evaluate", faq.evaluate_faq)
    app.router.add_get("/api/v1/faq/review", faq.review_list)
    app.router.add_post("/api/v1/faq/review/{message_id}", faq.review_act)

"""The console's REST and pages without a browser: strings, CSP, admin-only answers, agents
(role, disable, password), canned responses, the audit log filters and the retention view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from chatserver.services.console_strings import CONSOLE_STRINGS
from tests.helpers import Chat

ADMIN = "admin@example.fi"
ANNA = "anna@example.fi"


async def _admin(chat: Chat) -> tuple[aiohttp.ClientSession, dict[str, str]]:
    await chat.add_agent(ADMIN, "Aada", role="admin")
    http = await chat.login(ADMIN)
    return http, {"X-CSRF-Token": http.headers_csrf}  # type: ignore[attr-defined]


async def _json(response: aiohttp.ClientResponse) -> Any:
    return await response.json()


async def test_console_page_headers_strings_and_admin_paths(chat: Chat) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{chat.url}/console?lang=sv") as response:
            assert response.status == 200
            csp = response.headers["Content-Security-Policy"]
            assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
            assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
            assert response.headers["X-Frame-Options"] == "DENY"
            html = await response.text()
            assert '<html lang="sv">' in html and "<script>" not in html
            assert "<title>Kundtjänstkonsol</title>" in html
        async with http.get(f"{chat.url}/console/admin/agents") as response:
            assert response.status == 200  # not logged in: the login page
        for lang, title in [("fi", "Asiakaspalvelukonsoli"), ("sv", "Kundtjänstkonsol"),
                            ("en", "Customer service console")]:
            async with http.get(f"{chat.url}/api/v1/console/strings?lang={lang}") as response:
                body = await _json(response)
            assert body["language"] == lang and body["strings"]["title"] == title
            assert set(body["strings"]) == set(CONSOLE_STRINGS)
    await chat.add_agent(ANNA, "Anna")
    anna = await chat.login(ANNA)
    async with anna.get(f"{chat.url}/console/admin/audit") as response:
        assert response.status == 403
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    async with anna.get(f"{chat.url}/console/history") as response:
        assert response.status == 200


async def test_admin_changes_roles_disables_and_resets_passwords(chat: Chat) -> None:
    http, csrf = await _admin(chat)
    anna = await chat.add_agent(ANNA, "Anna")
    anna_http = await chat.login(ANNA)
    url = f"{chat.url}/api/v1/agents/{anna.id}"
    async with http.patch(url, json={"role": "admin"}, headers=csrf) as response:
        body = await _json(response)
        assert response.status == 200 and body["agent"]["role"] == "admin", body
    async with anna_http.get(f"{chat.url}/api/v1/audit") as response:
        assert response.status == 200  # the new role counts on the next request
    async with http.patch(url, json={"role": "agent", "disabled": True}, headers=csrf) as r:
        body = await _json(r)
        assert body["agent"]["disabled"] is True and body["agent"]["role"] == "agent"
    async with anna_http.get(f"{chat.url}/api/v1/conversations") as response:
        assert response.status == 401  # disabling ended the session
    async with http.patch(url, json={"disabled": False}, headers=csrf) as response:
        assert (await _json(response))["agent"]["disabled"] is False
    async with http.post(f"{url}/password", json={"password": "short"}, headers=csrf) as r:
        assert r.status == 400 and "too short" in (await _json(r))["error"]["message"]
    async with http.post(f"{url}/password", json={"password": "a new long password"},
                         headers=csrf) as response:
        assert response.status == 200
    await chat.login(ANNA, "a new long password")
    admin_id = (await _json(await http.get(f"{chat.url}/api/v1/auth/me")))["agent"]["id"]
    for body in ({"disabled": True}, {"role": "agent"}):
        async with http.patch(f"{chat.url}/api/v1/agents/{admin_id}", json=body,
                              headers=csrf) as response:
            assert response.status == 403, body
            assert "your own" in (await _json(response))["error"]["message"]
    async with http.patch(f"{chat.url}/api/v1/agents/999", json={"role": "agent"},
                          headers=csrf) as response:
        assert response.status == 404
    async with http.patch(url, json={"role": "boss"}, headers=csrf) as response:
        assert response.status == 400
    async with http.patch(url, json={"role": "agent"}) as response:
        assert response.status == 403  # no CSRF token
    async with http.get(f"{chat.url}/api/v1/audit?action=agent") as response:
        actions = [e["action"] for e in (await _json(response))["events"]]
    assert {"agent.role", "agent.disable", "agent.enable", "agent.password",
            "agent.create"} <= set(actions)


async def test_canned_responses_crud(chat: Chat) -> None:
    http, csrf = await _admin(chat)
    base = f"{chat.url}/api/v1/canned-responses"
    async with http.post(base, json={"language": "fi", "shortcut": "/Hei", "text": " Hei! "},
                         headers=csrf) as response:
        created = (await _json(response))["canned_response"]
        assert response.status == 201
    assert created["shortcut"] == "hei" and created["text"] == "Hei!"
    async with http.post(base, json={"language": "fi", "shortcut": "hei", "text": "x"},
                         headers=csrf) as response:
        assert response.status == 409
    for bad in ({"language": "de", "shortcut": "a", "text": "x"},
                {"language": "fi", "shortcut": "ei sallittu", "text": "x"},
                {"language": "fi", "shortcut": "a", "text": "   "}):
        async with http.post(base, json=bad, headers=csrf) as response:
            assert response.status == 400, bad
    async with http.post(base, json={"language": "sv", "shortcut": "hei", "text": "Hej!"},
                         headers=csrf) as response:
        assert response.status == 201
    async with http.put(f"{base}/{created['id']}", json={"language": "fi", "shortcut": "moi",
                                                         "text": "Moi!"}, headers=csrf) as r:
        assert (await _json(r))["canned_response"]["shortcut"] == "moi"
    await chat.add_agent(ANNA, "Anna")
    anna = await chat.login(ANNA)
    async with anna.get(f"{base}?language=fi") as response:
        items = (await _json(response))["canned_responses"]
    assert [(i["shortcut"], i["text"]) for i in items] == [("moi", "Moi!")]
    async with http.delete(f"{base}/{created['id']}", headers=csrf) as response:
        assert response.status == 200
    async with http.delete(f"{base}/{created['id']}", headers=csrf) as response:
        assert response.status == 404
    async with http.get(base) as response:
        assert [i["language"] for i in (await _json(response))["canned_responses"]] == ["sv"]


async def test_audit_log_filters_by_actor_action_and_date(chat: Chat) -> None:
    http, _csrf = await _admin(chat)
    anna = await chat.add_agent(ANNA, "Anna")
    await chat.login(ANNA)
    async with aiohttp.ClientSession() as anonymous:
        await anonymous.post(f"{chat.url}/api/v1/auth/login",
                             json={"email": ANNA, "password": "wrong password"})
    audit = f"{chat.url}/api/v1/audit"
    async with http.get(f"{audit}?actor={anna.id}") as response:
        body = await _json(response)
    assert {e["action"] for e in body["events"]} == {"login", "login.failed"}
    assert all(e["actor"]["name"] == "Anna" for e in body["events"])
    assert "login" in body["actions"] and "agent.create" in body["actions"]
    async with http.get(f"{audit}?actor={anna.id}&action=login") as response:
        assert len((await _json(response))["events"]) == 2
    async with http.get(f"{audit}?actor={anna.id}&action=login.failed") as response:
        assert len((await _json(response))["events"]) == 1
    async with http.get(f"{audit}?actor=cli") as response:
        events = (await _json(response))["events"]  # the agents were made by the test's "CLI"
    assert {e["action"] for e in events} == {"agent.create"}
    today = datetime.now(UTC).date()
    tomorrow = today + timedelta(days=1)
    async with http.get(f"{audit}?since={tomorrow}") as response:
        assert (await _json(response))["events"] == []
    async with http.get(f"{audit}?since={today}&until={today}&limit=2") as response:
        first = (await _json(response))["events"]
    assert len(first) == 2 and first[0]["id"] > first[1]["id"]
    async with http.get(f"{audit}?before={first[1]['id']}&limit=500") as response:
        older = (await _json(response))["events"]
    assert older and all(e["id"] < first[1]["id"] for e in older)
    for bad in ("since=yesterday", "actor=nobody", "limit=0", "before=x"):
        async with http.get(f"{audit}?{bad}") as response:
            assert response.status == 400, bad


async def test_retention_in_force_is_shown_read_only(chat_factory: Any) -> None:
    chat = await chat_factory(privacy={"retention": {"conversations": 30}})
    http, csrf = await _admin(chat)
    async with http.get(f"{chat.url}/api/v1/retention") as response:
        body = await _json(response)
    assert body["retention_days"] == {"conversations": 30, "offline_messages": 60,
                                      "sent_emails": 7, "audit_events": 365, "backups": 35,
                                      "reports": 730}
    assert body["collected"] == {"user_agent": False, "page_url": False}
    async with http.post(f"{chat.url}/api/v1/retention", json={}, headers=csrf) as response:
        assert response.status == 405

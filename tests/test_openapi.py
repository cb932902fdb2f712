"""The OpenAPI document describes every REST route the server really has, with the request
bodies the handlers really validate."""

from __future__ import annotations

import aiohttp

from tests.helpers import Chat


async def test_openapi_document_lists_every_api_route(chat: Chat) -> None:
    async with aiohttp.ClientSession() as http, http.get(
        f"{chat.url}/api/v1/openapi.json"
    ) as response:
        assert response.status == 200
        document = await response.json()
    assert document["openapi"].startswith("3.")
    served = set()
    for resource in chat.app.router.resources():
        path = resource.canonical
        if not path.startswith("/api/v1/"):
            continue
        for route in resource:
            if route.method not in ("HEAD", "OPTIONS"):
                served.add((route.method.lower(), path))
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    assert served == documented
    login = document["paths"]["/api/v1/auth/login"]["post"]
    schema = login["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) == {"email", "password"}
    assert schema["additionalProperties"] is False
    assert document["paths"]["/api/v1/agents"]["post"]["x-access"] == "admin"

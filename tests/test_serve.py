"""`make run` in miniature: the real `chatserver serve --migrate --demo` process, the printed
demo login, and a visitor and an agent (logged in through the API) chatting both ways."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp

from tests.helpers import Client, free_port


async def test_served_demo_agent_and_visitor_chat_both_ways(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "CHATSERVER_DATA_DIR": str(tmp_path), "CHATSERVER_PORT": str(port)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatserver", "serve", "--migrate", "--demo",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
    )
    try:
        assert process.stdout is not None
        login = None
        output = ""
        while login is None:
            line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
            assert line, f"server exited early:\n{output}"
            output += line
            login = re.search(r"Demo agent login: (\S+) / (\S+)", line)
        email, password = login.group(1), login.group(2)
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"{url}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            async with http.get(f"{url}/") as page:
                assert "/widget.js" in await page.text()
            async with http.post(f"{url}/api/v1/auth/login",
                                 json={"email": email, "password": password}) as response:
                assert response.status == 200
                cookie = response.cookies["chatserver_session"].value
            async with http.get(f"{url}/api/v1/widget/config?lang=en") as response:
                version = (await response.json())["notice"]["version"]

        agent = Client("/agent")
        await agent.connect(url, headers={"Cookie": f"chatserver_session={cookie}"})
        await agent.next("welcome")
        visitor = Client("/visitor")
        await visitor.connect(url, auth={"notice_version": version, "lang": "en"})
        await visitor.next("welcome")
        opened = await visitor.call("message", {"client_id": "1", "text": "Is my order shipped?"})
        conversation_id = opened["conversation"]["id"]
        claimed = await agent.call("claim", {"conversation_id": conversation_id})
        assert claimed["conversation"]["messages"][0]["text"] == "Is my order shipped?"
        await agent.call("message", {"conversation_id": conversation_id, "client_id": "a",
                                     "text": "Yes, this morning."})
        reply = await visitor.next("message", where=lambda m: m["author"]["kind"] == "agent")
        assert reply["text"] == "Yes, this morning."
        for client in (agent.sio, visitor.sio):
            await client.disconnect()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()

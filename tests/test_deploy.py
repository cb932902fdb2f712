"""deploy/: every CHATSERVER_* variable and TOML key the deployment files set is a real setting,
their values load, and every file they name exists; and deploy/nginx.conf runs in a real nginx
in front of a real node.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import tomllib
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel

from chatserver.services.privacy import residency
from chatserver.settings import ENV_PREFIX, Settings, load_settings
from tests.helpers import Chat, Client, free_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
FILES = ["Dockerfile", "compose.yaml", "nginx.conf", "chatserver.service", "config.example.toml"]
DOCS = ROOT / "docs" / "deployment.md"
# Not a setting: names the TOML file itself (chatserver.settings.load_settings).
SPECIAL_VARIABLES = {ENV_PREFIX + "CONFIG"}
# Files the operator creates by following the instructions (not shipped).
CREATED_BY_OPERATOR = {"deploy/.env"}
VARIABLE = re.compile(r"\b(CHATSERVER_[A-Z0-9_]*[A-Z0-9])\b")


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        return item if isinstance(item, type) and issubclass(item, BaseModel) else None
    return None


def setting_exists(path: list[str]) -> bool:
    """`["presence", "timeout_seconds"]` names a field of Settings (walking nested models)."""
    model: type[BaseModel] | None = Settings
    for depth, part in enumerate(path):
        if model is None or part not in model.model_fields:
            return False
        nested = _model_of(model.model_fields[part].annotation)
        if depth < len(path) - 1:
            model = nested
    return True


def variable_setting(name: str) -> list[str]:
    return name[len(ENV_PREFIX):].lower().split("__")


def test_setting_walk_knows_real_and_false_keys() -> None:
    assert setting_exists(["presence", "timeout_seconds"])
    assert setting_exists(["privacy", "processors", "endpoint"])
    assert not setting_exists(["presence", "timeout"])
    assert not setting_exists(["redis"])
    assert not setting_exists(["port", "number"])


@pytest.mark.parametrize("name", [*FILES, "../docs/deployment.md"])
def test_every_variable_named_is_a_setting(name: str) -> None:
    text = (DEPLOY / name).read_text()
    found = set(VARIABLE.findall(text)) - SPECIAL_VARIABLES
    unknown = sorted(v for v in found if not setting_exists(variable_setting(v)))
    assert not unknown, f"{name} names variables that are no setting: {unknown}"


def _toml_keys(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    keys: set[tuple[str, ...]] = set()
    for key, value in data.items():
        path = (*prefix, key)
        if isinstance(value, dict):
            keys |= _toml_keys(value, path)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                keys |= _toml_keys(item, path)
        else:
            keys.add(path)
    return keys


def _commented_keys(text: str) -> set[tuple[str, ...]]:
    """Keys shown commented out (`# key = value`), under the section (or commented section)
    they appear in."""
    keys: set[tuple[str, ...]] = set()
    section: tuple[str, ...] = ()
    for line in text.splitlines():
        header = re.match(r"^#?\s*\[\[?([a-z_.]+)\]\]?\s*$", line)
        if header:
            section = tuple(header.group(1).split("."))
            continue
        key = re.match(r"^#\s*([a-z_]+)\s*=", line)
        if key:
            keys.add((*section, key.group(1)))
    return keys


def test_every_key_of_the_example_config_is_a_setting() -> None:
    text = (DEPLOY / "config.example.toml").read_text()
    active = _toml_keys(tomllib.loads(text))
    commented = _commented_keys(text)
    assert len(active) > 20 and len(commented) > 30
    unknown = sorted(".".join(k) for k in active | commented if not setting_exists(list(k)))
    assert not unknown, f"config.example.toml has keys that are no setting: {unknown}"


def _compose_environment() -> dict[str, str]:
    text = (DEPLOY / "compose.yaml").read_text()
    env = {}
    for key, value in re.findall(r"^\s+(CHATSERVER_[A-Z0-9_]+):\s*(.*)$", text, re.M):
        value = value.strip().strip('"')
        env[key] = re.sub(r"\$\{[A-Z_]+(:\?[^}]*)?\}", "secret" * 8, value)
    return env


def test_compose_settings_load_and_pass_the_eu_check() -> None:
    """What the compose nodes run with: the mounted example file plus their variables."""
    env = _compose_environment()
    assert env["CHATSERVER_CONFIG"] == "/etc/chatserver/config.toml"
    text = (DEPLOY / "compose.yaml").read_text()
    assert "./config.example.toml:/etc/chatserver/config.toml" in text
    env.pop("CHATSERVER_CONFIG")
    settings = load_settings(DEPLOY / "config.example.toml", environ=env)
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.redis_url == "redis://redis:6379/0"
    assert residency.problems(settings) == []
    assert settings.environment == "production"
    assert settings.trusted_proxies and settings.trusted_proxies != ["127.0.0.1", "::1"]
    assert settings.auth.address_key  # both nodes key login throttling alike
    node_ids = re.findall(r"CHATSERVER_NODE_ID:\s*(\S+)", text)
    assert len(node_ids) == len(set(node_ids)) == 2


def test_image_and_unit_variables_load() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    image = dict(re.findall(r"\b(CHATSERVER_[A-Z0-9_]+)=(\S+)", dockerfile))
    unit = dict(re.findall(r"^Environment=(CHATSERVER_[A-Z0-9_]+)=(\S+)$",
                           (DEPLOY / "chatserver.service").read_text(), re.M))
    for env in (image, unit):
        env.pop("CHATSERVER_CONFIG", None)
        load_settings(DEPLOY / "config.example.toml", environ=env)
    assert image["CHATSERVER_HOST"] == "0.0.0.0"  # noqa: S104 - inside the container


def _exists(relative: str, base: Path) -> bool:
    relative = relative.rstrip(".,:;)")
    if "*" in relative:
        return any(base.glob(relative))
    return (base / relative).exists()


def test_every_file_the_deploy_files_name_exists() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    sources = [line.split()[1:-1] for line in dockerfile.splitlines()
               if line.startswith("COPY ") and "--from=" not in line]
    assert sources
    for names in sources:
        for name in names:
            assert _exists(name, ROOT), f"Dockerfile copies {name}, which does not exist"
    compose = (DEPLOY / "compose.yaml").read_text()
    context = re.search(r"context:\s*(\S+)", compose)
    dockerfile_path = re.search(r"dockerfile:\s*(\S+)", compose)
    assert context and dockerfile_path
    assert (DEPLOY / context.group(1) / dockerfile_path.group(1)).resolve() == \
        (DEPLOY / "Dockerfile").resolve()
    mounts = re.findall(r"^\s+-\s+(\./[^:\s]+):", compose, re.M)
    assert "./nginx.conf" in mounts
    for mount in mounts:
        assert _exists(mount, DEPLOY), f"compose.yaml mounts {mount}, which does not exist"
    # Repository paths named anywhere in the deploy files and the deployment page.
    named = re.compile(r"(?<![\w/.-])((?:deploy|docs|widget|chatserver|tests|tools|locales)"
                       r"/[\w./*-]*)")
    for name in [*FILES, "Dockerfile.dockerignore", "../docs/deployment.md"]:
        for path in set(named.findall((DEPLOY / name).read_text())) - CREATED_BY_OPERATOR:
            assert _exists(path, ROOT), f"{name} names {path}, which does not exist"
    for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", DOCS.read_text()):
        assert _exists(link, DOCS.parent), f"deployment.md links to {link}, which is missing"


def test_the_image_is_multi_stage_unprivileged_and_checks_health() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, re.M)) >= 3
    assert re.search(r"^ARG NODE_IMAGE=node:", dockerfile, re.M)
    assert "FROM ${NODE_IMAGE}" in dockerfile and "make -C widget build" in dockerfile
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", dockerfile, re.M)
    assert re.search(r"^FROM \$\{PYTHON_IMAGE\}$", dockerfile, re.M)  # the runtime
    assert "pip install -e" not in dockerfile and "chatserver-*.whl" in dockerfile
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert user and user[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*", dockerfile, re.M) and "/healthz" in dockerfile


def test_the_proxy_passes_websockets_and_keeps_sessions_on_one_node() -> None:
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert "location /socket.io/" in nginx
    assert "proxy_set_header Upgrade $http_upgrade;" in nginx
    assert "proxy_set_header Connection $connection_upgrade;" in nginx
    assert re.search(r"^\s*ip_hash;", nginx, re.M)
    upstream = re.findall(r"^\s*server (app\d):8080", nginx, re.M)
    compose = (DEPLOY / "compose.yaml").read_text()
    assert upstream == ["app1", "app2"]
    for name in upstream:
        assert re.search(rf"^  {name}:$", compose, re.M)


NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (make system-deps installs it)")
async def test_a_chat_runs_through_the_shipped_nginx_conf_over_websockets(
        chat: Chat, tmp_path: Path) -> None:
    """deploy/nginx.conf itself, run by a real nginx in front of a real node: the visitor's
    WebSocket (only that transport) and an agent's chat pass through it."""
    port = free_port()
    site = (DEPLOY / "nginx.conf").read_text()
    site = re.sub(r"server app\d:8080", f"server 127.0.0.1:{chat.server.port}", site)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    site = site.replace("/var/log/nginx/access.log", str(tmp_path / "access.log"))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  client_body_temp_path {tmp_path};\n  proxy_temp_path {tmp_path};\n"
        f"  include {tmp_path}/site.conf;\n}}\n")
    assert NGINX is not None
    proxy = await asyncio.create_subprocess_exec(
        NGINX, "-e", str(tmp_path / "error.log"), "-p", str(tmp_path),
        "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        await _until_listening(port, proxy)
        agent = await chat.agent("anna@example.fi", "Anna")
        visitor = Client("/visitor")
        await visitor.connect(f"http://127.0.0.1:{port}", auth={
            "lang": "en", "notice_version": await chat.notice_version()})
        chat.clients.append(visitor.sio)
        assert visitor.sio.transport() == "websocket"
        sent = await visitor.call("message", {"client_id": "c1", "text": "through nginx"})
        assert sent["ok"], sent
        conversation_id = sent["message"]["conversation_id"]
        assert (await agent.call("claim", {"conversation_id": conversation_id}))["ok"]
        await agent.call("message", {"conversation_id": conversation_id, "client_id": "a1",
                                     "text": "hello back"})
        answer = await visitor.next("message", where=lambda m: m["author"]["kind"] == "agent")
        assert answer["text"] == "hello back"
        await visitor.sio.disconnect()  # a WebSocket request is logged when it ends
        for _attempt in range(50):
            if (tmp_path / "access.log").read_text():
                break
            await asyncio.sleep(0.05)
    finally:
        proxy.terminate()
        await asyncio.wait_for(proxy.wait(), 10)
    logged = (tmp_path / "access.log").read_text()
    assert "/socket.io/" in logged and "127.0.0.1" not in logged  # no client addresses


async def _until_listening(port: int, process: asyncio.subprocess.Process) -> None:
    for _attempt in range(100):
        if process.returncode is not None:
            output = await process.stdout.read() if process.stdout else b""
            raise AssertionError(f"nginx stopped: {output.decode(errors='replace')}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("nginx did not start listening")


def test_the_routes_the_deploy_files_use_exist(tmp_path: Path) -> None:
    from chatserver.app import create_app

    settings = load_settings(environ={}, overrides={"data_dir": str(tmp_path)})
    app = create_app(settings)
    routes = {r.resource.canonical for r in app.router.routes() if r.resource is not None}
    assert {"/healthz", "/readyz", "/metrics", "/socket.io/"} <= routes

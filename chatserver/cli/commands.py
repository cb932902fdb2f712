"""The `chatserver` command: serve, migrate, and manage agent accounts."""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from typing import Any

from chatserver import __version__
from chatserver.cli import bot as cli_bot
from chatserver.cli import privacy as cli_privacy
from chatserver.cli import reports as cli_reports
from chatserver.cli.context import with_context
from chatserver.errors import ServiceError
from chatserver.settings import ConfigError, Settings, load_settings

DEMO_EMAIL = "demo@example.fi"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatserver",
        description="Self-hosted, privacy-first website chat. Settings come from a TOML file "
        "(--config or $CHATSERVER_CONFIG) and CHATSERVER_* environment variables; see README.",
    )
    parser.add_argument("--version", action="version", version=f"chatserver {__version__}")
    parser.add_argument("--config", metavar="PATH",
                        help="TOML settings file (default: $CHATSERVER_CONFIG, else none)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the chat server")
    serve.add_argument("--host", help="listen address (overrides the `host` setting)")
    serve.add_argument("--port", type=int, help="listen port (overrides the `port` setting)")
    serve.add_argument("--migrate", action="store_true",
                       help="apply database migrations before serving")
    serve.add_argument("--demo", action="store_true",
                       help="development only: create or reset the demo agent "
                       f"{DEMO_EMAIL} with a fresh random password and print the login")

    commands.add_parser("migrate", help="create or upgrade the database schema to this version")
    reference = commands.add_parser(
        "config-reference", help="print the configuration reference (Markdown) from the settings"
    )
    reference.add_argument("--update", metavar="FILE",
                           help="rewrite the generated block in FILE (such as README.md) instead")

    agent = commands.add_parser("agent", help="manage agent accounts")
    actions = agent.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create an agent account")
    add.add_argument("email", help="the agent's login email")
    add.add_argument("--name", required=True, help="name shown to visitors, such as 'Anna'")
    add.add_argument("--role", choices=("agent", "admin"), default="agent",
                     help="admins also manage agents and data-subject requests (default: agent)")
    add.add_argument("--language", choices=("fi", "sv", "en"), default="fi",
                     help="language of the agent's console (default: fi)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input instead of prompting")
    actions.add_parser("list", help="list agent accounts")
    disable = actions.add_parser("disable", help="disable an account and end its sessions")
    disable.add_argument("email")
    disable.add_argument("--enable", action="store_true", help="re-enable instead")
    passwd = actions.add_parser("passwd", help="set a new password (ends the agent's sessions)")
    passwd.add_argument("email")
    passwd.add_argument("--password-stdin", action="store_true",
                        help="read the password from standard input instead of prompting")
    reset = actions.add_parser(
        "reset-second-factor",
        help="remove an agent's one-time codes and end their sessions (a lost phone; the last "
        "admin locked out)")
    reset.add_argument("email")
    token = actions.add_parser("token", help="create an API token for scripts and sockets")
    token.add_argument("email")
    token.add_argument("--name", "--label", dest="name", default="",
                       help="what the token is for (shown in the console's token list)")
    token.add_argument("--scope", choices=("full", "read"), default="full",
                       help="read: reads and receives, changes nothing (default: full)")
    lifetime = token.add_mutually_exclusive_group()
    lifetime.add_argument("--days", type=int, default=90,
                          help="days until it expires (1..3650, default: 90)")
    lifetime.add_argument("--no-expiry", action="store_true",
                          help="never expires (revoke it in the console when done)")
    cli_privacy.add_commands(commands)
    cli_bot.add_commands(commands)
    cli_reports.add_commands(commands)
    return parser


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (at least 10 characters): ")
    if getpass.getpass("Repeat the password: ") != first:
        raise SystemExit("error: the passwords differ; nothing was changed")
    return first


def _agent_command(settings: Settings, args: argparse.Namespace) -> None:
    from chatserver.services import agents, api_tokens, second_factor

    async def work(ctx: Any) -> None:
        if args.action == "add":
            password = _read_password(args.password_stdin)
            agent = await agents.create_agent(ctx, args.email, args.name, password, args.role,
                                              args.language)
            print(f"created {agent.role} {agent.email} (id {agent.id})")
        elif args.action == "list":
            rows = await agents.list_agents(ctx)
            print(f"{'id':>4}  {'email':<32} {'role':<6} {'status':<9} name")
            for a in rows:
                status = "disabled" if a.disabled else "active"
                print(f"{a.id:>4}  {a.email:<32} {a.role:<6} {status:<9} {a.display_name}")
        elif args.action == "disable":
            agent = await agents.get_by_email(ctx, args.email)
            await agents.set_disabled(ctx, agent.id or 0, not args.enable)
            print(f"{'enabled' if args.enable else 'disabled'} {agent.email}")
        elif args.action == "passwd":
            agent = await agents.get_by_email(ctx, args.email)
            await agents.set_password(ctx, agent.id or 0, _read_password(args.password_stdin))
            print(f"password changed for {agent.email}; their sessions were ended")
        elif args.action == "reset-second-factor":
            agent = await agents.get_by_email(ctx, args.email)
            await second_factor.remove(ctx, agent.id or 0)
            print(f"one-time codes removed for {agent.email}; their sessions were ended")
        elif args.action == "token":
            agent = await agents.get_by_email(ctx, args.email)
            days = None if args.no_expiry else args.days
            print(await api_tokens.create(ctx, agent.id or 0, args.name, scope=args.scope,
                                          days=days))
            until = "never expires" if days is None else f"expires in {days} days"
            print(f"({args.scope} token for {agent.email}; {until}; shown only now)",
                  file=sys.stderr)

    with_context(settings, work)


def _ensure_demo_agent(settings: Settings) -> None:
    from chatserver.services import agents

    if settings.environment != "development":
        raise SystemExit("error: --demo is for development only (environment = production)")
    password = secrets.token_urlsafe(9)

    async def work(ctx: Any) -> None:
        try:
            agent = await agents.get_by_email(ctx, DEMO_EMAIL)
            await agents.set_password(ctx, agent.id or 0, password)
        except ServiceError:
            await agents.create_agent(ctx, DEMO_EMAIL, "Demo", password, "admin", "en")

    with_context(settings, work)
    print(f"\n  Demo agent login: {DEMO_EMAIL} / {password}\n", flush=True)


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    from aiohttp import web

    from chatserver.app import NotMigrated, create_app
    from chatserver.db import migrate
    from chatserver.logs import AccessLogger, setup_logging
    from chatserver.realtime import tuning

    setup_logging(settings)
    from chatserver.services.privacy import residency

    try:
        residency.enforce(settings)  # before anything else: personal data stays in the EU/EEA
    except ConfigError as exc:
        raise SystemExit(f"error: {exc}") from None
    if args.migrate:
        migrate.upgrade(settings.database_url)
    if args.demo:
        _ensure_demo_agent(settings)
    print(f"  Demo host page:  {settings.public_url}/", flush=True)
    print(f"  Agent console:   {settings.public_url}/console", flush=True)
    print(f"  Agent API:       {settings.public_url}/api/v1/", flush=True)
    try:
        # Access lines name the route pattern only, never paths or query strings (logs.py).
        # uvloop, gc.freeze and the collector threshold: realtime/tuning.py, docs/performance.md
        tuning.use_event_loop(settings.performance)
        app = create_app(settings)
        tuning.tune_process(app, settings.performance)
        web.run_app(app, host=settings.host, port=settings.port,
                    print=None, access_log_class=AccessLogger)
    except (NotMigrated, ConfigError) as exc:
        raise SystemExit(f"error: {exc}") from None


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    overrides: dict[str, Any] = {}
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    try:
        settings = load_settings(args.config, overrides=overrides)
    except ConfigError as exc:
        raise SystemExit(f"error: {exc}") from None
    try:
        if args.command == "serve":
            _serve(settings, args)
        elif args.command == "migrate":
            from chatserver.db import migrate

            migrate.upgrade(settings.database_url)
            print(f"database is at revision {migrate.head_revision()}")
        elif args.command == "config-reference":
            from chatserver import config_reference

            if args.update:
                changed = config_reference.update_file(args.update)
                print(f"{args.update}: {'updated' if changed else 'already up to date'}")
            else:
                print(config_reference.render())
        elif args.command == "agent":
            _agent_command(settings, args)
        elif args.command in cli_privacy.COMMANDS:
            cli_privacy.run(settings, args)
        elif args.command in cli_bot.COMMANDS:
            cli_bot.run(settings, args)
        elif args.command in cli_reports.COMMANDS:
            cli_reports.run(settings, args)
    except ServiceError as exc:
        from chatserver.i18n import Translator

        body = exc.body(Translator(default_language="en"), "en")
        raise SystemExit(f"error: {body['message']}") from None


if __name__ == "__main__":
    main()

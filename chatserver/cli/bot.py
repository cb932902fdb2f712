"""The assistant's commands of `chatserver`: `bot eval FILE`, `bot check`, and `bot export` /
`bot import`, which move the FAQ between a file and the database (the console's editor)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from chatserver.errors import ServiceError
from chatserver.settings import ConfigError, Settings

COMMANDS = ("bot",)


def add_commands(commands: Any) -> None:
    bot = commands.add_parser("bot", help="the built-in FAQ assistant")
    actions = bot.add_subparsers(dest="action", required=True, metavar="ACTION")
    evaluate = actions.add_parser(
        "eval", help="measure the assistant on a labelled set of questions (docs/bot.md)")
    evaluate.add_argument("file", metavar="PATH",
                          help="a file of lines LANGUAGE<TAB>QUESTION<TAB>ENTRY_ID or none, "
                          "or a folder of domains (sub-folders with faq.toml and questions.tsv)")
    evaluate.add_argument("--faq", metavar="PATH",
                          help="FAQ file to use instead of the bot.faq_file setting")
    evaluate.add_argument("--threshold", type=float,
                          help="confidence threshold instead of the bot.threshold setting")
    evaluate.add_argument("--choices-threshold", type=float,
                          help="least confidence to offer choices instead of the "
                          "bot.choices_threshold setting")
    evaluate.add_argument("--verbose", "-v", action="store_true",
                          help="also list every question answered wrongly")
    evaluate.add_argument("--min", type=float, default=0.0, metavar="SHARE",
                          help="exit with status 1 when a language scores below SHARE "
                          "(such as 0.9) in scope or out of scope (over all domains)")
    evaluate.add_argument("--min-reach", type=float, default=0.0, metavar="SHARE",
                          help="exit with status 1 when fewer in-scope questions than SHARE "
                          "get the right answer or the right entry among the choices")
    evaluate.add_argument("--max-wrong", type=float, default=1.0, metavar="SHARE",
                          help="exit with status 1 when more in-scope questions than SHARE "
                          "get a wrong direct answer")
    check = actions.add_parser("check", help="read the FAQ file and report problems")
    check.add_argument("--faq", metavar="PATH",
                       help="FAQ file to check instead of the bot.faq_file setting")
    export = actions.add_parser(
        "export", help="write the FAQ saved in the database (the console's editor) as an FAQ "
        "file; the shipped example when none is saved")
    export.add_argument("--output", "-o", metavar="PATH",
                        help="file to write (default: standard output)")
    export.add_argument("--labelled", metavar="PATH",
                        help="also write its labelled questions to this file "
                        "(LANGUAGE<TAB>QUESTION<TAB>ENTRY_ID or none)")
    imported = actions.add_parser(
        "import", help="store an FAQ file in the database as the new version the console "
        "edits (audited); used once bot.faq_file is empty")
    imported.add_argument("file", metavar="PATH", help="the FAQ file (TOML, docs/bot.md)")
    imported.add_argument("--labelled", metavar="PATH",
                          help="its labelled questions (default: keep the saved ones)")


def _with_overrides(settings: Settings, args: argparse.Namespace) -> Settings:
    bot = settings.bot.model_copy(update={
        key: value for key, value in (
            ("faq_file", args.faq), ("threshold", getattr(args, "threshold", None)),
            ("choices_threshold", getattr(args, "choices_threshold", None)))
        if value is not None})
    return settings.model_copy(update={"bot": bot})


def _move(settings: Settings, args: argparse.Namespace) -> None:
    """`bot export` and `bot import`: the database's FAQ, whatever bot.faq_file says."""
    from chatserver.cli.context import with_context
    from chatserver.services.assistant import faq_store

    database = settings.model_copy(update={"bot": settings.bot.model_copy(
        update={"faq_file": ""})})

    out: dict[str, str] = {}
    path, raw, labelled = Path(getattr(args, "file", "") or "."), "", None
    if args.action == "import":
        try:
            raw = path.read_text(encoding="utf-8")
            labelled = (Path(args.labelled).read_text(encoding="utf-8") if args.labelled
                        else None)
        except (OSError, UnicodeDecodeError) as exc:
            raise SystemExit(f"error: {exc}") from None

    async def work(ctx: Any) -> None:
        store = ctx.faq = faq_store.LiveFaq(database)
        if args.action == "export":
            await store.refresh(ctx)
            out["faq"], out["labelled"] = (faq_store.export_toml(ctx),
                                           faq_store.export_labelled(ctx))
            return
        saved = await faq_store.import_toml(ctx, raw, str(path), labelled)
        print(f"{path}: stored as FAQ version {saved['version']} "
              f"({saved['after']['right']}/{saved['after']['total']} labelled questions right)")

    try:
        with_context(database, work)
    except (ConfigError, OSError) as exc:
        raise SystemExit(f"error: {exc}") from None
    except ServiceError as exc:
        raise SystemExit(f"error: {exc.message.format(**exc.params)}") from None
    if args.action == "export":
        if args.output:
            Path(args.output).write_text(out["faq"], encoding="utf-8")
        else:
            print(out["faq"], end="")
        if args.labelled:
            Path(args.labelled).write_text(out["labelled"], encoding="utf-8")


def run(settings: Settings, args: argparse.Namespace) -> None:
    from chatserver.services.assistant import bot
    from chatserver.services.assistant import evaluation as bot_eval

    if args.action in ("export", "import"):
        _move(settings, args)
        return

    settings = _with_overrides(settings, args)
    path = Path(getattr(args, "file", "") or ".")
    try:
        if args.action == "eval" and path.is_dir():
            results = bot_eval.evaluate_folder(settings, path)
            print(bot_eval.report_folder(results, settings, args.verbose))
            _check_min(results["all"], args)
            return
        knowledge = bot.knowledge(settings)
        scores = bot_eval.evaluate(settings, path) if args.action == "eval" else {}
    except (ConfigError, OSError) as exc:
        raise SystemExit(f"error: {exc}") from None
    if args.action == "check":
        sizes = ", ".join(f"{lang} {len(index)}" for lang, index in knowledge.indexes.items())
        print(f"{settings.bot.faq_path}: ok (entries per language with the privacy questions: "
              f"{sizes})")
        return
    print(bot_eval.report(scores, settings, args.verbose))
    _check_min(scores, args)


def _check_min(scores: dict[str, Any], args: argparse.Namespace) -> None:
    if any(min(s.accuracy, s.refusal_rate) < args.min or s.reach < args.min_reach
           or s.wrong_rate > args.max_wrong for s in scores.values()):
        raise SystemExit(1)

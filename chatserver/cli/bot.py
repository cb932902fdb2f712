"""The assistant's commands of `chatserver`: `bot eval FILE` and `bot check`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

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


def _with_overrides(settings: Settings, args: argparse.Namespace) -> Settings:
    bot = settings.bot.model_copy(update={
        key: value for key, value in (
            ("faq_file", args.faq), ("threshold", getattr(args, "threshold", None)),
            ("choices_threshold", getattr(args, "choices_threshold", None)))
        if value is not None})
    return settings.model_copy(update={"bot": bot})


def run(settings: Settings, args: argparse.Namespace) -> None:
    from chatserver.services.assistant import bot
    from chatserver.services.assistant import evaluation as bot_eval

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

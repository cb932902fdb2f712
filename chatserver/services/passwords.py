"""How guessable a new password is, judged on this server (zxcvbn, offline; nothing is sent
anywhere). A password shorter than MIN_CHARS, among the common passwords or made of common
patterns, words, or the agent's own name and email is refused, with why in their language."""

from __future__ import annotations

from zxcvbn import zxcvbn

from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _

MIN_CHARS = 10
# zxcvbn's score: 0-2 fall to an offline attack on a slow hash within days at most; 3 is
# "safely unguessable" against online and moderately slow offline attacks.
MIN_SCORE = 3
# zxcvbn's cost grows with the length; the first characters decide the score well enough.
JUDGED_CHARS = 100


def check_strength(password: str, *, email: str = "", name: str = "") -> None:
    if len(password) < MIN_CHARS:
        raise ServiceError(Code.INVALID_INPUT,
                           _("The password is too short (at least {limit} characters)."),
                           limit=MIN_CHARS)
    hints = [part for part in (email, email.split("@")[0], name, "chatserver") if part]
    if zxcvbn(password[:JUDGED_CHARS], user_inputs=hints)["score"] < MIN_SCORE:
        raise ServiceError(Code.INVALID_INPUT, _(
            "This password is too easy to guess: it is a common password, a common pattern, "
            "or made of your name or email. Choose a longer one, for example three or four "
            "unrelated words."))

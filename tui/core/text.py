"""Incident text comes from people and alert scripts: show it, never obey it.

Rich markup is avoided by building `rich.text.Text` objects (never markup
strings) from user text; this module removes what would reach the terminal as
a control sequence, and folds text to one line where a card needs one.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections.abc import Iterable
from datetime import timedelta

_VISIBLE_CONTROLS = {"\t": " ", "\n": "⏎", "\r": "⏎"}


def _visible(char: str, single_line: bool) -> str:
    if char == "\n" and not single_line:
        return char
    if char in _VISIBLE_CONTROLS:
        return _VISIBLE_CONTROLS[char]
    category = unicodedata.category(char)
    if category == "Cc":
        # ESC, BEL, C1 controls...: show as the Unicode "control picture" or a code.
        code = ord(char)
        return chr(0x2400 + code) if code < 0x20 else f"<U+{code:04X}>"
    if category == "Cf" and char not in "\u200d":
        # Bidi overrides and zero-width marks can reorder or hide what follows.
        return f"<U+{ord(char):04X}>"
    return char


# Every control (Cc) and format (Cf) character, and no more than a few others: the
# regex finds candidates at C speed and _visible decides. tests/test_text.py checks
# that this covers every Cc and Cf code point of the running Python's Unicode.
_SUSPECT = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001345f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)


def plain(text: str, *, single_line: bool = False) -> str:
    """Text safe to put on a terminal: no control sequences, bidi tricks or (optionally) newlines."""
    return _SUSPECT.sub(lambda match: _visible(match.group(), single_line), text)


def json_safe(dumped: str) -> str:
    """JSON text with every control and format character as a \\u escape: the same value, but
    `cat` on the file can no longer reorder or hide what follows a bidi override."""
    # Raw newlines in JSON text are indentation: json.dumps already escaped those in strings.
    return _SUSPECT.sub(lambda match: "\n" if match.group() == "\n" else json.dumps(match.group()).strip('"'),
                        dumped)


def one_line(text: str) -> str:
    return plain(text, single_line=True)


def short_duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}" if minutes else f"{hours}h"
    return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"


def did_you_mean(word: str, choices: Iterable[object]) -> str:
    """' (did you mean "x"?)' for a near miss among the choices, else nothing."""
    close = difflib.get_close_matches(word, [str(choice) for choice in choices], n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""

"""People's text on a terminal: shown, never obeyed."""

from __future__ import annotations

import json
import sys
import unicodedata

from tui.core.text import _SUSPECT, json_safe, one_line, plain


def test_every_control_and_format_character_is_examined():
    # The fast path skips whatever the pattern does not match, so it must cover them all.
    missed = [f"U+{code:04X}" for code in range(sys.maxunicode + 1)
              if unicodedata.category(chr(code)) in ("Cc", "Cf") and not _SUSPECT.match(chr(code))]
    assert missed == []


def test_controls_bidi_and_zero_width_become_visible_marks():
    assert plain("red \x1b[31mtext\x07") == "red ␛[31mtext␇"
    assert plain("osc \x1b]8;;http://x\x1b\\link") == "osc ␛]8;;http://x␛\\link"
    assert plain("abc\u202edef\u200b") == "abc<U+202E>def<U+200B>"
    assert plain("c1 \x9b31m") == "c1 <U+009B>31m"
    assert plain("soft\xadhyphen") == "soft<U+00AD>hyphen"


def test_ordinary_text_passes_unchanged_and_newlines_fold_only_on_one_line():
    text = "Café ☕ naïve — 日本語 👩‍💻 tab\there\nsecond line"
    assert plain(text) == text.replace("\t", " ")
    assert one_line("first\nsecond\r\nthird") == "first⏎second⏎⏎third"


def test_json_safe_escapes_format_characters_and_keeps_the_value():
    value = {"title": "rtl \u202eevil\u202c zw\u200b tag \U000e0041 c1 \x85 café 🔥", "lines": "a\nb"}
    dumped = json.dumps(value, indent=2, ensure_ascii=False)
    safe = json_safe(dumped)
    assert json.loads(safe) == value
    assert "\u202e" not in safe and "\U000e0041" not in safe and "\x85" not in safe
    assert "café 🔥" in safe and "\\u202e" in safe and "\\udb40\\udc41" in safe

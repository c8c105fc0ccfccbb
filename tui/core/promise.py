"""The time a client update promises the next one by ("next update by 15:00").

A promise sets when this incident's next update is due, in place of the
playbook's cadence; missing it is a broken promise. Only a time tied to hearing
from us again counts: "we will refund it by 15:00" promises a refund, not an update.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

MAX_AHEAD = timedelta(days=7)  # a promise further out than this is not read as one
_CUE = (r"(?:next\s+update|another\s+update|(?:hear|heard)\s+from\s+(?:us|me)(?:\s+again)?|update\s+you(?:\s+again)?"
        r"|(?:get|come|be)\s+back\s+(?:to|in\s+touch\s+with)\s+you|be\s+in\s+touch|(?:write|call)\s+(?:to\s+)?you"
        r"(?:\s+again)?)")
_GAP = r"[^.!?\n]{0,40}?"
_CLOCK = re.compile(
    _CUE + _GAP + r"\b(?:by|at|before|around|no\s+later\s+than)\s+(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2}))?"
    r"\s*(?P<half>am|pm|a\.m\.|p\.m\.)?(?P<tomorrow>\s+tomorrow)?(?![\w:])",
    re.IGNORECASE)
_WITHIN = re.compile(
    _CUE + _GAP + r"\b(?:within|in)\s+(?:the\s+next\s+)?(?P<count>\d{1,3}|an?|one|two|three|four|half\s+an)\s+"
    r"(?P<unit>minutes?|mins?|hours?|hrs?)\b",
    re.IGNORECASE)
_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4}


def promised(text: str, sent: datetime) -> datetime | None:
    """When `text`, sent at `sent`, says the next update comes; None when it makes no such promise.

    Clock times are read in the local time zone, on the day sent, or the next day when
    that time has passed (or the text says tomorrow).
    """
    found: list[tuple[int, datetime]] = []
    for match in _CLOCK.finditer(text):
        if (due := _clock_time(match, sent)) is not None:
            found.append((match.start(), due))
    for match in _WITHIN.finditer(text):
        count = match["count"].lower()
        if count.startswith("half"):
            delta = timedelta(minutes=30)
        else:
            number = _WORDS.get(count) or int(count)
            delta = timedelta(hours=number) if match["unit"].lower().startswith("h") else timedelta(minutes=number)
        if timedelta(0) < delta <= MAX_AHEAD:
            found.append((match.start(), sent + delta))
    return min(found)[1] if found else None  # the first promise in the text


def _clock_time(match: re.Match[str], sent: datetime) -> datetime | None:
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    half = (match["half"] or "").lower().replace(".", "")
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "pm" else 0)
    elif match["minute"] is None:
        return None  # "by 3" alone is too vague to hold anyone to
    if hour > 23 or minute > 59:
        return None
    local = sent.astimezone()
    due = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if match["tomorrow"] or due <= local:
        due += timedelta(days=1)
    return due.astimezone(sent.tzinfo)

"""Action items read as facts: what a checklist item can be satisfied by, and what stats count."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from .model import ActionItem, Incident, Side


def all_actions_owned(incident: Incident) -> bool:
    """"Every action item has an owner": true once there is at least one item and each names someone.

    With no items there is nothing owned yet, so a checklist item that asks for owners is not met.
    """
    items = incident.actions
    return bool(items) and all(item.owner.strip() for item in items)


def for_client(incident: Incident) -> tuple[ActionItem, ...]:
    """What the client hears about: their own items, and ours marked for them."""
    return tuple(item for item in incident.actions if item.side is Side.CLIENT or item.tell_client)


def client_line(item: ActionItem) -> str:
    """An action item as the client reads it: whose it is, in their terms, and no internal state words."""
    whose = "For you" if item.side is Side.CLIENT else "For us"
    due = f", by {item.due.isoformat()}" if item.due else ""
    done = " (done)" if item.is_done else ""
    return f"{whose}: {item.text} ({item.owner}{due}){done}"


def open_and_overdue(items: Iterable[ActionItem], today: date) -> tuple[int, int]:
    """How many items are not done, and how many of those are past their due date."""
    pending = [item for item in items if not item.is_done]
    return len(pending), sum(1 for item in pending if item.is_overdue(today))

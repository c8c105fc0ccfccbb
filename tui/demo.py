"""Realistic demo incidents at every stage and in every status, for `mend demo` and screenshots.

Built with the real rules and back-dated times, so every demo incident carries
an honest event history (including one forced move past the apology).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from .core import rules
from .core.model import Incident, ReportPart, Role, Side, Stage
from .core.playbook import DEFAULT_PLAYBOOK, Playbook
from .core.store import Store

# title, client, severity, stage to reach, minutes ago it was opened,
# minutes spent in each earlier stage, minutes since the last client update (None: never).
DEMO = (
    ("Checkout down for EU customers", "Northwind Traders", 1, Stage.ACKNOWLEDGE, 4, 0, None),
    ("Wrong prices shown after the catalogue sync", "Fabrikam", 2, Stage.ACKNOWLEDGE, 13, 0, None),
    ("Monthly report e-mailed to the wrong contact", "Tailspin Toys", 3, Stage.ACKNOWLEDGE, 90, 0, None),
    ("Invoices sent twice", "Acme Ltd", 2, Stage.EMPATHIZE, 40, 10, 25),
    ("Data export missing March", "Globex", 3, Stage.EMPATHIZE, 60, 20, 35),
    ("Password reset e-mails delayed by hours", "Initech", 2, Stage.DIAGNOSE, 150, 12, 50),
    ("Mobile app crashes on login (Android 15)", "Contoso", 1, Stage.DIAGNOSE, 75, 4, 25),
    ("Shipment labels printed with old address", "Wide World Importers", 3, Stage.DIAGNOSE, 200, 30, 100),
    ("Dashboard shows yesterday's numbers", "Adventure Works", 4, Stage.FIX, 600, 60, 200),
    ("Support ticket closed without an answer", "Litware", 3, Stage.FIX, 260, 20, 30),
    ("API rate limit cut a batch job short", "Proseware", 2, Stage.REPORT_BACK, 900, 30, 60),
    ("Promised feature missed the launch date", "Blue Yonder Airlines", 3, Stage.REPORT_BACK, 2000, 60, 200),
)


# Closed and reported back, waiting for the follow-up check-in: title, client, severity,
# days since resolve, and the report-back (what happened, why, what's next, gesture).
DEMO_RESOLVED = (
    ("Newsletter sent to unsubscribed contacts", "Margie's Travel", 2, 8, (
        "Our newsletter went to 1,200 of your customers who had unsubscribed, and some complained to you.",
        "An import we ran for you skipped the unsubscribe list, and nothing checked for that.",
        "Every send now checks the list first. We wrote to each affected customer on your behalf on 16 "
        "November, and will send you the replies by Friday.",
        "Two months of the newsletter plan free",
    )),
    ("Refund for a cancelled order arrived late", "Coho Winery", 3, 2, (
        "You were told your refund would arrive in 3 days; it took 12.",
        "Refunds over a set amount waited for a manual check that nobody was watching.",
        "Those checks now page the on-call person, and we review the queue daily.",
        "A 20% discount on your next order",
    )),
)
# The first report-back card has its report half written, as a person mid-way would.
DRAFT = {
    ReportPart.WHAT_HAPPENED: ("Your nightly batch import stopped after 40,000 of 90,000 records.", None),
    ReportPart.WHY: ("A rate limit we set for all customers was too low for your batch size.", None),
}


# Who holds the demo incidents: short names, as a team would use, so the cards show them whole.
TEAM = ("maya", "sam", "li", "jo")


def seed(store: Store, playbooks: Mapping[str, Playbook], now: datetime, author: str = "demo") -> list[Incident]:
    playbook = playbooks[DEFAULT_PLAYBOOK]
    made = []
    for index, (title, client, severity, target, opened_ago, per_stage, update_ago) in enumerate(DEMO):
        opened = now - timedelta(minutes=opened_ago)

        owner = TEAM[index % len(TEAM)]

        def build(incident_id: str, opened: datetime = opened, title: str = title, client: str = client,
                  severity: int = severity, owner: str = owner) -> Incident:
            return rules.open_incident(incident_id, title=title, client=client, severity=severity,
                                       playbook=playbook, owner=owner, now=opened)

        incident = store.create(build)
        if severity <= 2:  # the worst ones get a comms lead, who owns their client updates
            incident = rules.assign(incident, TEAM[(index + 1) % len(TEAM)], role=Role.COMMS, now=opened,
                                    author=author)
        at = opened
        while incident.stage is not target:
            at += timedelta(minutes=per_stage)
            plan = playbook.stage(incident.stage)
            # One demo incident skips the apology, so the forced move shows in its record.
            skip_gate = index == 7 and incident.stage is Stage.EMPATHIZE
            if not skip_gate:
                for item in plan.checklist:
                    if item.required:
                        incident = rules.set_checked(incident, playbook, item.id, True, now=at, author=author)
            incident = rules.advance(incident, playbook, now=at, author=author, force=skip_gate,
                                     reason="Client asked for the technical detail first" if skip_gate else None)
        if update_ago is not None:
            incident = rules.add_update(incident, "We know what is wrong and are on it; next update within the hour.",
                                        now=now - timedelta(minutes=update_ago), author=author)
        if target is Stage.FIX and index == 9:
            incident = rules.add_action(incident, "Answer the ticket and review the rule that closed it", owner="li",
                                        side=Side.OURS, due=(now + timedelta(days=2)).date(), now=at, author=author)
            incident = rules.add_action(incident, "List any other tickets left unanswered", owner="Litware support",
                                        side=Side.CLIENT, now=at, author=author)
        if target is Stage.REPORT_BACK and index == 10:
            incident = _write_report(incident, DRAFT, now, author)
        store.put(incident)
        made.append(incident)
    for title, client, severity, days_ago, words in DEMO_RESOLVED:
        report = {part: (text, None) for part, text in zip(ReportPart, words, strict=True)}
        made.append(_resolved(store, playbook, title, client, severity, report, now - timedelta(days=days_ago),
                              author))
    return made


def _write_report(incident: Incident, parts: Mapping[ReportPart, tuple[str, str | None]], now: datetime,
                  author: str) -> Incident:
    for part, (text, reason) in parts.items():
        incident = rules.set_report_part(incident, part, text, reason=reason, now=now, author=author)
    return incident


def _resolved(store: Store, playbook: Playbook, title: str, client: str, severity: int,
              report: Mapping[ReportPart, tuple[str, str | None]], resolved: datetime, author: str) -> Incident:
    at = resolved - timedelta(days=1)
    incident = store.create(lambda incident_id: rules.open_incident(
        incident_id, title=title, client=client, severity=severity, playbook=playbook, owner=author, now=at))
    while not incident.is_resolved:
        at += timedelta(minutes=30)
        if incident.stage is Stage.DIAGNOSE:
            incident = rules.add_update(incident, "We know what went wrong and are fixing it; next update by 17:00.",
                                        now=at, author=author)
        if incident.stage is Stage.REPORT_BACK:
            incident = _write_report(incident, report, at, author)
            at = resolved
        for item in playbook.stage(incident.stage).checklist:
            incident = rules.set_checked(incident, playbook, item.id, True, now=at, author=author)
        incident = rules.advance(incident, playbook, now=at, author=author)
    store.put(incident)
    return incident

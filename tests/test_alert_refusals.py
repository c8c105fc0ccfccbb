"""More webhook bodies refused in one line, naming the field and the limit."""

from __future__ import annotations

import pytest

from tests.test_intake import AM, body, one_alert
from tui.core.intake import MAX_ALERTS, MAX_VALUE, IntakeError, parse_intake_rules, parse_notification

FIRST = AM["alerts"][0]


@pytest.mark.parametrize(("raw", "problem"), [
    (body({**AM, "alerts": [FIRST] * (MAX_ALERTS + 1)}),
     f"alerts: {MAX_ALERTS + 1} alerts; the limit is {MAX_ALERTS}"),
    (body(one_alert({}, startsAt="0001-01-01T00:00:00Z")),  # Go's zero time: "not yet"
     "alerts[0].startsAt: a firing alert has a start time"),
    (body(one_alert({}, values={"A": "high"})), "alerts[0].values: expected an object of numbers"),
    (body(one_alert({}, values={"A": True})), "alerts[0].values: expected an object of numbers"),
    (body(one_alert({}, values=[1])), "alerts[0].values: expected an object of numbers"),
    (body(one_alert({}, startsAt="1899-12-31T23:00:00Z")),
     "alerts[0].startsAt: '1899-12-31T23:00:00Z' is outside the years"),
    (body(one_alert({"client": "x" * (MAX_VALUE + 1)})),
     f"alerts[0].labels['client']: {MAX_VALUE + 1} characters; the limit is {MAX_VALUE}"),
], ids=["too many alerts", "no start", "text values", "boolean values", "values as a list", "too early",
        "too long"])
def test_a_body_over_a_limit_or_missing_a_start_is_refused_naming_it(raw, problem):
    with pytest.raises(IntakeError) as refused:
        parse_notification(raw)
    assert str(refused.value).startswith(problem)


def test_alerts_up_to_the_limit_and_numeric_values_are_taken():
    assert len(parse_notification(body({**AM, "alerts": [FIRST] * MAX_ALERTS})).alerts) == MAX_ALERTS
    parse_notification(body(one_alert({}, values={"A": 1, "B": 2.5})))
    parse_notification(body(one_alert({"client": "x" * MAX_VALUE})))


@pytest.mark.parametrize("severity", [1, 2, 3, 4])
def test_every_severity_from_1_to_4_can_be_mapped_from_a_label(severity):
    assert parse_intake_rules({"severities": {"P": severity}}).severities["p"] == severity


@pytest.mark.parametrize("severity", [0, 5, True, "1"])
def test_a_label_mapped_to_something_else_is_refused(severity):
    with pytest.raises(ValueError, match=r"severities\.P: expected a severity 1 \(worst\) to 4"):
        parse_intake_rules({"severities": {"P": severity}})

"""The operations a person performs, wired to a store, playbooks and a clock.

The CLI and the board both go through this class: read-modify-write happens
inside `Store.update`, under the store's lock, against the freshest copy.
"""

from __future__ import annotations

from typing import Mapping

from . import rules
from .clock import Clock
from .model import Incident
from .playbook import DEFAULT_PLAYBOOK, Playbook
from .store import Store


class Mend:
    def __init__(self, store: Store, playbooks: Mapping[str, Playbook], clock: Clock, author: str) -> None:
        self.store = store
        self.playbooks = playbooks
        self.clock = clock
        self.author = author

    def playbook(self, name: str) -> Playbook:
        try:
            return self.playbooks[name]
        except KeyError:
            known = ", ".join(sorted(self.playbooks)) or "none"
            raise rules.RuleError(f"unknown playbook {name!r}; loaded playbooks: {known}") from None

    def playbook_for(self, incident: Incident) -> Playbook:
        """The incident's playbook; the default one if it is no longer loaded.

        An incident must stay workable when its playbook file is removed or its
        folder is not passed this time; `missing_playbook` says when that happened.
        """
        return self.playbooks.get(incident.playbook) or self.playbook(DEFAULT_PLAYBOOK)

    def missing_playbook(self, incident: Incident) -> bool:
        return incident.playbook not in self.playbooks

    def list_open(self) -> list[Incident]:
        return self.store.list_open()

    def get(self, incident_id: str) -> Incident:
        return self.store.get(incident_id)

    def open(
        self,
        title: str,
        client: str,
        *,
        severity: int = 2,
        playbook: str = DEFAULT_PLAYBOOK,
        owner: str | None = None,
    ) -> Incident:
        chosen = self.playbook(playbook)

        def build(incident_id: str) -> Incident:
            return rules.open_incident(incident_id, title=title, client=client, severity=severity,
                                       playbook=chosen, owner=owner or self.author, now=self.clock.now())

        build("INC-0")  # validate before the store takes an id, so a typo does not burn one
        return self.store.create(build)

    def advance(self, incident_id: str, *, force: bool = False, reason: str | None = None) -> Incident:
        return self.store.update(
            incident_id,
            lambda inc: rules.advance(inc, self.playbook_for(inc), now=self.clock.now(), author=self.author,
                                      force=force, reason=reason),
        )

    def back(self, incident_id: str) -> Incident:
        return self.store.update(incident_id, lambda inc: rules.back(inc, now=self.clock.now(), author=self.author))

    def resolve(self, incident_id: str, *, force: bool = False, reason: str | None = None) -> Incident:
        return self.store.update(
            incident_id,
            lambda inc: rules.resolve(inc, self.playbook_for(inc), now=self.clock.now(), author=self.author,
                                      force=force, reason=reason),
        )

    def reopen(self, incident_id: str, *, reason: str | None = None) -> Incident:
        return self.store.update(
            incident_id, lambda inc: rules.reopen(inc, now=self.clock.now(), author=self.author, reason=reason)
        )

    def set_checked(self, incident_id: str, item_id: str, checked: bool = True) -> Incident:
        return self.store.update(
            incident_id,
            lambda inc: rules.set_checked(inc, self.playbook_for(inc), item_id, checked, now=self.clock.now(),
                                          author=self.author),
        )

    def toggle_checked(self, incident_id: str, item_id: str) -> Incident:
        return self.store.update(
            incident_id,
            lambda inc: rules.set_checked(inc, self.playbook_for(inc), item_id, item_id not in inc.checked,
                                          now=self.clock.now(), author=self.author),
        )

    def note(self, incident_id: str, text: str) -> Incident:
        return self.store.update(incident_id, lambda inc: rules.add_note(inc, text, now=self.clock.now(),
                                                                    author=self.author))

    def update(self, incident_id: str, text: str) -> Incident:
        return self.store.update(incident_id, lambda inc: rules.add_update(inc, text, now=self.clock.now(),
                                                                      author=self.author))

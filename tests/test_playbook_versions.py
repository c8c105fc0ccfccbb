"""An incident follows the playbook version it opened with, and says so when that is not the one loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.core.playbook import load_file, shipped_dir
from tui.core.rules import RuleError
from tui.core.service import Mend
from tui.core.store import open_store


def _mine(folder: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = (shipped_dir() / "outage.toml").read_text().replace('name = "outage"', 'name = "mine"', 1)
    path = folder / "mine.toml"
    path.write_text(text + extra)
    return path


def _mend(data: Path, playbooks, clock) -> Mend:
    return Mend(open_store(data), playbooks, clock, author="ana")


def test_an_edited_playbook_leaves_open_incidents_on_their_kept_version(tmp_path, playbooks, clock):
    path = _mine(tmp_path / "books")
    first = load_file(path)
    mend = _mend(tmp_path / "data", {**playbooks, "mine": first}, clock)
    incident = mend.open("Checkout down", "Acme", playbook="mine")
    assert mend.playbook_for(incident) is first and mend.playbook_note(incident) is None

    _mine(tmp_path / "books", "\n# edited\n")
    edited = load_file(path)
    assert edited.digest != first.digest
    later = _mend(tmp_path / "data", {**playbooks, "mine": edited}, clock)
    kept = later.playbook_for(incident)
    assert kept.digest == first.digest and kept.source == "kept copy"
    assert later.playbook_note(incident) == ("playbook mine has changed since INC-1 opened; "
                                             "it follows the version it opened with")
    fresh = later.open("Invoices late", "Globex", playbook="mine")
    assert later.playbook_for(fresh) is edited and later.playbook_note(fresh) is None

    gone = _mend(tmp_path / "data", playbooks, clock)
    assert gone.playbook_for(incident).digest == first.digest
    assert gone.playbook_note(incident) == ("playbook mine is no longer loaded since INC-1 opened; "
                                            "it follows the version it opened with")


def test_without_a_kept_copy_an_incident_follows_what_is_loaded_and_says_so(tmp_path, playbooks, clock):
    path = _mine(tmp_path / "books")
    loaded = load_file(path)
    _mine(tmp_path / "books", "\n# edited after loading, before opening\n")  # no copy of the loaded version
    mend = _mend(tmp_path / "data", {**playbooks, "mine": loaded}, clock)
    incident = mend.open("Checkout down", "Acme", playbook="mine")
    edited = load_file(path)
    later = _mend(tmp_path / "data", {**playbooks, "mine": edited}, clock)
    assert later.playbook_for(incident) is edited
    assert later.playbook_note(incident) == ("playbook mine has changed since INC-1 opened and no copy of that "
                                             "version was kept; it follows the current one")
    gone = _mend(tmp_path / "data", playbooks, clock)
    assert gone.playbook_for(incident) is playbooks["service-recovery"]
    assert gone.playbook_note(incident) == "playbook mine is not loaded; showing service-recovery instead"


def test_a_damaged_kept_copy_falls_back_to_the_loaded_playbook(tmp_path, playbooks, clock):
    path = _mine(tmp_path / "books")
    first = load_file(path)
    mend = _mend(tmp_path / "data", {**playbooks, "mine": first}, clock)
    incident = mend.open("Checkout down", "Acme", playbook="mine")
    data = tmp_path / "damaged"
    damaged = _mend(data, playbooks, clock)
    damaged.store.keep_playbook_copy("mine", first.digest, b"not = [a playbook")
    damaged.import_incidents([incident])
    _mine(tmp_path / "books", "\n# edited\n")
    edited = load_file(path)
    assert _mend(data, {**playbooks, "mine": edited}, clock).playbook_for(incident) is edited


def test_an_unknown_playbook_is_refused_naming_the_loaded_ones(mend):
    with pytest.raises(RuleError, match=r"unknown playbook 'outag' \(did you mean \"outage\"\?\); loaded playbooks: "
                                        r"billing-error, heard, "):
        mend.open("t", "c", playbook="outag")

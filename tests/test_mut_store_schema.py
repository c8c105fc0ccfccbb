"""Schema errors at their edges: a lone surrogate inside details named by its path, msgspec's unforeseen words."""

from __future__ import annotations

import pytest
from test_store import opened

from tui.core.model import SchemaError
from tui.core.schema import _words, incident_from_mapping


def test_a_lone_surrogate_inside_details_is_named_by_its_path():
    doc = opened("INC-1").to_dict()
    doc["events"][0]["details"]["client"] = "A\ud800"
    with pytest.raises(SchemaError) as refused:
        incident_from_mapping(doc)
    assert str(refused.value) == "events[0].details.client: holds a lone surrogate, which no file or terminal can carry"


def test_a_msgspec_message_mend_has_no_words_for_is_passed_on_as_a_phrase():
    assert _words("Some message a newer msgspec writes", "events[0]") == "some message a newer msgspec writes"

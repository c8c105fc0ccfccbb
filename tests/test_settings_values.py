"""Settings values over the limit, and a settings file that cannot be read, keep the defaults."""

from __future__ import annotations

from tests.test_settings import HOME, load_text
from tui.core.settings import MAX_VALUE, Paths, load


def test_a_value_up_to_the_limit_is_taken_and_a_longer_one_refused_naming_the_limit(tmp_path):
    assert load_text(tmp_path, f'user = "{"a" * MAX_VALUE}"\n').user == "a" * MAX_VALUE
    settings = load_text(tmp_path, f'\n\nuser = "{"a" * (MAX_VALUE + 1)}"\n')
    [problem] = settings.problems
    assert (problem.key, problem.line) == ("user", 3)
    assert f"longer than {MAX_VALUE} characters" in problem.message
    assert settings.user is None


def test_a_settings_path_that_cannot_be_read_gives_the_defaults_and_says_why(tmp_path):
    (tmp_path / "file").write_text("")
    settings = load(Paths({**HOME, "MEND_CONFIG": str(tmp_path / "file" / "config.toml")}))  # not a folder
    [problem] = settings.problems
    assert problem.message == "cannot be read (Not a directory); using the defaults"
    assert settings.user is None

"""The settings file and the one resolver of mend's paths."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.helpers.cli_inprocess import mend as mend_in_process
from tui.core.settings import Paths, Settings, load, remember

HOME = {"HOME": "/home/ana"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str) -> Settings:
    return load(Paths({**HOME, "MEND_CONFIG": str(write(tmp_path, text))}))


# -- paths ----------------------------------------------------------------------------


def test_every_path_follows_the_xdg_folders():
    paths = Paths({**HOME, "XDG_CONFIG_HOME": "/srv/cfg", "XDG_DATA_HOME": "/srv/data"})
    assert paths.config_file == Path("/srv/cfg/mend/config.toml")
    assert paths.playbooks_dir == Path("/srv/cfg/mend/playbooks")
    assert paths.default_data_dir == Path("/srv/data/mend")


def test_a_relative_xdg_value_is_ignored_as_the_spec_says():
    paths = Paths({**HOME, "XDG_CONFIG_HOME": "cfg", "XDG_DATA_HOME": "./data"})
    assert paths.config_file == Path("/home/ana/.config/mend/config.toml")
    assert paths.default_data_dir == Path("/home/ana/.local/share/mend")


def test_mend_config_names_the_settings_file():
    assert Paths({**HOME, "MEND_CONFIG": "/tmp/x/my.toml"}).config_file == Path("/tmp/x/my.toml")


# -- reading --------------------------------------------------------------------------


def test_no_file_means_defaults_and_no_warning(tmp_path):
    settings = load(Paths({**HOME, "MEND_CONFIG": str(tmp_path / "absent.toml")}))
    assert settings == Settings(tmp_path / "absent.toml")
    assert settings.problems == ()


def test_every_setting_is_read_and_other_features_tables_are_kept(tmp_path):
    settings = load_text(tmp_path, '''
store = "/srv/mend"
user = "Ana Lima"
default_playbook = "outage"
theme = "nord"
signature = """Ana
Support lead"""

[keymap]
"board.advance" = "ctrl+right"
"board.back" = "ctrl+left, b"

[intake]
token_file = "/etc/mend/token"

[[hooks]]
on = "breach"
run = "notify-send"
''')
    assert settings.problems == ()
    assert (settings.store, settings.user, settings.default_playbook, settings.theme) == (
        "/srv/mend", "Ana Lima", "outage", "nord")
    assert settings.signature == "Ana\nSupport lead"
    assert settings.keymap == {"board.advance": "ctrl+right", "board.back": "ctrl+left,b"}
    assert settings.extra == {"intake": {"token_file": "/etc/mend/token"},
                              "hooks": [{"on": "breach", "run": "notify-send"}]}


def test_a_typo_is_one_warning_with_file_line_and_key_and_the_rest_still_counts(tmp_path):
    settings = load_text(tmp_path, '# mine\nuser = "ana"\nthme = "nord"\n')
    assert settings.user == "ana"
    assert settings.theme is None
    [problem] = settings.problems
    assert str(problem) == f'{tmp_path / "config.toml"}:3: thme: unknown setting (did you mean "theme"?); ignored'


def test_a_file_that_is_not_toml_warns_with_its_line_and_gives_defaults(tmp_path):
    settings = load_text(tmp_path, 'user = "ana"\ntheme = nord\n')
    [problem] = settings.problems
    assert problem.line == 2 and "not valid TOML" in problem.message and "using the defaults" in problem.message
    assert settings.user is None


@pytest.mark.parametrize(("text", "key", "line"), [
    ("user = 3\n", "user", 1),
    ('theme = "a\\u0007b"\n', "theme", 1),
    ('\n[keymap]\nboard.advance = "ctrl+right"\n', "keymap.board", 3),
    ('[keymap]\n"board.advance" = ["x"]\n', "keymap.board.advance", 2),
    ('keymap = "x"\n', "keymap", 1),
])
def test_a_value_of_the_wrong_kind_keeps_that_setting_default(tmp_path, text, key, line):
    settings = load_text(tmp_path, text)
    [problem] = settings.problems
    assert (problem.key, problem.line) == (key, line)
    assert settings.user is None and settings.theme is None and not settings.keymap


def test_an_oversized_file_is_not_read(tmp_path):
    settings = load_text(tmp_path, "# " + "x" * 300_000 + "\n")
    assert "larger than" in settings.problems[0].message


def test_a_fifo_or_deep_nesting_as_the_settings_file_gives_defaults_and_a_problem(tmp_path):
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)  # read as a plain file, it would wait for a writer on every command
    assert "not a regular file" in load(Paths({**HOME, "MEND_CONFIG": str(fifo)})).problems[0].message
    settings = load_text(tmp_path, "x = " + "[" * 100_000)
    assert settings.problems and settings.user is None


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(lambda text: text.encode("utf-8"))))
def test_any_file_gives_settings_never_an_error(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("any") / "config.toml"
    path.write_bytes(content)
    settings = load(Paths({**HOME, "MEND_CONFIG": str(path)}))
    for value in (settings.store, settings.user, settings.default_playbook, settings.theme):
        assert value is None or (isinstance(value, str) and value.isprintable())
    assert all(isinstance(keys, str) for keys in settings.keymap.values())


def test_author_is_mend_user_then_the_setting_then_the_login(tmp_path):
    settings = load_text(tmp_path, 'user = "Ana Lima"\n')
    assert settings.author({"MEND_USER": "bo"}) == "bo"
    assert settings.author({}) == "Ana Lima"
    assert Settings(tmp_path).author({}) != ""


# -- remembering ----------------------------------------------------------------------


def test_remember_changes_one_line_and_keeps_the_rest(tmp_path):
    path = write(tmp_path, '# my settings\ntheme = "nord"  # dark\nuser = "ana"\n\n[keymap]\n"board.new" = "N"\n')
    remember(path, "theme", "gruvbox")
    assert path.read_text() == '# my settings\ntheme = "gruvbox"\nuser = "ana"\n\n[keymap]\n"board.new" = "N"\n'
    remember(path, "signature", 'Ana "the fixer"')
    assert tomllib.loads(path.read_text())["signature"] == 'Ana "the fixer"'
    assert tomllib.loads(path.read_text())["keymap"] == {"board.new": "N"}, "added before the first table"
    assert path.stat().st_mode & 0o077 == 0


def test_remember_creates_the_file_and_never_replaces_a_broken_one(tmp_path):
    fresh = tmp_path / "new" / "config.toml"
    remember(fresh, "theme", "nord")
    assert fresh.read_text() == 'theme = "nord"\n'
    broken = write(tmp_path, "theme = nord\n")
    with pytest.raises(ValueError):
        remember(broken, "theme", "gruvbox")
    assert broken.read_text() == "theme = nord\n"


def test_remember_writes_through_a_symlinked_settings_file(tmp_path):
    real = tmp_path / "dotfiles" / "mend.toml"
    real.parent.mkdir()
    real.write_text('user = "ana"\n')
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    remember(link, "theme", "nord")
    assert link.is_symlink()
    assert real.read_text() == 'user = "ana"\ntheme = "nord"\n'


# -- the command line -----------------------------------------------------------------


def mend(tmp_path: Path, *args: str, config: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    path = write(tmp_path, config) if config is not None else tmp_path / "absent.toml"
    full_env = {**os.environ, "MEND_CONFIG": str(path), "MEND_DATA": str(tmp_path / "data"), **env}
    for name in ("MEND_USER", "MEND_DEBUG"):
        full_env.pop(name, None)
    full_env.update(env)
    return mend_in_process(args, full_env)  # main() in this process: no interpreter start-up per command


def test_a_settings_file_with_a_typo_warns_once_and_mend_runs_on_defaults(tmp_path):
    result = mend(tmp_path, "new", "Checkout down", "--client", "Globex", "--json",
                  config='defualt_playbook = "outage"\n')
    assert result.returncode == 0
    assert result.stderr == (f"mend: warning: {tmp_path / 'config.toml'}:1: defualt_playbook: unknown setting "
                             '(did you mean "default_playbook"?); ignored\n')
    assert '"playbook": "service-recovery"' in result.stdout
    assert mend(tmp_path, "config", "check", config='defualt_playbook = "outage"\n').returncode == 2


def test_settings_choose_the_store_the_author_and_the_playbook(tmp_path):
    store = tmp_path / "elsewhere"
    config = f'store = "{store}"\nuser = "Ana Lima"\ndefault_playbook = "outage"\n'
    result = mend(tmp_path, "new", "Down", "--client", "Globex", "--json", config=config, MEND_DATA="")
    assert result.returncode == 0, result.stderr
    assert '"playbook": "outage"' in result.stdout and '"owner": "Ana Lima"' in result.stdout
    assert (store / "open.json").exists()
    assert "INC-1" in mend(tmp_path, "list", config=config, MEND_DATA="", MEND_USER="bo").stdout
    shown = mend(tmp_path, "config", "show", config=config, MEND_DATA="", MEND_USER="bo").stdout
    assert f'store = "{store}"  # from the settings file' in shown
    assert 'user = "bo"  # from MEND_USER' in shown
    mend_data_wins = mend(tmp_path, "list", config=config)  # MEND_DATA names a folder with nothing in it
    assert mend_data_wins.returncode == 2 and f"no mend data at {tmp_path / 'data'}" in mend_data_wins.stderr


def test_config_path_and_check(tmp_path):
    assert mend(tmp_path, "config", "path").stdout == f"{tmp_path / 'absent.toml'}\n"
    assert "no settings file; defaults in use" in mend(tmp_path, "config", "check").stdout
    good = mend(tmp_path, "config", "check", config='theme = "nord"\n[keymap]\n"board.new" = "N"\n')
    assert good.returncode == 0 and "the settings are valid" in good.stdout
    bad = mend(tmp_path, "config", "check", config='theme = "nrod"\ndefault_playbook = "outge"\n'
                                                   '[keymap]\n"board.advence" = "N"\n')
    assert bad.returncode == 2
    assert 'keymap.board.advence: no key binding has this id (did you mean "board.advance"?)' in bad.stderr
    assert "theme: no theme named 'nrod' (did you mean \"nord\"?)" in bad.stderr
    assert "default_playbook: no playbook named 'outge' (did you mean \"outage\"?)" in bad.stderr


def test_a_store_url_is_refused_in_one_line(tmp_path):
    result = mend(tmp_path, "list", config='store = "postgresql://db/mend"\n', MEND_DATA="")
    assert result.returncode == 3 and "Traceback" not in result.stderr  # a server that cannot be reached
    assert len(result.stderr.splitlines()) == 1


def test_the_settings_module_loads_neither_textual_nor_platformdirs_on_linux():
    code = ("import sys, tui.core.settings as s; s.load(s.Paths({'HOME': '/nowhere'})); "
            "assert not [m for m in sys.modules if m.startswith(('textual', 'platformdirs'))]")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_config_show_never_prints_the_tables_other_features_read(tmp_path):
    shown = mend(tmp_path, "config", "show", config='[intake]\ntoken = "s3cret-token"\n').stdout
    assert "s3cret-token" not in shown and "[intake]" in shown


def test_config_show_masks_a_password_in_the_store_url(tmp_path):
    config = 'store = "postgresql://ana:s3cret@db.example/mend"\n'
    shown = mend(tmp_path, "config", "show", config=config, MEND_DATA="")
    assert shown.returncode == 0, shown.stderr
    assert 'store = "postgresql://ana:***@db.example/mend"  # from the settings file' in shown.stdout
    assert "s3cret" not in shown.stdout + shown.stderr

"""config.toml: profiles, the environment's default, errors that name the file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tui.core import config as cfg
from tui.core.config import Config, ConfigError, Profile, load_config, save_config


def test_no_config_gives_default_profile_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k-from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    config = load_config(tmp_path / "config.toml")
    profile = config.profile()
    assert profile.name == "default"
    assert profile.api_key() == "k-from-env"
    assert profile.resolved_base_url() == "http://127.0.0.1:9/v1"
    assert profile.host() == "127.0.0.1:9"


def test_default_base_url_without_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert Profile("x").resolved_base_url() == cfg.DEFAULT_BASE_URL


def test_profiles_round_trip_private_and_without_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORK_KEY", "secret-value-123")
    path = tmp_path / "conf" / "config.toml"
    config = Config(
        profiles={
            "work": Profile("work", base_url="https://api.openai.com/v1", api_key_env="WORK_KEY"),
            "local": Profile("local", base_url="http://127.0.0.1:8000/v1", project="p1"),
        },
        default_profile="local",
    )
    save_config(config, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "secret-value-123" not in path.read_text()
    loaded = load_config(path)
    assert loaded.default_profile == "local"
    assert loaded.profile().project == "p1"
    assert loaded.profile("work").api_key() == "secret-value-123"


def test_api_key_in_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[profiles.p]\napi_key = "sk-x"\n')
    with pytest.raises(ConfigError, match="api_key_env"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[profiles.p\n", "not valid TOML"),
        ("[profiles.p]\nbase_url = 3\n", r"profiles.p\].base_url must be a string"),
        ('[profiles.p]\nnope = "x"\n', "unknown field 'nope'"),
        ('[settings]\nprofile = "q"\n[profiles.p]\n', "'q', which is not a profile"),
        ('[settings]\nprofile = ["a"]\n[profiles.a]\n', "settings.profile must be a string"),
        ('[profiles.p]\napi_key_env = "sk-abc123-secret"\n', "NAME of an environment variable"),
    ],
)
def test_bad_config_names_file_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_unknown_profile_lists_known(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[profiles.a]\n[profiles.b]\n")
    with pytest.raises(ConfigError, match="profiles: a, b"):
        load_config(path).profile("zzz")


def test_override_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tui.core import paths

    monkeypatch.setenv("BATCHDECK_CONFIG_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("BATCHDECK_DATA_DIR", str(tmp_path / "d"))
    assert paths.config_file() == tmp_path / "c" / "config.toml"
    assert paths.registry_dir().parent == tmp_path / "c"
    assert paths.data_dir() == tmp_path / "d"


def test_platformdirs_used_without_override(monkeypatch: pytest.MonkeyPatch) -> None:
    from tui.core import paths

    monkeypatch.delenv("BATCHDECK_CONFIG_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", "/tmp/xdg-config-test")
    assert paths.config_dir() == Path("/tmp/xdg-config-test/batchdeck")


def test_key_pasted_as_env_name_is_not_echoed(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[profiles.p]\napi_key_env = "sk-proj-abcdef0123456789"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "sk-proj" not in str(info.value)


USER_CONFIG = """\
# My batchdeck setup: keep this comment.

[profiles]
# the local vLLM box
local = { base_url = "http://127.0.0.1:8000/v1", api_key_env = "LOCAL_KEY" }

[settings]
bell    = true      # ring when a batch ends
theme = 'nord'   # single quotes, odd spacing
profile = "work"

[profiles.work]
project = "proj_1"
api_key_env = "WORK_KEY"   # the key lives in the environment


# trailing notes
"""


def test_theme_change_and_profile_switch_keep_the_users_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(USER_CONFIG)
    config = load_config(path)

    config.settings["theme"] = "dracula"  # what the app's T does
    save_config(config)
    expected = USER_CONFIG.replace("theme = 'nord'", 'theme = "dracula"')
    assert path.read_text() == expected
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    config.default_profile = "local"  # a profile switch
    save_config(config)
    expected = expected.replace('profile = "work"', 'profile = "local"')
    assert path.read_text() == expected

    reloaded = load_config(path)
    assert reloaded.settings["theme"] == "dracula" and reloaded.default_profile == "local"
    save_config(reloaded)  # nothing changed: not a byte moves
    assert path.read_text() == expected


def test_profile_edits_change_only_their_keys(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(USER_CONFIG)
    config = load_config(path)
    config.profiles["local"] = Profile("local", "http://127.0.0.1:9000/v1", "LOCAL_KEY")
    config.profiles["new"] = Profile("new", project="p2")
    save_config(config)
    added = '[profiles.new]\napi_key_env = "OPENAI_API_KEY"\nproject = "p2"\n'
    assert path.read_text().replace(added, "") == USER_CONFIG.replace("8000", "9000")
    assert load_config(path).profile("new").project == "p2"
    del config.profiles["new"]
    save_config(config)
    assert path.read_text() == USER_CONFIG.replace("8000", "9000")


def test_a_value_the_user_edited_meanwhile_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(USER_CONFIG)
    config = load_config(path)
    path.write_text(USER_CONFIG.replace("bell    = true", "bell    = false"))
    config.settings["theme"] = "dracula"
    save_config(config)
    assert load_config(path).settings == {"bell": False, "theme": "dracula", "profile": "work"}

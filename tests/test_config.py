"""Settings as one table: each field names its environment variable, type, default and help once; from_env reads
every one the same way; the README's settings table lists exactly these variables."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from adapters_ui.config import DEVICES, DTYPES, LOG_LEVELS, Settings
from adapters_ui.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
FIELDS = dataclasses.fields(Settings)
ENVS = {f.metadata["env"]: f.name for f in FIELDS}
NAME = re.compile(r"ADAPTERS_UI_[A-Z0-9_]*[A-Z0-9]")
# Read by the test suite and its scripts, not by the app: documented where they are used, not in the table.
NOT_SETTINGS = {"ADAPTERS_UI_TEST_POSTGRES_URL", "ADAPTERS_UI_PG_PORT",
                # the judge's API key itself: read from the variable ADAPTERS_UI_JUDGE_API_KEY_ENV names (this one by
                # default) when a judge is made, never a setting, never stored
                "ADAPTERS_UI_JUDGE_API_KEY"}


def readme_settings_table() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Settings (environment variables; flags win)", 1)[1]
    return "\n".join(line for line in section.split("\n#", 1)[0].splitlines() if line.startswith("|"))


def test_every_setting_declares_its_variable_and_help_once():
    assert len(ENVS) == len(FIELDS)  # no variable shared by two settings
    for f in FIELDS:
        assert f.metadata["env"].startswith("ADAPTERS_UI_") and f.metadata["help"].strip(), f.name
        assert Settings.env_of(f.name) == f.metadata["env"]


def test_the_defaults():
    defaults = Settings()
    assert {f.name: getattr(defaults, f.name) for f in FIELDS if f.name != "cache_dir"} == {
        "base_model": None, "device": "auto", "dtype": "auto", "adapter_dirs": (), "max_new_tokens": 64,
        "max_new_tokens_cap": 512, "max_adapters": 16, "max_adapter_bytes": 2 * 1024**3, "max_upload_bytes": 4 * 1024**3,
        "max_prompts": 64, "max_outputs": 256, "max_runs": 16, "max_queue": 64, "gpu_duration_s": 120,
        "database_url": None, "public_url": "http://127.0.0.1:7860", "public": False, "demo": True, "merges": True,
        "backend_url": None, "backend_api_key": None, "backend_adapter_name": "{adapter}", "backend_model": None,
        "backend_timeout_s": 120.0, "judge_url": None, "judge_model": None, "judge_local": None,
        "judge_api_key_env": "ADAPTERS_UI_JUDGE_API_KEY", "log_level": None}
    assert Settings.from_env({}) == defaults and "backend_api_key" not in repr(defaults)
    assert Settings.from_env({"XDG_CACHE_HOME": "/elsewhere"}).cache_dir == defaults.cache_dir  # only ADAPTERS_UI_* count


# Each setting's variable set to a value other than its default, as text and as read.
SET = {
    "base_model": (" owner/name ", "owner/name"), "device": ("CPU", "cpu"), "dtype": ("BFloat16", "bfloat16"),
    "cache_dir": ("~/somewhere", Path("~/somewhere").expanduser()),
    "adapter_dirs": (os.pathsep.join(["/a", "", "/b"]), (Path("/a"), Path("/b"))),
    "max_new_tokens": ("32", 32), "max_new_tokens_cap": ("100", 100), "max_adapters": ("3", 3),
    "max_adapter_bytes": ("1000", 1000), "max_upload_bytes": ("2000", 2000), "max_prompts": ("5", 5),
    "max_outputs": ("6", 6), "max_runs": ("2", 2), "max_queue": ("7", 7), "gpu_duration_s": ("30", 30),
    "database_url": (" sqlite:///x.db ", "sqlite:///x.db"), "public_url": ("https://example.org", "https://example.org"),
    "public": ("Yes", True), "demo": ("off", False), "merges": ("0", False), "backend_url": ("http://h:8000", "http://h:8000"),
    "backend_api_key": ("k", "k"), "backend_adapter_name": ("{base}:{adapter}", "{base}:{adapter}"),
    "backend_model": ("m", "m"), "backend_timeout_s": ("2.5", 2.5), "judge_url": ("http://j:8001", "http://j:8001"),
    "judge_model": ("prometheus", "prometheus"), "judge_local": ("embedded", "embedded"), "judge_api_key_env": ("MY_JUDGE_KEY", "MY_JUDGE_KEY"),
    "log_level": (" debug ", "DEBUG"),
}


def test_every_variable_is_read_as_its_type():
    assert set(SET) == {f.name for f in FIELDS}
    settings = Settings.from_env({Settings.env_of(name): text for name, (text, _) in SET.items()})
    assert {name: getattr(settings, name) for name in SET} == {name: value for name, (_, value) in SET.items()}


def test_flags_beat_variables_which_beat_defaults_and_blanks_count_as_unset():
    env = {"ADAPTERS_UI_MAX_RUNS": "3", "ADAPTERS_UI_DTYPE": "float16", "ADAPTERS_UI_BACKEND_URL": "  ",
           "ADAPTERS_UI_MAX_QUEUE": ""}
    settings = Settings.from_env(env, max_runs=5, dtype=None, device="cpu")
    assert (settings.max_runs, settings.dtype, settings.device) == (5, "float16", "cpu")
    assert (settings.backend_url, settings.max_queue) == (None, 64)


@pytest.mark.parametrize("word, public, demo", [("1", True, True), ("TRUE", True, True), ("no", False, False),
                                                ("off", False, False), ("maybe", False, True)])
def test_a_switch_word_that_is_neither_yes_nor_no_keeps_the_default(word, public, demo):
    settings = Settings.from_env({"ADAPTERS_UI_PUBLIC": word, "ADAPTERS_UI_DEMO": word})
    assert (settings.public, settings.demo) == (public, demo)


@pytest.mark.parametrize("env, error", [
    ({"ADAPTERS_UI_MAX_PROMPTS": "1e3"}, "ADAPTERS_UI_MAX_PROMPTS must be a whole number, got '1e3'."),
    ({"ADAPTERS_UI_MAX_RUNS": "0"}, "max_runs must be at least 1, got 0."),
    ({"ADAPTERS_UI_BACKEND_TIMEOUT_S": "soon"}, "ADAPTERS_UI_BACKEND_TIMEOUT_S must be a number of seconds, got 'soon'."),
    ({"ADAPTERS_UI_BACKEND_TIMEOUT_S": "-1"}, "backend_timeout_s must be above 0, got -1.0."),
    ({"ADAPTERS_UI_DEVICE": "tpu"}, f"Unknown device 'tpu' (ADAPTERS_UI_DEVICE): use one of {', '.join(DEVICES)}."),
    ({"ADAPTERS_UI_DTYPE": "int4"}, f"Unknown dtype 'int4' (ADAPTERS_UI_DTYPE): use one of {', '.join(DTYPES)}."),
    ({"ADAPTERS_UI_LOG_LEVEL": "loud"}, f"Unknown log level 'loud' (ADAPTERS_UI_LOG_LEVEL): use one of {', '.join(LOG_LEVELS)}."),
    ({"ADAPTERS_UI_BACKEND_ADAPTER_NAME": "lora"}, "ADAPTERS_UI_BACKEND_ADAPTER_NAME must contain {adapter}, got 'lora'"),
    ({"ADAPTERS_UI_BACKEND_ADAPTER_NAME": "{adapter}-{x}"}, "ADAPTERS_UI_BACKEND_ADAPTER_NAME may name only {base} and {adapter}"),
])
def test_a_bad_value_is_one_line_that_names_it(env, error):
    with pytest.raises(ConfigError, match=re.escape(error)):
        Settings.from_env(env)


def test_the_readme_settings_table_lists_every_setting_and_only_settings():
    listed = set(NAME.findall(readme_settings_table()))
    assert sorted(set(ENVS) - listed) == [], "settings missing from the README's settings table"
    assert sorted(listed - set(ENVS) - NOT_SETTINGS) == [], "the README's settings table lists variables no setting reads"


def test_every_variable_the_readme_and_the_code_name_is_a_setting():
    """A renamed setting leaves no stale name behind in an error message, a flag's help or the README."""
    texts = {"README.md": (ROOT / "README.md").read_text(encoding="utf-8"), "app.py": (ROOT / "app.py").read_text()}
    texts.update({str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in (ROOT / "adapters_ui").rglob("*.py")})
    unknown = {(where, name) for where, text in texts.items() for name in NAME.findall(text)
               if name not in ENVS and name not in NOT_SETTINGS}
    assert sorted(unknown) == []

"""The one settings object: defaults < file < environment < flags, each value's source,
one clear error per bad value, `companion config show`, and nobody else reading the
environment."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from cloud.config import CloudConfig
from companion.cli import _parser, main
from companion.settings import (
    BY_NAME,
    MASK,
    SETTINGS,
    Settings,
    SettingsError,
    Source,
    load_settings,
)
from edge.audio.activation import ActivationConfig
from edge.audio.endpointing import EndpointConfig
from edge.config import EdgeConfig
from gateway.config import GatewayConfig

ROOT = Path(__file__).resolve().parents[1]


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "companion.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------- defaults


def test_without_file_env_or_flags_every_value_is_the_parts_own_default() -> None:
    settings = load_settings(environ={})

    assert all(settings.source(s.name) == Source("default") for s in SETTINGS)
    assert settings.cloud_config() == CloudConfig(data_dir=settings.data_dir)
    assert settings.edge_config() == EdgeConfig()
    assert settings.gateway_config() == GatewayConfig()
    assert settings.data_dir == Path.home() / ".local" / "share" / "companion"


def test_endpointing_and_turn_taking_defaults_agree_with_the_edge_config() -> None:
    edge, endpoint, activation = EdgeConfig(), EndpointConfig(), ActivationConfig()

    assert edge.end_silence_ms == endpoint.end_silence_ms == 288  # within 300 ms of the word
    assert (edge.pre_roll_ms, edge.min_speech_ms) == (endpoint.pre_roll_ms, endpoint.min_speech_ms)
    assert (edge.activation, edge.follow_up_s, edge.barge_in) == (
        activation.mode,
        activation.follow_up_s,
        activation.barge_in,
    )
    assert load_settings(environ={}).edge_end_silence_ms == 288


def test_xdg_folders_move_the_default_data_and_cache_and_say_so(tmp_path: Path) -> None:
    environ = {"XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "c")}
    settings = load_settings(environ=environ)

    assert settings.data_dir == tmp_path / "data" / "companion"
    assert settings.cache_dir == tmp_path / "c" / "companion"
    assert str(settings.source("data_dir")) == "env XDG_DATA_HOME"


# ----------------------------------------------------------------- precedence


def test_a_file_overrides_the_default(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        'data_dir = "/srv/companion"\n'
        "[cloud]\n"
        'reasoner = "openai"\nopenai_images = ["reasoning"]\nopenai_port = 9000\n'
        "[edge]\nend_silence_ms = 400\nbarge_in = false\n",
    )
    settings = load_settings(config_file=path, environ={})

    assert settings.data_dir == Path("/srv/companion")
    assert (settings.cloud_reasoner, settings.cloud_openai_port) == ("openai", 9000)
    assert (settings.edge_end_silence_ms, settings.edge_barge_in) == (400, False)
    cloud = settings.cloud_config()
    assert (cloud.openai_images_fast, cloud.openai_images_reasoning) == (False, True)
    assert settings.source("edge.end_silence_ms") == Source("file", str(path))
    assert settings.source("cloud.openai_model") == Source("default")
    assert settings.config_file == path


def test_the_environment_overrides_the_file(tmp_path: Path) -> None:
    path = _file(tmp_path, "[edge]\nend_silence_ms = 400\n[cloud]\nreasoner = 'openai'\n")
    settings = load_settings(config_file=path, environ={"COMPANION_END_SILENCE_MS": "500"})

    assert settings.edge_end_silence_ms == 500
    assert settings.source("edge.end_silence_ms") == Source("env", "COMPANION_END_SILENCE_MS")
    assert settings.cloud_reasoner == "openai"  # the file still sets what the env does not


def test_a_flag_overrides_the_environment_and_the_file(tmp_path: Path) -> None:
    path = _file(tmp_path, "[edge]\nend_silence_ms = 400\n")
    settings = load_settings(
        config_file=path,
        environ={"COMPANION_END_SILENCE_MS": "500"},
        flags={"edge.end_silence_ms": ("--end-silence-ms", 600)},
    )

    assert settings.edge_end_silence_ms == 600
    assert settings.source("edge.end_silence_ms") == Source("flag", "--end-silence-ms")


def test_companion_config_names_the_file_and_the_config_flag_wins_over_it(
    tmp_path: Path,
) -> None:
    from_env = _file(tmp_path, "user = 'ana'\n")
    from_flag = tmp_path / "other.toml"
    from_flag.write_text("user = 'ben'\n", encoding="utf-8")

    assert load_settings(environ={"COMPANION_CONFIG": str(from_env)}).user == "ana"
    chosen = load_settings(config_file=from_flag, environ={"COMPANION_CONFIG": str(from_env)})
    assert (chosen.user, chosen.config_file) == ("ben", from_flag)


def test_an_empty_variable_counts_as_unset() -> None:
    settings = load_settings(environ={"COMPANION_REASONER": "", "COMPANION_ASR_MODEL": ""})

    assert settings.cloud_reasoner == "bundled" and settings.cloud_asr_model is None
    assert settings.source("cloud.reasoner") == Source("default")


def test_command_line_flags_reach_the_parts_configs(tmp_path: Path) -> None:
    args = _parser().parse_args(
        ["serve", "--port", "9090", "--cloud-port", "9091", "--openai-port", "9092"]
    )
    settings: Settings = args.settings

    assert settings.gateway_config().port == 9090
    assert (settings.cloud_config().port, settings.cloud_config().openai_port) == (9091, 9092)
    assert str(settings.source("cloud.openai_port")) == "flag --openai-port"


def test_the_transcription_key_falls_back_to_the_chat_key() -> None:
    shared = load_settings(environ={"OPENAI_API_KEY": "sk-chat"}).cloud_config()
    own = load_settings(
        environ={"OPENAI_API_KEY": "sk-chat", "COMPANION_ASR_API_KEY": "sk-asr"}
    ).cloud_config()

    assert (shared.openai_api_key, shared.asr_api_key) == ("sk-chat", "sk-chat")
    assert (own.openai_api_key, own.asr_api_key) == ("sk-chat", "sk-asr")


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"COMPANION_OPENAI_IMAGES": "foo"},
            "COMPANION_OPENAI_IMAGES=foo: expected a comma list of fast,reasoning",
        ),
        (
            {"COMPANION_END_SILENCE_MS": "soon"},
            "COMPANION_END_SILENCE_MS=soon: expected a whole number from 0 to 5000",
        ),
        (
            {"COMPANION_REASONER": "gpt"},
            "COMPANION_REASONER=gpt: expected one of bundled, openai",
        ),
        (
            {"COMPANION_NATIVE_LOGS": "maybe"},
            "COMPANION_NATIVE_LOGS=maybe: expected one of 1, true, yes, on, 0, false, no, off",
        ),
        (
            {"COMPANION_GATEWAY_PORT": "70000"},
            "COMPANION_GATEWAY_PORT=70000: expected a port number from 0 to 65535",
        ),
    ],
)
def test_a_bad_environment_value_is_one_error_naming_the_variable(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(environ=environ)
    assert str(raised.value) == message


def test_a_bad_file_value_names_the_file_and_the_setting(tmp_path: Path) -> None:
    path = _file(tmp_path, "[edge]\nend_silence_ms = 9000\nmode = 'slow'\n")

    with pytest.raises(SettingsError) as raised:
        load_settings(config_file=path, environ={})
    assert str(raised.value) == (
        f"{path}: edge.end_silence_ms = 9000: expected a whole number from 0 to 5000"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[cloud]\nreasonr = 'openai'\n", "unknown setting cloud.reasonr"),
        (
            "[cloud]\nopenai_api_key = 'sk-x'\n",
            "read from the environment only (set OPENAI_API_KEY)",
        ),
        ("[cloud\n", "not valid TOML"),
    ],
)
def test_a_file_with_an_unknown_name_a_secret_or_bad_toml_is_refused(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = _file(tmp_path, text)

    with pytest.raises(SettingsError) as raised:
        load_settings(config_file=path, environ={})
    assert str(raised.value).startswith(f"{path}: ") and expected in str(raised.value)


def test_a_missing_settings_file_says_who_named_it(tmp_path: Path) -> None:
    with pytest.raises(
        SettingsError, match="no such settings file \\(named by COMPANION_CONFIG\\)"
    ):
        load_settings(environ={"COMPANION_CONFIG": str(tmp_path / "gone.toml")})


def test_a_bad_secret_value_is_never_echoed() -> None:
    # No secret setting can fail to parse as text, but the message form must not leak one.
    with pytest.raises(SettingsError) as raised:
        load_settings(environ={"OPENAI_API_KEY": "sk-secret", "COMPANION_CLOUD_PORT": "x"})
    assert "sk-secret" not in str(raised.value)


def test_the_command_exits_2_with_the_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COMPANION_OPENAI_IMAGES", "foo")

    with pytest.raises(SystemExit) as exited:
        main(["config", "show"])
    assert exited.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert (
        last
        == "companion: error: COMPANION_OPENAI_IMAGES=foo: expected a comma list of fast,reasoning"
    )


# ----------------------------------------------------------------- config show


def test_config_show_json_prints_every_setting_with_its_source_and_masks_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path, "[edge]\nend_silence_ms = 400\nmode = 'fast'\n")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    monkeypatch.setenv("COMPANION_OPENAI_SERVE_KEY", "serve-secret")
    monkeypatch.setenv("COMPANION_MODE", "reasoning")
    monkeypatch.delenv("COMPANION_CONFIG", raising=False)

    assert main(["--config", str(path), "config", "show", "--json"]) == 0
    out = capsys.readouterr().out
    shown = json.loads(out)

    rows = {row["name"]: row for row in shown["settings"]}
    assert list(rows) == [s.name for s in SETTINGS]
    assert shown["config_file"] == str(path)
    assert rows["edge.end_silence_ms"] == {
        "name": "edge.end_silence_ms",
        "value": 400,
        "source": f"file {path}",
        "env": "COMPANION_END_SILENCE_MS",
    }
    assert (rows["edge.mode"]["value"], rows["edge.mode"]["source"]) == (
        "reasoning",
        "env COMPANION_MODE",
    )
    assert rows["cloud.reasoner"]["source"] == "default"
    # conftest points COMPANION_DATA at the test session's own folder.
    assert rows["data_dir"]["source"] == "env COMPANION_DATA"
    assert rows["cloud.openai_api_key"]["value"] == MASK
    assert rows["cloud.openai_serve_key"]["value"] == MASK
    assert rows["cloud.asr_api_key"]["value"] is None
    assert "sk-very-secret" not in out and "serve-secret" not in out


def test_config_show_text_names_each_setting_value_and_source(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("COMPANION_CONFIG", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")

    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out

    lines = out.splitlines()
    assert lines[0] == "# settings file: none"
    assert len(lines) == 1 + len(SETTINGS)
    assert any(
        line.startswith("cloud.openai_api_key") and MASK in line and "(env OPENAI_API_KEY;" in line
        for line in lines
    )
    assert "sk-very-secret" not in out


def test_every_setting_has_help_an_env_var_and_a_default_its_kind_accepts() -> None:
    for setting in SETTINGS:
        assert setting.help and setting.env, setting.name
        assert BY_NAME[setting.name] is setting
        assert (
            hasattr(Settings, "__dataclass_fields__")
            and setting.field in Settings.__dataclass_fields__
        )
        if setting.default is not None:
            assert setting.kind.parse(setting.default) == setting.default, setting.name


# ----------------------------------------------------------------- one reader of the environment

PARTS = (
    "edge",
    "cloud",
    "gateway",
    "protocol",
    "firmware_bridge",
    "simulators",
    "deploy",
    "modelfiles",
    "companion",
)


def _reads_environment(path: Path, root: Path = ROOT) -> list[str]:
    """Each `os.environ` / `os.getenv` / `os.putenv` use, and `environ` imported from os."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("environ", "environb", "getenv", "putenv", "unsetenv")
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ):
            found.append(f"{path.relative_to(root)}:{node.lineno} os.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            names = {alias.name for alias in node.names}
            if names & {"environ", "environb", "getenv", "putenv", "unsetenv"}:
                found.append(f"{path.relative_to(root)}:{node.lineno} from os import …")
    return found


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = [
        use
        for part in PARTS
        for path in sorted((ROOT / part).rglob("*.py"))
        if path != ROOT / "companion" / "settings.py"
        for use in _reads_environment(path)
    ]
    assert readers == []


def test_the_environment_check_catches_a_reader(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("import os\nfrom os import getenv\nX = os.environ.get('A')\n")

    assert sorted(_reads_environment(sneaky, tmp_path)) == [
        "sneaky.py:2 from os import …",
        "sneaky.py:3 os.environ",
    ]


def test_the_readme_settings_table_lists_every_setting_and_its_variable() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]

    for setting in SETTINGS:
        assert f"| `{setting.name}` | `{setting.env}` |" in section, setting.name
    assert "companion config show" in section

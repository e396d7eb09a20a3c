"""Companion's settings: one typed object, built here and nowhere else.

Each setting has a name, a kind (how a text or file value becomes its typed
value), a default, an environment variable and a line of help. Values come in
layers: the defaults, then a TOML file (`--config FILE` or COMPANION_CONFIG),
then the environment, then command-line flags. The last layer that sets a value
wins and is remembered as its source, so `companion config show` can say where
each value came from, and a bad value is one error naming the setting and the
source ("COMPANION_OPENAI_IMAGES=foo: expected a comma list of fast,reasoning").

This is the only module that reads the environment. The parts keep taking their
own small frozen configs (CloudConfig, EdgeConfig, GatewayConfig), which this
object builds; their dataclass defaults are the defaults here, so each value has
one source of truth.

The file holds the settings in tables named like them:

    data_dir = "/srv/companion"
    [cloud]
    reasoner = "openai"
    openai_model = "qwen2.5-7b-instruct"
    [edge]
    end_silence_ms = 400

Secrets (API keys, the serve key) are read from the environment only, never
from the file, and are shown masked.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from cloud.config import REASONER_DTYPES, REASONERS, CloudConfig
from edge.audio.activation import ACTIVATION_MODES
from edge.config import EdgeConfig
from gateway.config import GatewayConfig
from protocol import ANSWER_MODES, PRIVACY_MODES, AnswerMode, PrivacyMode
from simulators.recordings import RECORDINGS

CONFIG_ENV = "COMPANION_CONFIG"
MAX_END_SILENCE_MS = 5_000
IMAGE_MODES = ("fast", "reasoning")
MASK = "********"


class SettingsError(ValueError):
    """A setting's value cannot be used; the message names the setting and its source."""


# ----------------------------------------------------------------- kinds


@dataclass(frozen=True)
class Kind:
    """How a value becomes the setting's type.

    `parse` takes the text of an environment variable or a flag, or the value a
    TOML file holds (a number, a boolean, a list), and raises ValueError or
    TypeError when it cannot be used; `expected` completes "expected …".
    """

    expected: str
    parse: Callable[[object], Any]


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def _nonempty(value: object) -> str:
    text = _text(value)
    if not text.strip():
        raise ValueError(value)
    return text


TEXT = Kind("text", _text)
NONEMPTY = Kind("non-empty text", _nonempty)


def _choice(*options: str) -> Kind:
    def parse(value: object) -> str:
        text = _text(value).strip()
        if text not in options:
            raise ValueError(value)
        return text

    return Kind(f"one of {', '.join(options)}", parse)


def _whole(low: int, high: int) -> Kind:
    def parse(value: object) -> int:
        if isinstance(value, bool):
            raise TypeError(value)
        number = value if isinstance(value, int) else int(_text(value).strip())
        if not low <= number <= high:
            raise ValueError(value)
        return number

    return Kind(f"a whole number from {low} to {high}", parse)


def _optional_port(value: object) -> int | None:
    if isinstance(value, str) and value.strip().lower() in ("", "off"):
        return None
    number: int = _whole(0, 65535).parse(value)
    return number


def _seconds(value: object) -> float:
    if isinstance(value, bool):
        raise TypeError(value)
    number = float(value) if isinstance(value, int | float) else float(_text(value).strip())
    if not 0.0 <= number < float("inf"):
        raise ValueError(value)
    return number


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _switch(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(value)


def _folder(value: object) -> Path:
    if isinstance(value, Path):
        return value
    return Path(_nonempty(value)).expanduser()


def _store(value: object) -> str:
    """A store URL is shown by `config show`, so it may not carry a password."""
    text = _text(value).strip()
    if text and (not text.startswith(("postgresql://", "postgres://")) or urlsplit(text).password):
        raise ValueError(value)
    return text


def _bus(value: object) -> str:
    """A bus URL is shown by `config show`, so it may not carry a password either."""
    text = _text(value).strip()
    if text and (not text.startswith(("redis://", "rediss://")) or urlsplit(text).password):
        raise ValueError(value)
    return text


def _optional_folder(value: object) -> Path | None:
    if isinstance(value, str) and not value.strip():
        return None
    return _folder(value)


def _image_modes(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",") if item.strip()]
    elif isinstance(value, list | tuple):
        items = [_text(item).strip() for item in value]
    else:
        raise TypeError(value)
    if any(item not in IMAGE_MODES for item in items):
        raise ValueError(value)
    return tuple(mode for mode in IMAGE_MODES if mode in items)


PORT = Kind("a port number from 0 to 65535", _whole(0, 65535).parse)
OPTIONAL_PORT = Kind('a port number from 0 to 65535, or "off"', _optional_port)
SECONDS = Kind("a number of seconds, 0 or more", _seconds)
SWITCH = Kind(f"one of {', '.join(_TRUE + _FALSE)}", _switch)
FOLDER = Kind("a folder path", _folder)
OPTIONAL_FOLDER = Kind("a folder path, or empty for none", _optional_folder)
IMAGE_MODE_LIST = Kind(f"a comma list of {','.join(IMAGE_MODES)}", _image_modes)


# ----------------------------------------------------------------- the settings


@dataclass(frozen=True)
class Setting:
    """One setting. `name` is how the file and `config show` call it ("cloud.reasoner":
    key `reasoner` in the file's `[cloud]` table); its value is the Settings field of the
    same name with dots as underscores (`cloud_reasoner`)."""

    name: str
    kind: Kind
    default: Any
    env: str
    help: str
    secret: bool = False
    # An environment variable the default is built from when `env` is unset (XDG_*).
    default_env: tuple[str, Callable[[str], Any]] | None = None

    @property
    def field(self) -> str:
        return self.name.replace(".", "_")


def _part_default(config: type[Any], name: str) -> Any:
    """A part config's own default, so the settings never disagree with it."""
    for item in dataclasses.fields(config):
        if item.name == name and item.default is not dataclasses.MISSING:
            return item.default
    raise LookupError(f"{config.__name__}.{name} has no plain default")


def _default_images() -> tuple[str, ...]:
    fast = _part_default(CloudConfig, "openai_images_fast")
    reasoning = _part_default(CloudConfig, "openai_images_reasoning")
    return tuple(mode for mode, on in zip(IMAGE_MODES, (fast, reasoning), strict=True) if on)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "data_dir",
        FOLDER,
        Path.home() / ".local" / "share" / "companion",
        "COMPANION_DATA",
        "each user's memories, notes and reminders, and the gateway's accounts",
        default_env=("XDG_DATA_HOME", lambda base: Path(base) / "companion"),
    ),
    Setting(
        "store",
        Kind("empty (SQLite under data_dir) or a postgresql:// URL without a password", _store),
        _part_default(CloudConfig, "store"),
        "COMPANION_STORE",
        "where memories live: empty for one SQLite file per user under data_dir, or a "
        "postgresql://user@host/db URL shared by every cloud worker (its password in "
        "PGPASSWORD or ~/.pgpass, never in the URL)",
    ),
    Setting(
        "bus",
        Kind("empty (gateway and cloud in one process) or a redis:// URL without a password", _bus),
        "",
        "COMPANION_BUS",
        "empty: the gateway reaches the cloud over its websocket; a redis://host:port/db URL: "
        "`companion gateway` and `companion cloud` processes share turns through Redis "
        "(no password in the URL: keep Redis on a private network)",
    ),
    Setting(
        "bus_secret",
        TEXT,
        None,
        "COMPANION_BUS_SECRET",
        "the secret gateways and cloud workers sign the bus's turns and replies with (at least "
        "32 characters); unset: bus.secret under data_dir, made on first use",
        secret=True,
    ),
    Setting(
        "cache_dir",
        FOLDER,
        Path.home() / ".cache" / "companion",
        "COMPANION_CACHE",
        "derived model files (assembled parts, the unpacked reasoner, exports)",
        default_env=("XDG_CACHE_HOME", lambda base: Path(base) / "companion"),
    ),
    Setting(
        "recordings",
        FOLDER,
        RECORDINGS,
        "COMPANION_RECORDINGS",
        "the recordings the benchmarks read by default",
    ),
    Setting(
        "native_logs",
        SWITCH,
        False,
        "COMPANION_NATIVE_LOGS",
        "let MediaPipe's native log lines through to stderr, for debugging",
    ),
    Setting(
        "user",
        NONEMPTY,
        _part_default(EdgeConfig, "user"),
        "COMPANION_USER",
        "who is wearing the glasses",
    ),
    Setting(
        "token",
        TEXT,
        None,
        "COMPANION_TOKEN",
        "the device token (`companion token`) edge and replay --gateway present to a gateway "
        "with accounts",
        secret=True,
    ),
    Setting(
        "gateway.host",
        TEXT,
        _part_default(GatewayConfig, "host"),
        "COMPANION_GATEWAY_HOST",
        "the address `serve` binds the gateway (and the phone app) to",
    ),
    Setting(
        "gateway.port",
        PORT,
        _part_default(GatewayConfig, "port"),
        "COMPANION_GATEWAY_PORT",
        "the gateway's HTTP port (signalling, the phone app)",
    ),
    Setting(
        "gateway.max_sessions",
        _whole(1, 100_000),
        _part_default(GatewayConfig, "max_sessions"),
        "COMPANION_GATEWAY_MAX_SESSIONS",
        "sessions the gateway serves at once; more are refused",
    ),
    Setting(
        "cloud.host",
        TEXT,
        _part_default(CloudConfig, "host"),
        "COMPANION_CLOUD_HOST",
        "the address the cloud's internal port binds to (loopback: only this gateway)",
    ),
    Setting(
        "cloud.port",
        PORT,
        _part_default(CloudConfig, "port"),
        "COMPANION_CLOUD_PORT",
        "the cloud's websocket port",
    ),
    Setting(
        "cloud.language",
        NONEMPTY,
        _part_default(CloudConfig, "language"),
        "COMPANION_LANGUAGE",
        "the language speech is recognised in",
    ),
    Setting(
        "cloud.answer_timeout_s",
        SECONDS,
        _part_default(CloudConfig, "answer_timeout_s"),
        "COMPANION_ANSWER_TIMEOUT_S",
        "a backend slower than this gets the user an apology",
    ),
    Setting(
        "cloud.retention_days",
        _whole(0, 36_500),
        _part_default(CloudConfig, "retention_days"),
        "COMPANION_RETENTION_DAYS",
        "memories, notes, reminders, prices and History older than this many days are "
        "deleted by the server every hour; 0 keeps them until deleted",
    ),
    Setting(
        "cloud.reasoner",
        _choice(*REASONERS),
        _part_default(CloudConfig, "reasoner"),
        "COMPANION_REASONER",
        "bundled: Qwen on this machine; openai: any chat-completions server",
    ),
    Setting(
        "cloud.reasoner_dtype",
        _choice(*REASONER_DTYPES),
        _part_default(CloudConfig, "reasoner_dtype"),
        "COMPANION_REASONER_DTYPE",
        "the bundled reasoner's compute type; auto: bfloat16 where the CPU has it natively",
    ),
    Setting(
        "cloud.openai_base_url",
        NONEMPTY,
        _part_default(CloudConfig, "openai_base_url"),
        "COMPANION_OPENAI_BASE_URL",
        "the chat-completions server (reasoner openai)",
    ),
    Setting(
        "cloud.openai_model",
        TEXT,
        _part_default(CloudConfig, "openai_model"),
        "COMPANION_OPENAI_MODEL",
        "the served model's name (reasoner openai)",
    ),
    Setting(
        "cloud.openai_reasoning_model",
        TEXT,
        _part_default(CloudConfig, "openai_reasoning_model"),
        "COMPANION_OPENAI_REASONING_MODEL",
        "a larger served model for reasoning mode; empty: openai_model",
    ),
    Setting(
        "cloud.openai_images",
        IMAGE_MODE_LIST,
        _default_images(),
        "COMPANION_OPENAI_IMAGES",
        "the modes whose served model is shown the keyframe (a vision model)",
    ),
    Setting(
        "cloud.openai_api_key",
        TEXT,
        None,
        "OPENAI_API_KEY",
        "the chat-completions server's API key",
        secret=True,
    ),
    Setting(
        "cloud.asr_model",
        OPTIONAL_FOLDER,
        _part_default(CloudConfig, "asr_model"),
        "COMPANION_ASR_MODEL",
        "a faster-whisper model folder instead of the bundled Whisper base",
    ),
    Setting(
        "cloud.asr_base_url",
        TEXT,
        _part_default(CloudConfig, "asr_base_url"),
        "COMPANION_ASR_BASE_URL",
        "an OpenAI-compatible transcription server instead of Whisper here; empty: local",
    ),
    Setting(
        "cloud.asr_api_model",
        NONEMPTY,
        _part_default(CloudConfig, "asr_api_model"),
        "COMPANION_ASR_API_MODEL",
        "the transcription server's model name",
    ),
    Setting(
        "cloud.asr_api_key",
        TEXT,
        None,
        "COMPANION_ASR_API_KEY",
        "the transcription server's API key; unset: cloud.openai_api_key",
        secret=True,
    ),
    Setting(
        "cloud.openai_port",
        OPTIONAL_PORT,
        _part_default(CloudConfig, "openai_port"),
        "COMPANION_OPENAI_PORT",
        "`serve` also answers OpenAI-compatible requests on this port; off: not",
    ),
    Setting(
        "cloud.openai_serve_key",
        TEXT,
        None,
        "COMPANION_OPENAI_SERVE_KEY",
        "a bearer key the OpenAI-compatible port accepts besides users' tokens",
        secret=True,
    ),
    Setting(
        "edge.mode",
        _choice(*ANSWER_MODES),
        _part_default(EdgeConfig, "mode"),
        "COMPANION_MODE",
        "fast or reasoning answers; auto picks per question",
    ),
    Setting(
        "edge.privacy",
        _choice(*PRIVACY_MODES),
        _part_default(EdgeConfig, "privacy"),
        "COMPANION_PRIVACY",
        "what may leave the device",
    ),
    Setting(
        "edge.activation",
        _choice(*ACTIVATION_MODES),
        _part_default(EdgeConfig, "activation"),
        "COMPANION_ACTIVATION",
        "always: every utterance is a question; wake: after the wake phrase; push: after a "
        "button press",
    ),
    Setting(
        "edge.end_silence_ms",
        _whole(0, MAX_END_SILENCE_MS),
        _part_default(EdgeConfig, "end_silence_ms"),
        "COMPANION_END_SILENCE_MS",
        "quiet after the last word that ends a question",
    ),
    Setting(
        "edge.wake_phrase",
        NONEMPTY,
        _part_default(EdgeConfig, "wake_phrase"),
        "COMPANION_WAKE_PHRASE",
        "the phrase that opens the floor in wake activation",
    ),
    Setting(
        "edge.follow_up_s",
        SECONDS,
        _part_default(EdgeConfig, "follow_up_s"),
        "COMPANION_FOLLOW_UP_S",
        "speech this soon after an answer needs no wake phrase or button",
    ),
    Setting(
        "edge.barge_in",
        SWITCH,
        _part_default(EdgeConfig, "barge_in"),
        "COMPANION_BARGE_IN",
        "speech over an answer interrupts it",
    ),
    Setting(
        "edge.early_observation",
        SWITCH,
        _part_default(EdgeConfig, "early_observation"),
        "COMPANION_EARLY_OBSERVATION",
        "send what the camera shows while a question is still spoken (the cloud prefills)",
    ),
)
BY_NAME: Mapping[str, Setting] = {setting.name: setting for setting in SETTINGS}


# ----------------------------------------------------------------- sources


@dataclass(frozen=True)
class Source:
    """Where a value came from: the default, a file, an environment variable or a flag."""

    layer: Literal["default", "file", "env", "flag"]
    where: str = ""

    def __str__(self) -> str:
        return f"{self.layer} {self.where}" if self.where else self.layer


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every setting's effective value, typed, and where each came from."""

    data_dir: Path
    store: str
    bus: str
    bus_secret: str | None = dataclasses.field(repr=False)
    cache_dir: Path
    recordings: Path
    native_logs: bool
    user: str
    token: str | None = dataclasses.field(repr=False)
    gateway_host: str
    gateway_port: int
    gateway_max_sessions: int
    cloud_host: str
    cloud_port: int
    cloud_language: str
    cloud_answer_timeout_s: float
    cloud_retention_days: int
    cloud_reasoner: str
    cloud_reasoner_dtype: str
    cloud_openai_base_url: str
    cloud_openai_model: str
    cloud_openai_reasoning_model: str
    cloud_openai_images: tuple[str, ...]
    cloud_openai_api_key: str | None = dataclasses.field(repr=False)
    cloud_asr_model: Path | None
    cloud_asr_base_url: str
    cloud_asr_api_model: str
    cloud_asr_api_key: str | None = dataclasses.field(repr=False)
    cloud_openai_port: int | None
    cloud_openai_serve_key: str | None = dataclasses.field(repr=False)
    edge_mode: AnswerMode
    edge_privacy: PrivacyMode
    edge_activation: str
    edge_end_silence_ms: int
    edge_wake_phrase: str
    edge_follow_up_s: float
    edge_barge_in: bool
    edge_early_observation: bool
    config_file: Path | None = None
    sources: Mapping[str, Source] = dataclasses.field(default_factory=dict)

    def value(self, name: str) -> Any:
        return getattr(self, BY_NAME[name].field)

    def source(self, name: str) -> Source:
        return self.sources.get(name, Source("default"))

    def origin(self, name: str) -> str:
        """How an error should name where a value came from: the flag, the variable, or
        the file and the setting."""
        source = self.source(name)
        if source.layer in ("flag", "env"):
            return source.where
        if source.layer == "file":
            return f"{source.where}: {name}"
        return name

    def cloud_config(self) -> CloudConfig:
        return CloudConfig(
            host=self.cloud_host,
            port=self.cloud_port,
            language=self.cloud_language,
            answer_timeout_s=self.cloud_answer_timeout_s,
            retention_days=self.cloud_retention_days,
            data_dir=self.data_dir,
            store=self.store,
            reasoner=self.cloud_reasoner,
            reasoner_dtype=self.cloud_reasoner_dtype,
            openai_base_url=self.cloud_openai_base_url,
            openai_model=self.cloud_openai_model,
            openai_reasoning_model=self.cloud_openai_reasoning_model,
            openai_api_key=self.cloud_openai_api_key,
            openai_images_fast="fast" in self.cloud_openai_images,
            openai_images_reasoning="reasoning" in self.cloud_openai_images,
            asr_model=self.cloud_asr_model,
            asr_base_url=self.cloud_asr_base_url,
            asr_api_model=self.cloud_asr_api_model,
            asr_api_key=self.cloud_asr_api_key or self.cloud_openai_api_key,
            openai_port=self.cloud_openai_port,
            openai_serve_key=self.cloud_openai_serve_key,
        )

    def edge_config(self, **fields: Any) -> EdgeConfig:
        """The edge's config; `fields` are what only the command knows (gateway_url, device)."""
        return EdgeConfig(
            **{
                "user": self.user,
                "mode": self.edge_mode,
                "privacy": self.edge_privacy,
                "activation": self.edge_activation,
                "end_silence_ms": self.edge_end_silence_ms,
                "wake_phrase": self.edge_wake_phrase,
                "follow_up_s": self.edge_follow_up_s,
                "barge_in": self.edge_barge_in,
                "early_observation": self.edge_early_observation,
                **fields,
            }
        )

    def gateway_config(self, **fields: Any) -> GatewayConfig:
        """The gateway's config; `fields` are what only the command knows (cloud_url)."""
        return GatewayConfig(
            **{
                "host": self.gateway_host,
                "port": self.gateway_port,
                "max_sessions": self.gateway_max_sessions,
                **fields,
            }
        )

    def shown(self) -> list[dict[str, Any]]:
        """Every setting as `config show` prints it: secrets masked, values as JSON types."""
        rows = []
        for setting in SETTINGS:
            value = self.value(setting.name)
            if setting.secret:
                value = MASK if value else None
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            rows.append(
                {
                    "name": setting.name,
                    "value": value,
                    "source": str(self.source(setting.name)),
                    "env": setting.env,
                }
            )
        return rows


# ----------------------------------------------------------------- loading


def flag_parser(name: str) -> Callable[[str], Any]:
    """An argparse `type=` for a flag that sets `name`: the same parsing as every layer,
    checked as the flags are read (argparse names the flag: "argument --end-silence-ms:
    expected …")."""
    setting = BY_NAME[name]

    def parse(text: str) -> Any:
        try:
            return setting.kind.parse(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(
                f"expected {setting.kind.expected}, not {text!r}"
            ) from None

    return parse


def load_settings(
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, tuple[str, object]] | None = None,
) -> Settings:
    """Defaults, then the file, then the environment, then the flags.

    `config_file` is the `--config` flag (else COMPANION_CONFIG names the file);
    `flags` maps a setting's name to the flag that set it and its value.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for setting in SETTINGS:
        values[setting.name] = setting.default
        if setting.default_env is not None and env.get(setting.default_env[0]):
            variable, build = setting.default_env
            values[setting.name] = build(env[variable])
            sources[setting.name] = Source("env", variable)

    path = config_file
    if path is None and env.get(CONFIG_ENV):
        path = Path(env[CONFIG_ENV]).expanduser()
    if path is not None:
        for name, raw in _read_file(path, named_by="--config" if config_file else CONFIG_ENV):
            values[name] = _parse(BY_NAME[name], raw, f"{path}: {name} = {raw!r}")
            sources[name] = Source("file", str(path))

    for setting in SETTINGS:
        text = env.get(setting.env)
        if text:  # an empty variable counts as unset, as it always has
            shown = "…" if setting.secret else text
            values[setting.name] = _parse(setting, text, f"{setting.env}={shown}")
            sources[setting.name] = Source("env", setting.env)

    for name, (flag, raw) in (flags or {}).items():
        setting = BY_NAME[name]
        values[name] = _parse(setting, raw, f"{flag} {raw}")
        sources[name] = Source("flag", flag)

    return Settings(
        **{BY_NAME[name].field: value for name, value in values.items()},
        config_file=path,
        sources=sources,
    )


def _parse(setting: Setting, raw: object, where: str) -> Any:
    try:
        return setting.kind.parse(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"{where}: expected {setting.kind.expected}") from None


def _read_file(path: Path, *, named_by: str) -> list[tuple[str, object]]:
    """The file's settings as (name, value); an unknown name or a secret is an error."""
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        raise SettingsError(f"{path}: no such settings file (named by {named_by})") from None
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    found: list[tuple[str, object]] = []
    for key, value in document.items():
        if isinstance(value, dict):
            found += [(f"{key}.{inner}", item) for inner, item in value.items()]
        else:
            found.append((key, value))
    for name, _ in found:
        setting = BY_NAME.get(name)
        if setting is None:
            raise SettingsError(
                f"{path}: unknown setting {name} (see `companion config show` for the names)"
            )
        if setting.secret:
            raise SettingsError(
                f"{path}: {name} is a secret and is read from the environment only "
                f"(set {setting.env})"
            )
    return found


def apply_to_process(settings: Settings) -> None:
    """What holds for the whole process, set once at start-up before any model loads:
    the model cache, MediaPipe's native logs, and Hugging Face never going online."""
    from edge.vision.native_logs import keep_native_logs
    from modelfiles import set_cache_dir

    set_cache_dir(settings.cache_dir)
    keep_native_logs(settings.native_logs)
    # The bundled models load from their packages' folders; nothing may be fetched.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

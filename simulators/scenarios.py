"""Scenario files: one use case each, replayable and scored.

A scenario is a JSON file any user can write:

    {"name": "read-a-sign", "user": "alice", "mode": "fast", "privacy": "standard",
     "steps": [{"video": "media/sign.jpg", "audio": "media/question-sign.wav",
                "expect": {"transcript_contains": ["sign"],
                           "answer_contains_any": ["platform", "9"]}}]}

Media paths are relative to the file. Every step is a fresh connection by the
same user, so memory carries from one step to the next. Loading is strict: an
unknown field, a missing media file or a malformed expectation is a
`ScenarioError` naming the file and the field, and a suite loads every other
file regardless.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from protocol import ANSWER_MODES, PRIVACY_MODES, AnswerMode, PrivacyMode
from simulators.errors import SimulatorError
from simulators.network_faults import NetworkFaults

MODES = ANSWER_MODES
ACTIVATIONS = ("always", "wake", "push")
KEYFRAMES: tuple[Literal["when_used", "always"], ...] = ("when_used", "always")
SPEEDS = ("max", "realtime")
TOOLS = ("reminder", "shopping_list", "note")

T = TypeVar("T")
C = TypeVar("C", bound=str)


class ScenarioError(SimulatorError):
    """A scenario file that cannot be run as written."""

    def __init__(self, path: Path, where: str, problem: str) -> None:
        self.path = path
        self.where = where
        self.problem = problem
        super().__init__(f"{path}: {where}: {problem}" if where else f"{path}: {problem}")


@dataclass(frozen=True, kw_only=True)
class Expectation:
    """What one step must show; a field left out is not checked."""

    transcript_contains: tuple[str, ...] = ()
    answer_contains_any: tuple[str, ...] = ()
    answer_mode: str | None = None
    max_uploaded_faces: int | None = None
    max_keyframes: int | None = None
    max_bytes_upstream: int | None = None
    no_answer: bool | None = None
    interrupted: bool | None = None
    tool: str | None = None
    memory_contains: tuple[str, ...] = ()
    max_wer: float | None = None
    # VAD segment accuracy: how many utterances the edge should cut the audio into.
    segments: int | None = None

    def checks(self) -> list[str]:
        """The names of the expectations this step sets, in file order."""
        return [name for name, value in self.__dict__.items() if value is not None and value != ()]


@dataclass(frozen=True, kw_only=True)
class Step:
    video: Path | None = None
    audio: Path | None = None
    audio_format: str | None = None
    text: tuple[str, ...] = ()
    button: tuple[float, ...] = ()
    network: NetworkFaults = field(default_factory=NetworkFaults)
    reference: str | None = None
    # Audio the wearer speaks as soon as the answer starts streaming (barge-in): a fixed
    # offset in one recording would land before or after the answer as the CPU load varies.
    barge_in: Path | None = None
    expect: Expectation = field(default_factory=Expectation)


@dataclass(frozen=True, kw_only=True)
class Scenario:
    name: str
    path: Path
    steps: tuple[Step, ...]
    description: str = ""
    user: str = "eval"
    mode: AnswerMode = "auto"
    privacy: PrivacyMode = "standard"
    # "always": the keyframe leaves even for a model that does not look at it, so a
    # scenario can check what an uploaded frame shows (faces hidden).
    keyframes: Literal["when_used", "always"] = "when_used"
    activation: str = "always"
    # None: the evaluation's --speed. Barge-in needs "realtime": at full speed the
    # recording is over before the answer it interrupts has begun.
    speed: str | None = None


@dataclass
class Suite:
    scenarios: list[Scenario]
    errors: list[ScenarioError]


def load_suite(folder: Path) -> Suite:
    """Every `*.json` directly in `folder` (not its subfolders, e.g. `pending/`)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such directory")
    suite = Suite([], [])
    names: dict[str, Path] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            suite.errors.append(exc)
            continue
        if scenario.name in names:
            suite.errors.append(
                ScenarioError(
                    path, "name", f"{scenario.name!r} is also the name of {names[scenario.name]}"
                )
            )
            continue
        names[scenario.name] = path
        suite.scenarios.append(scenario)
    return suite


def load_scenario(path: Path) -> Scenario:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(path, "", f"cannot read the file ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, "", f"not valid JSON ({exc})") from None
    return parse_scenario(raw, path)


def parse_scenario(raw: object, path: Path) -> Scenario:
    """A `Scenario` from decoded JSON; media paths resolve against `path`'s folder."""
    check = _Checker(path)
    top = check.mapping(raw, "")
    check.only(
        top,
        "",
        {
            "name",
            "description",
            "user",
            "mode",
            "privacy",
            "activation",
            "speed",
            "keyframes",
            "steps",
        },
    )
    steps_raw = check.required(top, "", "steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise ScenarioError(path, "steps", "must be a non-empty list of steps")
    return Scenario(
        name=check.text(top.get("name", path.stem), "name"),
        path=path,
        description=check.text(top.get("description", ""), "description", allow_empty=True),
        user=check.text(top.get("user", "eval"), "user"),
        mode=check.choice(top.get("mode", "auto"), "mode", MODES),
        privacy=check.choice(top.get("privacy", "standard"), "privacy", PRIVACY_MODES),
        keyframes=check.choice(top.get("keyframes", "when_used"), "keyframes", KEYFRAMES),
        activation=check.choice(top.get("activation", "always"), "activation", ACTIVATIONS),
        speed=check.choice(top["speed"], "speed", SPEEDS) if "speed" in top else None,
        steps=tuple(check.step(s, f"steps[{i}]") for i, s in enumerate(steps_raw)),
    )


class _Checker:
    """Type checks that name the file and the field on failure."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, problem: str) -> ScenarioError:
        return ScenarioError(self.path, where, problem)

    def mapping(self, value: object, where: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be an object, not {_kind(value)}")
        return value

    def only(self, value: Mapping[str, Any], where: str, allowed: set[str]) -> None:
        unknown = sorted(set(value) - allowed)
        if unknown:
            prefix = f"{where}." if where else ""
            raise self.fail(
                prefix + unknown[0],
                f"unknown field (known: {', '.join(sorted(allowed))})",
            )

    def required(self, value: Mapping[str, Any], where: str, name: str) -> Any:
        if name not in value:
            raise self.fail(f"{where}.{name}" if where else name, "missing")
        return value[name]

    def text(self, value: object, where: str, *, allow_empty: bool = False) -> str:
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            raise self.fail(where, f"must be a non-empty string, not {_kind(value)}")
        return value

    def choice(self, value: object, where: str, choices: tuple[C, ...]) -> C:
        """One of `choices`, typed as they are (a Literal's values stay that Literal)."""
        for choice in choices:
            if value == choice:
                return choice
        raise self.fail(where, f"must be one of {', '.join(choices)}, not {value!r}")

    def number(self, value: object, where: str, *, low: float = 0.0) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
            raise self.fail(where, f"must be a number of at least {low:g}, not {value!r}")
        return float(value)

    def count(self, value: object, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(where, f"must be a whole number of at least 0, not {value!r}")
        return value

    def flag(self, value: object, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"must be true or false, not {value!r}")
        return value

    def words(self, value: object, where: str) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            raise self.fail(where, "must be a non-empty list of strings")
        return tuple(self.text(v, f"{where}[{i}]") for i, v in enumerate(value))

    def media(self, value: object, where: str) -> Path:
        name = self.text(value, where)
        resolved = (self.path.parent / name).resolve()
        if not resolved.is_file():
            raise self.fail(where, f"media file not found: {name} (looked for {resolved})")
        return resolved

    def optional(
        self, value: Mapping[str, Any], name: str, where: str, read: Callable[[object, str], T]
    ) -> T | None:
        return read(value[name], f"{where}.{name}") if name in value else None

    def step(self, raw: object, where: str) -> Step:
        step = self.mapping(raw, where)
        self.only(
            step,
            where,
            {
                "video",
                "audio",
                "audio_format",
                "text",
                "button",
                "network",
                "reference",
                "barge_in",
                "expect",
            },
        )
        if not {"video", "audio", "text"} & set(step):
            raise self.fail(where, "needs at least one of video, audio or text")
        buttons = step.get("button", [])
        if not isinstance(buttons, list):
            raise self.fail(f"{where}.button", "must be a list of times in seconds")
        expect = self.expectation(step.get("expect", {}), f"{where}.expect")
        reference = self.optional(step, "reference", where, self.text)
        if expect.max_wer is not None and reference is None:
            raise self.fail(f"{where}.expect.max_wer", "needs the step's reference transcript")
        if "barge_in" in step and "audio" not in step:
            raise self.fail(f"{where}.barge_in", "needs the step's audio (the question it follows)")
        return Step(
            video=self.optional(step, "video", where, self.media),
            audio=self.optional(step, "audio", where, self.media),
            audio_format=self.optional(step, "audio_format", where, self.text),
            text=self.optional(step, "text", where, self.words) or (),
            button=tuple(self.number(t, f"{where}.button[{i}]") for i, t in enumerate(buttons)),
            network=self.network(step.get("network", {}), f"{where}.network"),
            reference=reference,
            barge_in=self.optional(step, "barge_in", where, self.media),
            expect=expect,
        )

    def network(self, raw: object, where: str) -> NetworkFaults:
        net = self.mapping(raw, where)
        self.only(net, where, {"delay_ms", "loss", "drop_at_s", "seed"})
        loss = self.optional(net, "loss", where, self.number) or 0.0
        if loss >= 1.0:
            raise self.fail(f"{where}.loss", f"must be below 1 (a share of packets), not {loss:g}")
        return NetworkFaults(
            delay_ms=self.optional(net, "delay_ms", where, self.number) or 0.0,
            loss=loss,
            drop_at_s=self.optional(net, "drop_at_s", where, self.number),
            seed=self.optional(net, "seed", where, self.count) or 0,
        )

    def expectation(self, raw: object, where: str) -> Expectation:
        exp = self.mapping(raw, where)
        self.only(exp, where, set(Expectation.__dataclass_fields__))

        def tool(value: object, at: str) -> str:
            return self.choice(value, at, TOOLS)

        def mode(value: object, at: str) -> str:
            return self.choice(value, at, (*MODES, "local", "tool"))

        return Expectation(
            transcript_contains=self.optional(exp, "transcript_contains", where, self.words) or (),
            answer_contains_any=self.optional(exp, "answer_contains_any", where, self.words) or (),
            answer_mode=self.optional(exp, "answer_mode", where, mode),
            max_uploaded_faces=self.optional(exp, "max_uploaded_faces", where, self.count),
            max_keyframes=self.optional(exp, "max_keyframes", where, self.count),
            max_bytes_upstream=self.optional(exp, "max_bytes_upstream", where, self.count),
            no_answer=self.optional(exp, "no_answer", where, self.flag),
            interrupted=self.optional(exp, "interrupted", where, self.flag),
            tool=self.optional(exp, "tool", where, tool),
            memory_contains=self.optional(exp, "memory_contains", where, self.words) or (),
            max_wer=self.optional(exp, "max_wer", where, self.number),
            segments=self.optional(exp, "segments", where, self.count),
        )


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )

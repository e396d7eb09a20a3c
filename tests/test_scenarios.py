"""Scenario files: strict loading with errors that name the file and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from simulators.network_faults import NetworkFaults
from simulators.scenarios import ScenarioError, load_scenario, load_suite

ROOT = Path(__file__).resolve().parents[1]


def _write(folder: Path, name: str, body: dict[str, Any]) -> Path:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(body))
    return path


@pytest.fixture
def media(tmp_path: Path) -> Path:
    (tmp_path / "q.wav").write_bytes(b"RIFF")
    (tmp_path / "sign.jpg").write_bytes(b"\xff\xd8")
    return tmp_path


def _valid(**step: Any) -> dict[str, Any]:
    return {"name": "ok", "steps": [{"audio": "q.wav", **step}]}


def test_a_full_scenario_loads_with_paths_relative_to_its_file(media: Path) -> None:
    path = _write(
        media,
        "sign",
        {
            "name": "read-a-sign",
            "user": "alice",
            "mode": "fast",
            "privacy": "standard",
            "activation": "push",
            "steps": [
                {
                    "video": "sign.jpg",
                    "audio": "q.wav",
                    "button": [0.5, 2],
                    "network": {"delay_ms": 80, "loss": 0.1, "drop_at_s": 3, "seed": 4},
                    "reference": "what does this sign say",
                    "expect": {
                        "transcript_contains": ["sign"],
                        "answer_contains_any": ["platform", "7"],
                        "max_uploaded_faces": 0,
                        "no_answer": False,
                        "interrupted": False,
                        "tool": "reminder",
                        "memory_contains": "level",
                        "max_wer": 0.2,
                    },
                },
                {"text": ["where did I park?"]},
            ],
        },
    )
    scenario = load_scenario(path)
    first, second = scenario.steps
    assert scenario.name == "read-a-sign" and scenario.user == "alice"
    assert first.video == (media / "sign.jpg").resolve()
    assert first.button == (0.5, 2.0)
    assert first.network == NetworkFaults(delay_ms=80, loss=0.1, drop_at_s=3, seed=4)
    assert first.expect.memory_contains == ("level",)
    assert first.expect.checks()[:2] == ["transcript_contains", "answer_contains_any"]
    assert second.text == ("where did I park?",) and second.audio is None


@pytest.mark.parametrize(
    ("body", "where", "problem"),
    [
        ({**_valid(), "colour": "red"}, "colour", "unknown field"),
        (
            _valid(expect={"answer_contains": ["x"]}),
            "steps[0].expect.answer_contains",
            "unknown field",
        ),
        (_valid(network={"jitter": 3}), "steps[0].network.jitter", "unknown field"),
        ({"name": "x", "steps": [{"audio": "missing.wav"}]}, "steps[0].audio", "not found"),
        (
            _valid(expect={"answer_contains_any": "platform"} | {"no_answer": "yes"}),
            "steps[0].expect.no_answer",
            "true or false",
        ),
        (
            _valid(expect={"answer_contains_any": []}),
            "steps[0].expect.answer_contains_any",
            "non-empty list",
        ),
        (
            _valid(expect={"answer_contains_any": [7]}),
            "steps[0].expect.answer_contains_any[0]",
            "string",
        ),
        (
            _valid(expect={"max_uploaded_faces": -1}),
            "steps[0].expect.max_uploaded_faces",
            "at least 0",
        ),
        (_valid(expect={"tool": "teleport"}), "steps[0].expect.tool", "one of"),
        (_valid(expect={"max_wer": 0.1}), "steps[0].expect.max_wer", "reference"),
        (_valid(expect=[]), "steps[0].expect", "must be an object"),
        (_valid(network={"loss": 1.5}), "steps[0].network.loss", "below 1"),
        (_valid(button=[-1]), "steps[0].button[0]", "at least 0"),
        ({**_valid(), "mode": "slow"}, "mode", "one of"),
        ({"name": "x", "steps": []}, "steps", "non-empty"),
        ({"name": "x"}, "steps", "missing"),
        ({"name": "x", "steps": [{"expect": {}}]}, "steps[0]", "video, audio or text"),
    ],
)
def test_bad_scenario_names_file_and_field(
    media: Path, body: dict[str, Any], where: str, problem: str
) -> None:
    path = _write(media, "bad", body)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.path == path
    assert caught.value.where == where
    assert problem in caught.value.problem
    assert str(path) in str(caught.value) and where in str(caught.value)


def test_broken_json_is_reported_with_the_file(media: Path) -> None:
    path = media / "broken.json"
    path.write_text('{"name": "x", "steps": [')
    with pytest.raises(ScenarioError, match=r"broken\.json: not valid JSON"):
        load_scenario(path)


def test_a_bad_file_in_a_suite_leaves_the_others_to_run(media: Path) -> None:
    _write(media, "a-good", _valid())
    _write(media, "b-bad", {"name": "bad", "steps": [{"audio": "q.wav", "expect": {"nope": 1}}]})
    _write(media, "c-also-good", {**_valid(), "name": "also-ok"})
    (media / "pending").mkdir()
    _write(media / "pending", "later", _valid())
    suite = load_suite(media)
    assert [s.name for s in suite.scenarios] == ["ok", "also-ok"]
    assert len(suite.errors) == 1
    assert suite.errors[0].path.name == "b-bad.json"
    assert suite.errors[0].where == "steps[0].expect.nope"


def test_two_scenarios_with_one_name_are_an_error(media: Path) -> None:
    _write(media, "a", _valid())
    _write(media, "b", _valid())
    suite = load_suite(media)
    assert len(suite.scenarios) == 1
    assert suite.errors[0].where == "name" and "also the name" in suite.errors[0].problem


def test_every_shipped_scenario_loads() -> None:
    suite = load_suite(ROOT / "scenarios")
    assert suite.errors == []
    names = {s.name for s in suite.scenarios}
    assert len(names) >= 15 and {"barge-in", "connection-drop"} <= names

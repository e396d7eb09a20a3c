"""`companion notes` and `companion captions` on the conversation set, with the real models.

A two-person planning conversation yields a summary and the action items
that were agreed; small talk yields none.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from companion.cli import main
from simulators.wer import word_error_rate

CONVERSATIONS = Path(__file__).resolve().parents[1] / "recordings" / "conversations"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _notes(capsys: pytest.CaptureFixture[str], name: str) -> dict[str, Any]:
    code, out, err = _run(
        capsys, "notes", "--audio", str(CONVERSATIONS / f"{name}.wav"), "--json", "--language", "en"
    )
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def test_a_planning_conversation_yields_its_summary_speakers_and_agreed_action_items(
    capsys: pytest.CaptureFixture[str],
) -> None:
    notes = _notes(capsys, "planning-budget")

    reference = json.loads((CONVERSATIONS / "planning-budget.json").read_text())
    assert len(notes["lines"]) >= len(reference["lines"])
    assert all(line["text"] and line["end"] > line["start"] for line in notes["lines"])
    assert "budget" in notes["summary"].lower()
    found = notes["action_items"]
    # Every item found was really agreed (precision), and most agreed ones are found.
    keys = [item["key"] for item in reference["action_items"]]
    assert all(any(key in item["what"] for key in keys) for item in found), found
    assert len(found) >= 2, found
    # Whisper base may mishear a time ("by Friday" as "I fly base"); the rest is as said.
    priya = next(item for item in found if "room" in item["what"])
    assert priya["who"] == "Priya" and priya["when"] == "tomorrow" and priya["due"]
    # Alex and Priya: two voices told apart; "I" is whoever said it.
    assert notes["speakers"] == ["S1", "S2"]
    agenda = next(item for item in found if "agenda" in item["what"])
    assert agenda["who"] == "S2" and agenda["when"] == "on Monday"


def test_small_talk_yields_no_action_items(capsys: pytest.CaptureFixture[str]) -> None:
    notes = _notes(capsys, "small-talk-weekend")

    assert notes["lines"] and notes["action_items"] == []


def test_captions_print_revisions_then_final_lines_with_their_lag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _run(
        capsys, "captions", "--audio", str(CONVERSATIONS / "robot-demo-real.wav"), "--json"
    )

    assert code == 0, err
    result = json.loads(out)
    assert [line["final"] for line in result["lines"]] == [True] * len(result["lines"])
    reference = json.loads((CONVERSATIONS / "robot-demo-real.json").read_text())
    errors, words = word_error_rate(
        " ".join(line["text"] for line in reference["lines"]), result["text"]
    )
    assert errors / words < 0.25, result["text"]
    assert result["final_lag_s_p95"] >= result["final_lag_s_p50"] > 0


def test_remember_without_a_user_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(
        capsys, "notes", "--audio", str(CONVERSATIONS / "planning-budget.wav"), "--remember"
    )

    assert code == 2 and "--user" in err


def test_a_missing_recording_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "captions", "--audio", "/nonexistent/talk.wav")

    assert code == 2 and "no such file" in err


def test_bad_languages_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(
        capsys,
        "captions",
        "--audio",
        str(CONVERSATIONS / "robot-demo-real.wav"),
        "--languages",
        "english!",
    )

    assert code == 2 and "--languages" in err


class SamePromise:
    """Hears every line as the same commitment: enough to check the scoring."""

    def transcribe_into_english(self, samples: Any, sample_rate: int, **_: Any) -> Any:
        from cloud.speech.asr import HeardSpeech

        return HeardSpeech("I'll send the budget by Friday.", "en", 1.0, translated=False)


def test_bench_notes_counts_invented_action_items_against_the_reference(tmp_path: Path) -> None:
    import shutil

    from cloud.captions import Captioner
    from edge.config import EdgeConfig
    from edge.models import EdgeModels
    from simulators.caption_replay import bench_notes, caption_listener

    for name in ("planning-budget", "small-talk-coffee"):
        for suffix in (".wav", ".json"):
            shutil.copy(CONVERSATIONS / f"{name}{suffix}", tmp_path)
    models = EdgeModels()

    result = bench_notes(
        tmp_path,
        lambda: caption_listener(models.vad_session, EdgeConfig()),
        Captioner(SamePromise(), session_id="s", language="en"),
    )

    budget = result["conversations"]["planning-budget.wav"]
    chat = result["conversations"]["small-talk-coffee.wav"]
    assert budget["action_items_found"] == budget["action_items_correct"] >= 5
    assert chat["invented"] == chat["action_items_found"] >= 4
    assert result["invented_on_small_talk"] == chat["invented"]
    assert result["action_item_recall"] == pytest.approx(1 / 3, abs=0.01)
    assert 0.0 < result["action_item_precision"] < 1.0


@pytest.mark.models
async def test_what_did_i_agree_with_priya_is_answered_from_the_notes(
    capsys: pytest.CaptureFixture[str], private_data_dir: Path, qwen: Any, minilm: Any
) -> None:
    # The planning conversation noted and remembered by `companion notes --remember` (as a
    # session's notes keep it), then asked about the next day through the conversation
    # with the real reasoner: the answer rests on the action items agreed.
    from datetime import UTC, datetime, timedelta

    from cloud.conversation import Models
    from cloud.memory.user_data import UserDirectory
    from tests.asking import say
    from tests.fakes import FakeTranscriber

    user = "agreed-with-priya"
    code, out, err = await asyncio.to_thread(
        _run,
        capsys,
        "notes",
        "--audio",
        str(CONVERSATIONS / "planning-budget.wav"),
        "--remember",
        "--user",
        user,
        "--json",
        "--language",
        "en",
    )
    assert code == 0, err
    assert json.loads(out)["remembered"]
    users = UserDirectory(private_data_dir, minilm)
    try:
        models = Models(transcriber=FakeTranscriber(), reasoner=qwen, users=users)
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        answer = await say(models, "What did I agree with Priya?", tomorrow, "ask", user=user)
    finally:
        users.close()
    # Each item agreed, read back with when (cloud/prompting/agreements.py), not blurred.
    assert answer.startswith("Yesterday at "), answer
    assert "Priya will book the room" in answer, answer
    assert "agenda" in answer and "budget" in answer, answer

"""Through the conversation: a plain lookup with one clearly matching fact is read back from
the fact, without the model; anything else still goes to the model (fake models, real store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cloud.conversation import Models
from tests.asking import say
from tests.fakes import FakeReasoner, FakeTranscriber

NOW = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)


async def test_a_lookup_is_answered_from_the_fact_asked_about_not_its_neighbours(users) -> None:
    reasoner = FakeReasoner()
    models = Models(transcriber=FakeTranscriber(), reasoner=reasoner, users=users)
    await say(models, "My shoe size is 43.", NOW - timedelta(days=9), "a")
    await say(models, "My shirt size is medium.", NOW - timedelta(days=5), "b")
    await say(models, "Actually my shoe size is now 44.", NOW - timedelta(days=1), "c")

    answer = await say(models, "What's my shoe size?", NOW, "d")

    assert answer == "Your shoe size is 44."
    assert reasoner.prompts == []


async def test_a_remember_request_with_a_title_is_kept_whole_and_read_back(users) -> None:
    models = Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner(), users=users)
    await say(
        models,
        "Remember that my doctor is Dr. Okafor at the Elm Street clinic.",
        NOW - timedelta(days=3),
        "a",
    )
    await say(models, "My dentist is Dr. Reyes.", NOW - timedelta(days=2), "b")

    answer = await say(models, "Who's my doctor?", NOW, "c")

    assert answer == "Your doctor is Dr. Okafor at the Elm Street clinic."


async def test_a_question_no_single_fact_answers_goes_to_the_model(users) -> None:
    reasoner = FakeReasoner()
    models = Models(transcriber=FakeTranscriber(), reasoner=reasoner, users=users)
    await say(models, "My shoe size is 43.", NOW - timedelta(days=2), "a")
    await say(models, "My shirt size is medium.", NOW - timedelta(days=1), "b")

    await say(models, "What sizes do I wear?", NOW, "c")

    prompt = reasoner.prompts[-1][-1].content
    assert "Your shoe size is 43." in prompt and "Your shirt size is medium." in prompt

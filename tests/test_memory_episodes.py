"""Questions about what happened are answered from dated memories, saying when (through the
conversation: real store with the hashing embedder, fake models)."""

from __future__ import annotations

from datetime import UTC, datetime

from cloud.conversation import Models
from cloud.memory.user_data import UserDirectory
from tests.asking import say
from tests.fakes import FakeReasoner, FakeTranscriber

NOW = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)  # a Thursday


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=UTC)


async def week(models: Models) -> None:
    """A few days of the wearer talking to the glasses."""
    told = [
        ("Remember that my passport is in the blue suitcase.", at(1, 9)),
        ("Remember that my passport is in the desk drawer now.", at(3, 18)),
        ("I went to the farmers market with Tom and bought cheese.", at(7, 10)),
        ("I went swimming with Clara in the afternoon.", at(7, 15)),
        ("The plumber is coming on Thursday to fix the boiler.", at(9, 9)),
        ("My shoe size is 43.", at(10, 9)),
        ("I had lunch with Omar at the Thai place.", at(11, 13)),
    ]
    for number, (text, when) in enumerate(told):
        await say(models, text, when, f"told-{number}")


async def test_what_did_i_do_on_saturday_lists_that_day_with_its_date(users: UserDirectory) -> None:
    reasoner = FakeReasoner()
    models = Models(transcriber=FakeTranscriber(), reasoner=reasoner, users=users)
    await week(models)
    asked = len(reasoner.prompts)

    answer = await say(models, "What did I do on Saturday?", NOW, "ask")

    assert "Saturday 7 March" in answer
    assert "farmers market" in answer and "swimming" in answer
    assert answer.index("farmers market") < answer.index("swimming")  # in the order it happened
    assert "Omar" not in answer and "plumber" not in answer  # other days
    assert len(reasoner.prompts) == asked  # read from the memories, not the model


async def test_when_did_i_last_see_my_passport_gives_the_newest_with_its_day(
    users: UserDirectory,
) -> None:
    models = Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner(), users=users)
    await week(models)

    answer = await say(models, "When did I last see my passport?", NOW, "ask")

    assert answer.startswith("On Tuesday 3 March at 6 pm")
    assert "desk drawer" in answer and "suitcase" not in answer


async def test_what_did_i_tell_you_about_the_plumber_says_what_and_when(
    users: UserDirectory,
) -> None:
    models = Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner(), users=users)
    await week(models)

    answer = await say(models, "What did I tell you about the plumber?", NOW, "ask")

    assert "Monday 9 March" in answer and "fix the boiler" in answer
    assert "shoe" not in answer and "passport" not in answer


async def test_a_particular_question_about_a_day_goes_to_the_model_with_dated_memories(
    users: UserDirectory,
) -> None:
    reasoner = FakeReasoner()
    models = Models(transcriber=FakeTranscriber(), reasoner=reasoner, users=users)
    await week(models)

    await say(models, "What did I buy at the market on Saturday?", NOW, "ask")

    prompt = reasoner.prompts[-1][-1].content
    assert "(on Saturday 7 March at 10 am)" in prompt and "cheese" in prompt


async def test_a_day_with_nothing_remembered_is_left_to_the_model(users: UserDirectory) -> None:
    reasoner = FakeReasoner()
    models = Models(transcriber=FakeTranscriber(), reasoner=reasoner, users=users)
    await week(models)
    asked = len(reasoner.prompts)

    await say(models, "What did I do on Sunday?", NOW, "ask")  # 8 March: nothing was said

    assert len(reasoner.prompts) == asked + 1

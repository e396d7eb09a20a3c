""" "Remind me of/what my X is" asks about a stored fact; "remind me to/at/in …" sets a reminder.

Parsed without a model, then through the conversation with a real store (fake models): the
question is answered from the fact and no reminder is set.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.conversation import Models
from cloud.memory.user_data import UserDirectory
from cloud.tools import parse_intent
from cloud.tools.intents import SetReminder
from tests.asking import say
from tests.fakes import FakeReasoner, FakeTranscriber

NOW = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "said",
    [
        "Remind me of my dress size.",
        "remind me of the garage code",
        "Can you remind me of my wife's ring size?",
        "Remind me what my dress size is.",
        "remind me what the wifi password at my parents' house is",
        "Remind me who my dentist is.",
        "remind me where I parked",
        "Remind me when my brother's birthday is.",
        "remind me which school my daughter goes to",
        "Remind me what I did on Saturday.",  # a time in it, still a question
        "remind me again what my locker number is",
    ],
)
def test_a_question_about_a_stored_fact_is_not_a_reminder(said: str) -> None:
    assert parse_intent(said, NOW) is None


@pytest.mark.parametrize(
    ("said", "what", "due"),
    [
        ("Remind me to call mum in 10 minutes.", "call mum", NOW + timedelta(minutes=10)),
        ("remind me at 5 pm to take the pills", "take the pills", NOW.replace(hour=17)),
        ("Remind me to water the plants.", "water the plants", None),
        ("remind me that the bins go out", "the bins go out", None),
        ("remind me about the dentist tomorrow at 9", "the dentist", NOW.replace(day=13, hour=9)),
        (
            "remind me of the parking permit tomorrow at 9",
            "of the parking permit",
            NOW.replace(day=13, hour=9),
        ),
    ],
)
def test_a_request_to_be_reminded_is_still_a_reminder(
    said: str, what: str, due: datetime | None
) -> None:
    intent = parse_intent(said, NOW)
    assert isinstance(intent, SetReminder)
    assert intent.what == what and intent.due == due


async def test_remind_me_of_my_dress_size_reads_the_fact_back_and_sets_no_reminder(
    users: UserDirectory,
) -> None:
    reasoner = FakeReasoner()
    models = Models(transcriber=FakeTranscriber(), reasoner=reasoner, users=users)
    await say(models, "My dress size is 12.", NOW - timedelta(days=40), "a")
    await say(models, "My shoe size is 39.", NOW - timedelta(days=20), "b")

    answer = await say(models, "Remind me of my dress size.", NOW, "c")

    assert "12" in answer and "39" not in answer
    assert "remind" not in answer.lower()  # not "I'll remind you …" nor "when?"
    assert users.open("alice").tools.pending_reminders() == []

"""Captions put into another language by the reasoner ("translate to Spanish") and the chrF
score `companion bench translation --into` reports."""

from __future__ import annotations

import asyncio

from cloud.captions.translation import CaptionTranslator, translation_messages
from simulators.bench_translate_into import chrf
from tests.fakes import FakeReasoner


def test_chrf_is_100_for_the_reference_and_low_for_another_language() -> None:
    reference = "Por favor, intente de nuevo."
    assert chrf(reference, reference) == 100.0
    assert chrf("Please try again.", reference) < 30.0
    assert chrf("", reference) == 0.0
    assert chrf("Por favor intente otra vez.", reference) > chrf("Please try again.", reference)


def test_the_prompt_names_the_language_and_holds_only_the_line() -> None:
    messages = translation_messages("Where is the station?", "es")
    assert "Spanish" in messages[0].content
    assert messages[-1].content == "Where is the station?"


async def test_a_final_line_is_translated_and_other_requests_are_refused() -> None:
    reasoner = FakeReasoner()
    translator = CaptionTranslator(reasoner, lock=asyncio.Lock())
    said = await translator.translate("Where is the station?", "de")
    assert said == "You asked: Where is the station?"  # the fake echoes what it was given
    assert "German" in reasoner.prompts[-1][0].content
    assert await translator.translate("Where is the station?", "xx") == ""
    assert await translator.translate("Where is the station?", "en") == ""
    assert await translator.translate("   ", "de") == ""
    assert len(reasoner.prompts) == 1


async def test_a_failing_reasoner_leaves_the_english_line_alone() -> None:
    translator = CaptionTranslator(FakeReasoner(fail=True), lock=asyncio.Lock())
    assert await translator.translate("Where is the station?", "fr") == ""

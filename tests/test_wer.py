"""Word error rate: only real mistakes count, however the words are written."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.wer import normalise, number_to_words, word_error_rate


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (10, "ten"),
        (13, "thirteen"),
        (21, "twenty one"),
        (90, "ninety"),
        (100, "one hundred"),
        (115, "one hundred fifteen"),
        (1990, "one thousand nine hundred ninety"),
        (2024, "two thousand twenty four"),
        (1_000_000, "one million"),
        (3_000_000_017, "three billion seventeen"),
    ],
)
def test_numbers_are_written_out_in_english(number: int, words: str) -> None:
    assert number_to_words(number) == words


def test_normalise_lower_cases_and_drops_punctuation() -> None:
    assert normalise('He said: "Stop!" Then, quietly... (nothing).') == [
        "he", "said", "stop", "then", "quietly", "nothing",
    ]  # fmt: skip


def test_hyphens_and_dashes_split_words() -> None:
    assert normalise("ill-disposed, cold–hearted—selfish") == [
        "ill", "disposed", "cold", "hearted", "selfish",
    ]  # fmt: skip


def test_apostrophes_inside_words_are_kept() -> None:
    assert normalise("Don’t you're it's") == ["don't", "you're", "it's"]


def test_digits_become_the_words_a_listener_would_write() -> None:
    assert normalise("Go forward 10 meters.") == ["go", "forward", "ten", "meters"]
    assert normalise("in 1,000 years") == ["in", "one", "thousand", "years"]
    assert normalise("3.5 km") == ["three", "point", "five", "km"]
    assert normalise("the 21st, 2nd and 100th") == [
        "the", "twenty", "first", "second", "and", "one", "hundredth",
    ]  # fmt: skip
    assert normalise("the 1990s at 50%") == [
        "the", "one", "thousand", "nine", "hundred", "nineties", "at", "fifty", "percent",
    ]  # fmt: skip


def test_spoken_forms_of_abbreviations_and_spellings_match() -> None:
    assert normalise("Mr. Dashwood walked 10 metres") == normalise(
        "mister dashwood walked ten meters"
    )


def test_identical_text_has_no_errors() -> None:
    assert word_error_rate("go forward ten meters", "Go forward 10 meters.") == (0, 4)


def test_substitution_deletion_and_insertion_each_count_one_error() -> None:
    assert word_error_rate("a b c d", "a x c d") == (1, 4)
    assert word_error_rate("a b c d", "a c d") == (1, 4)
    assert word_error_rate("a b c d", "a b c d e") == (1, 4)
    assert word_error_rate("a b c d", "b a c") == (3, 4)


def test_empty_hypothesis_misses_every_reference_word() -> None:
    assert word_error_rate("he was not an ill disposed young man", "") == (8, 8)


def test_empty_reference_counts_every_inserted_word() -> None:
    assert word_error_rate("", "thank you") == (2, 0)


_words = st.lists(st.sampled_from(["a", "b", "c", "go", "ten"]), max_size=12).map(" ".join)


@given(_words, _words)
def test_errors_never_exceed_the_longer_text(reference: str, hypothesis: str) -> None:
    errors, words = word_error_rate(reference, hypothesis)
    assert words == len(reference.split())
    assert abs(words - len(hypothesis.split())) <= errors <= max(words, len(hypothesis.split()))


@given(_words)
def test_a_text_compared_with_itself_has_no_errors(text: str) -> None:
    assert word_error_rate(text, text)[0] == 0

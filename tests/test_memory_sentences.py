"""The sentence splitter: a full stop ends a sentence only where one can end."""

from __future__ import annotations

import pytest

from cloud.memory.sentences import split_sentences


@pytest.mark.parametrize(
    "text",
    [
        "Remember that my doctor is Dr. Okafor at the Elm Street clinic.",
        "My landlord is Mr. Henderson and my neighbour is Mrs. Ito.",
        "My boss is Ms. Varga.",
        "She works at St. Mary's Hospital on Praed St. in London.",
        "My office is at 120 Park Ave. in Manhattan.",
        "I can't have citrus, e.g. lemons and oranges.",
        "Bring something warm, i.e. a coat.",
        "The appointment is at 9.30 a.m. on Friday.",
        "The class is at 6 p.m. on Monday.",
        "My dose is 3.5 mg a day.",
        "My favourite author is J. R. R. Tolkien.",
    ],
)
def test_abbreviations_decimals_and_initials_do_not_end_a_sentence(text):
    assert split_sentences(text) == [text]


def test_sentences_end_at_full_stops_question_and_exclamation_marks():
    assert split_sentences("My car is on level 3. Where are my keys? Great!  Thanks") == [
        "My car is on level 3.",
        "Where are my keys?",
        "Great!",
        "Thanks",
    ]


def test_an_abbreviation_that_closes_a_sentence_ends_it_before_a_new_one():
    assert split_sentences("The meeting is at 9 a.m. Then I have lunch with Ana.") == [
        "The meeting is at 9 a.m.",
        "Then I have lunch with Ana.",
    ]


def test_a_title_at_the_end_of_a_sentence_keeps_the_next_words_with_it():
    # A title is always followed by a name, so the name is never cut off.
    assert split_sentences(
        "Remember that my vet is Dr. Bianchi. She's at the Mill Road surgery."
    ) == [
        "Remember that my vet is Dr. Bianchi.",
        "She's at the Mill Road surgery.",
    ]


def test_empty_and_blank_text_has_no_sentences():
    assert split_sentences("") == []
    assert split_sentences("   \n ") == []

"""Mentions of entities: every run of up to four words, under the key its aliases are stored by."""

import pytest

from incidents.dedup.entities import MAX_WORDS, MIN_KEY, RAW_WORD, STOP_WORDS, fold, mention_keys
from incidents.models import normalise_alias


def by_definition(text: str) -> dict[str, str]:
    """``normalise_alias`` of each run of words, spelt out: what ``mention_keys`` computes faster."""
    tokens = [t for t in (t.strip(".-+&") for t in RAW_WORD.findall(text)) if t]
    keys: dict[str, str] = {}
    for start in range(len(tokens)):
        for size in range(1, MAX_WORDS + 1):
            run = tokens[start : start + size]
            if len(run) < size:
                break
            if fold(run[0]) in STOP_WORDS or fold(run[-1]) in STOP_WORDS:
                continue
            phrase = " ".join(run)
            key = normalise_alias(phrase)
            if len(key) >= MIN_KEY and not key.isdigit():
                keys.setdefault(key, phrase)
    return keys


@pytest.mark.parametrize(
    "text",
    [
        "Tesla Autopilot crash kills driver in Florida",
        "Acme Inc. and OpenAI.com's GPT-4, at www.example.co.uk",
        "Open AI, Google Photos; Foo Corp.ai and bar.com",
        "Clearview AI Ltd fined by the ICO for scraping 20 billion faces",
        "Pokémon Go – Niantic's AR game sends players to a crime scene",
        "",
    ],
)
def test_mention_keys_are_the_normalised_runs_of_words(text):
    assert mention_keys(text) == by_definition(text)


def test_names_meet_whatever_their_spacing_or_domain():
    assert {"openai", "gpt4"} <= set(mention_keys("Open AI released GPT-4"))
    assert "openai" in mention_keys("see openai.com for details")
    assert mention_keys("Clearview AI Ltd")["clearviewai"] == "Clearview AI"  # the shortest run, first

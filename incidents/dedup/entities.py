"""Organisations and AI systems named in a report, matched to known entities.

Every run of one to four words of the text is turned into an alias key with
``incidents.models.normalise_alias`` (so "Open AI", "OpenAI" and "openai.com"
meet) and looked up among ``EntityAlias.key`` in one indexed query.
"""

import re
from collections.abc import Iterable

from incidents.models import EntityAlias, normalise_alias

from .text import STOP_WORDS, fold

RAW_WORD = re.compile(r"[\w.&+-]+", re.UNICODE)
MAX_WORDS = 4
MIN_KEY = 2


def mention_keys(text: str) -> dict[str, str]:
    """Alias keys of every run of up to four words of ``text`` -> the words as written.

    A run's key is ``normalise_alias`` of its words joined by spaces. Words hold no ``/`` or
    ``:``, so where none of a run's words holds a ``.`` either, only the lower-casing, the
    company suffixes and the dropped punctuation apply, word by word: the key is the words' own
    keys end to end, and each word is normalised once instead of in every run it starts, ends
    or sits in (measured: a fifth of a bulk load's main thread went to ``normalise_alias``)."""
    tokens = [t.strip(".-+&") for t in RAW_WORD.findall(text or "")]
    tokens = [t for t in tokens if t]
    stop = [fold(t) in STOP_WORDS for t in tokens]
    word_keys = [normalise_alias(t) for t in tokens]
    dotted = ["." in t for t in tokens]
    keys: dict[str, str] = {}
    for start in range(len(tokens)):
        for size in range(1, MAX_WORDS + 1):
            end = start + size
            if end > len(tokens):
                break
            if stop[start] or stop[end - 1]:
                continue
            phrase = " ".join(tokens[start:end])
            key = normalise_alias(phrase) if any(dotted[start:end]) else "".join(word_keys[start:end])
            if len(key) >= MIN_KEY and not key.isdigit():
                keys.setdefault(key, phrase)
            # "Tesla's" names Tesla.
            if size == 1 and phrase.lower().endswith(("'s", "’s")):
                keys.setdefault(normalise_alias(phrase[:-2]), phrase[:-2])
    return keys


def find_entities(texts: Iterable[str]) -> dict[int, str]:
    """Known entities named in ``texts``: entity id -> the name as written."""
    keys: dict[str, str] = {}
    for text in texts:
        for key, phrase in mention_keys(text).items():
            keys.setdefault(key, phrase)
    if not keys:
        return {}
    found: dict[int, str] = {}
    rows = EntityAlias.objects.filter(key__in=list(keys)).values_list("key", "entity_id")
    # Longer names first, so "Google Photos" wins over "Google" for the words shown.
    for key, entity_id in sorted(rows, key=lambda row: -len(row[0])):
        found.setdefault(entity_id, keys[key])
    return found

"""Words and phrases of a report, as the index and the scorer see them.

Pure functions: lower case, Unicode words, a light English suffix stripper (so
"videos" meets "video" and "killed" meets "kills"), stop words dropped, and the
adjacent pairs of the remaining words as phrases. Reports carry only a title and
sometimes a short summary, so every content word counts.
"""

import itertools
import re
import unicodedata

STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "aren",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "didn",
        "do",
        "does",
        "doesn",
        "doing",
        "don",
        "down",
        "during",
        "each",
        "even",
        "ever",
        "every",
        "few",
        "for",
        "from",
        "further",
        "get",
        "gets",
        "got",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "isn",
        "it",
        "its",
        "itself",
        "just",
        "let",
        "lets",
        "like",
        "may",
        "me",
        "might",
        "more",
        "most",
        "much",
        "must",
        "my",
        "myself",
        "new",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "per",
        "same",
        "says",
        "said",
        "say",
        "she",
        "should",
        "since",
        "so",
        "some",
        "still",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "upon",
        "us",
        "use",
        "used",
        "using",
        "very",
        "via",
        "was",
        "wasn",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "within",
        "without",
        "would",
        "yet",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "one",
        "two",
        "three",
        "first",
        "many",
        "make",
        "makes",
        "made",
        "back",
        "way",
        "year",
        "years",
        "week",
        "weeks",
        "day",
        "days",
        "time",
        "times",
        "today",
        "report",
        "reports",
        "reported",
        "news",
        "update",
        "updated",
        "latest",
        "exclusive",
        "video",
        "watch",
        "opinion",
        "analysis",
        "here's",
        "heres",
        "what's",
        "thats",
        "it's",
        "isn't",
        "don't",
        "doesn't",
        "can't",
        "won't",
        "el",
        "la",
        "los",
        "las",
        "de",
        "del",
        "en",
        "y",
        "que",
        "un",
        "una",
        "por",
        "para",
        "con",
        "le",
        "les",
        "des",
        "et",
        "du",
        "der",
        "die",
        "das",
        "und",
        "ein",
        "eine",
    ]
)
WORD = re.compile(r"[0-9a-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]+(?:['’][a-z]+)?|[\u3040-\u30ff\u4e00-\u9fff]")


def fold(text: str) -> str:
    """Lower case without accents, so "Pokémon" and "pokemon" are one word."""
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def stem(word: str) -> str:
    """A deliberately crude suffix stripper: consistent beats clever here."""
    if word.endswith(("'s", "’s")):
        word = word[:-2]
    word = word.replace("’", "'")
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("ing") and len(word) > 5:
        return word[:-3]
    if word.endswith("ed") and len(word) > 4 and not word.endswith("eed"):
        return word[:-2] if not word.endswith("ied") else word[:-3] + "y"
    if word.endswith("es") and len(word) > 4 and word[-3] in "sxz":
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Content words of ``text``, stemmed, in order (stop words removed)."""
    out = []
    for raw in WORD.findall(fold(text or "")):
        raw = raw.replace("’", "'")
        if raw in STOP_WORDS or (len(raw) == 1 and raw.isascii()):
            continue
        stemmed = stem(raw)
        if stemmed and stemmed not in STOP_WORDS:
            out.append(stemmed)
    return out


def terms(title: str, text: str = "") -> list[str]:
    """The index terms of a report: ``w:`` words and ``p:`` phrases (adjacent word pairs)."""
    seen: dict[str, None] = {}
    for part in (title, text):
        sequence = words(part)
        for word in sequence:
            seen.setdefault(f"w:{word}"[:64], None)
        for left, right in itertools.pairwise(sequence):
            if left != right:
                seen.setdefault(f"p:{left} {right}"[:64], None)
    return list(seen)


def phrase_text(term: str) -> str:
    """A term as a moderator reads it in the reasons ("p:youtube kid" -> "youtube kid")."""
    return term.split(":", 1)[1]

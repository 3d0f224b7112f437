"""The taxonomy content and its idempotent loader."""

import copy
import json
import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from taxonomy.loader import DEFAULT_PATH, load_taxonomy, load_taxonomy_file, total_changes
from taxonomy.models import Mapping, Term, Vocabulary
from taxonomy.selectors import (
    crosswalk_sources,
    crosswalk_version,
    term_with_descendants_codes,
    vocabulary_terms,
)

pytestmark = pytest.mark.django_db

# Written out from shared/specs/taxonomy.md rather than read from the JSON, so a slip in the file shows up here.
SPEC_TERM_COUNTS = {
    "iasr-2025": 16,  # 3 families + 13 categories
    "system-flag": 3,
    "failure-mode": 11,
    "oecd-severity": 5,
    "oecd-harm-type": 9,
    "oecd-ai-relation": 4,
    "oecd-stakeholder": 10,
    "oecd-principle": 10,
    "oecd-autonomy": 4,
    "oecd-lifecycle": 6,
    "oecd-industry": 21,
    "mit-ai-risk": 31,  # 7 domains + 24 subdomains
}

SPEC_CROSSWALK = {
    "malicious-use.fake-content": {"4.3", "1.2"},
    "malicious-use.opinion-manipulation": {"4.1", "3.1", "3.2"},
    "malicious-use.cyber-offence": {"4.2", "2.2"},
    "malicious-use.bio-chem": {"4.2", "7.2"},
    "malfunction.reliability": {"7.3", "3.1", "5.1"},
    "malfunction.bias": {"1.1", "1.3"},
    "malfunction.loss-of-control": {"7.1", "7.2", "5.2"},
    "systemic.labour-market": {"6.2", "6.3"},
    "systemic.rd-divide": {"6.2", "6.1"},
    "systemic.market-concentration": {"6.1", "6.4"},
    "systemic.environment": {"6.6"},
    "systemic.privacy": {"2.1"},
    "systemic.copyright": {"6.3"},
}


@pytest.fixture
def data() -> dict[str, Any]:
    """A fresh copy of the shipped file, safe to edit in a test."""
    return json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))


def vocabulary(data: dict[str, Any], code: str) -> dict[str, Any]:
    return next(v for v in data["vocabularies"] if v["code"] == code)


def term(data: dict[str, Any], vocabulary_code: str, code: str) -> dict[str, Any]:
    return next(t for t in vocabulary(data, vocabulary_code)["terms"] if t["code"] == code)


def db_term(vocabulary_code: str, code: str) -> Term:
    return Term.objects.get(vocabulary__code=vocabulary_code, code=code)


def snapshot() -> list[list[Any]]:
    return [list(model.objects.order_by("pk").values()) for model in (Vocabulary, Term, Mapping)]


# --- Content, as loaded by the data migration ---------------------------------------


def test_migrated_database_holds_every_spec_vocabulary_with_its_term_count() -> None:
    counts = {v.code: v.terms.count() for v in Vocabulary.objects.all()}
    assert counts == SPEC_TERM_COUNTS


def test_hazard_categories_sit_under_three_families() -> None:
    families = vocabulary_terms("iasr-2025").filter(parent__isnull=True)
    assert [f.code for f in families] == ["malicious-use", "malfunction", "systemic"]
    assert all(f.is_family for f in families)
    for category in vocabulary_terms("iasr-2025").filter(parent__isnull=False):
        assert category.parent is not None and category.code.split(".")[0] == category.parent.code
        assert not category.is_family


def test_every_term_has_a_plain_label_and_definition() -> None:
    for t in Term.objects.all():
        assert t.label.strip(), t.code
        assert t.definition.strip(), t.code
        assert t.version == t.vocabulary.version


def test_severity_and_autonomy_take_a_single_term() -> None:
    single = set(Vocabulary.objects.filter(multiple=False).values_list("code", flat=True))
    assert single == {"oecd-severity", "oecd-autonomy"}


def test_terms_the_spec_marks_unconfirmed_are_flagged() -> None:
    flagged = set(Term.objects.filter(unconfirmed=True).values_list("vocabulary__code", "code"))
    assert flagged == {
        ("oecd-severity", "disaster"),
        ("oecd-ai-relation", "intentional-misuse"),
        ("oecd-autonomy", "high-action"),
    }


def test_industry_lists_isic_sections_a_to_u_in_order() -> None:
    codes = [t.code for t in vocabulary_terms("oecd-industry")]
    assert codes == [f"isic:{letter}" for letter in "ABCDEFGHIJKLMNOPQRSTU"]
    assert db_term("oecd-industry", "isic:Q").label == "Human health and social work activities"


def test_mit_subdomains_point_at_their_domain() -> None:
    for t in vocabulary_terms("mit-ai-risk"):
        if "." in t.code:
            assert t.parent is not None and t.parent.code == t.code.split(".")[0]
        else:
            assert t.parent is None


def test_crosswalk_maps_bias_to_mit_1_1_and_1_3() -> None:
    bias = db_term("iasr-2025", "malfunction.bias")
    assert set(bias.mappings_out.values_list("target__code", flat=True)) == {"1.1", "1.3"}


def test_crosswalk_matches_the_spec_table() -> None:
    loaded: dict[str, set[str]] = {}
    for source, target in Mapping.objects.values_list("source__code", "target__code"):
        loaded.setdefault(source, set()).add(target)
    assert loaded == SPEC_CROSSWALK
    assert crosswalk_version("iasr-2025", "mit-ai-risk") == "2025.1"


# --- Idempotent upsert ----------------------------------------------------------------


def test_loading_twice_changes_nothing() -> None:
    before = snapshot()
    counts = load_taxonomy_file()
    assert snapshot() == before
    assert total_changes(counts) == 0
    assert counts["terms_unchanged"] == sum(SPEC_TERM_COUNTS.values())
    assert counts["mappings_unchanged"] == 26


def test_edited_label_is_updated_and_references_keep_their_term(data: dict[str, Any]) -> None:
    bias = db_term("iasr-2025", "malfunction.bias")
    family = db_term("iasr-2025", "malfunction")
    mapping_ids = set(bias.mappings_out.values_list("pk", flat=True))
    term(data, "iasr-2025", "malfunction.bias")["label"] = "Bias and discrimination"
    term(data, "iasr-2025", "malfunction")["label"] = "When AI goes wrong"

    counts = load_taxonomy(data)

    assert counts["terms_updated"] == 2
    bias_after = db_term("iasr-2025", "malfunction.bias")
    assert (bias_after.pk, bias_after.label) == (bias.pk, "Bias and discrimination")
    assert db_term("iasr-2025", "malfunction").pk == family.pk
    assert bias_after.parent_id == family.pk
    assert set(bias_after.mappings_out.values_list("pk", flat=True)) == mapping_ids


def test_changed_term_records_the_vocabulary_version_it_changed_in(data: dict[str, Any]) -> None:
    vocabulary(data, "failure-mode")["version"] = "2025.2"
    term(data, "failure-mode", "jailbreak")["definition"] = "Safeguards were circumvented."

    load_taxonomy(data)

    assert Vocabulary.objects.get(code="failure-mode").version == "2025.2"
    assert db_term("failure-mode", "jailbreak").version == "2025.2"
    assert db_term("failure-mode", "sycophancy").version == "2025.1"


def test_term_missing_from_the_file_is_left_in_place(data: dict[str, Any]) -> None:
    sycophancy = db_term("failure-mode", "sycophancy")
    terms = vocabulary(data, "failure-mode")["terms"]
    terms[:] = [t for t in terms if t["code"] != "sycophancy"]

    counts = load_taxonomy(data)

    assert counts["terms_not_in_file"] == 1
    assert db_term("failure-mode", "sycophancy") == sycophancy


def test_deprecating_a_term_points_it_at_its_replacement(data: dict[str, Any]) -> None:
    old = db_term("failure-mode", "confabulation")
    terms = vocabulary(data, "failure-mode")["terms"]
    terms.append({"code": "hallucination", "label": "Hallucination", "definition": "Made-up facts."})
    term(data, "failure-mode", "confabulation")["deprecated_by"] = "hallucination"

    load_taxonomy(data)

    old.refresh_from_db()
    assert old.deprecated and old.deprecated_by == db_term("failure-mode", "hallucination")


def test_new_vocabulary_gets_parent_links_even_when_a_child_comes_first(data: dict[str, Any]) -> None:
    data["vocabularies"].append(
        {
            "code": "example",
            "name": "Example",
            "version": "1",
            "terms": [
                {"code": "a.child", "label": "Child", "parent": "a"},
                {"code": "a", "label": "Family"},
            ],
        }
    )

    counts = load_taxonomy(data)

    assert (counts["vocabularies_created"], counts["terms_created"]) == (1, 2)
    assert db_term("example", "a.child").parent == db_term("example", "a")
    assert term_with_descendants_codes(db_term("example", "a")) == ["a", "a.child"]


def test_pair_dropped_from_the_crosswalk_is_removed(data: dict[str, Any]) -> None:
    pairs = data["crosswalks"][0]["pairs"]
    pairs[:] = [p for p in pairs if p != ["malfunction.bias", "1.3"]]

    counts = load_taxonomy(data)

    assert counts["mappings_deleted"] == 1
    bias = db_term("iasr-2025", "malfunction.bias")
    assert list(bias.mappings_out.values_list("target__code", flat=True)) == ["1.1"]


def test_new_crosswalk_version_is_written_to_every_pair(data: dict[str, Any]) -> None:
    data["crosswalks"][0]["version"] = "2025.2"

    counts = load_taxonomy(data)

    assert counts["mappings_updated"] == 26
    assert set(Mapping.objects.values_list("version", flat=True)) == {"2025.2"}


# --- Validation -----------------------------------------------------------------------


def test_unknown_parent_is_rejected_naming_it_and_nothing_is_written(data: dict[str, Any]) -> None:
    term(data, "iasr-2025", "malfunction.bias")["label"] = "Changed"
    term(data, "iasr-2025", "malfunction.bias")["parent"] = "malfunktion"

    with pytest.raises(ValueError, match="unknown parent 'malfunktion'"):
        load_taxonomy(data)

    assert db_term("iasr-2025", "malfunction.bias").label == "Bias"


def test_duplicate_term_code_is_rejected_naming_it(data: dict[str, Any]) -> None:
    vocabulary(data, "oecd-lifecycle")["terms"].append({"code": "deployment", "label": "Again"})

    with pytest.raises(ValueError, match="duplicate term code 'deployment' in vocabulary 'oecd-lifecycle'"):
        load_taxonomy(data)


def test_duplicate_vocabulary_code_is_rejected_naming_it(data: dict[str, Any]) -> None:
    data["vocabularies"].append(copy.deepcopy(vocabulary(data, "system-flag")))

    with pytest.raises(ValueError, match="duplicate vocabulary code 'system-flag'"):
        load_taxonomy(data)


def test_crosswalk_pair_with_unknown_code_is_rejected(data: dict[str, Any]) -> None:
    data["crosswalks"][0]["pairs"].append(["malfunction.bias", "9.9"])

    with pytest.raises(ValueError, match=re.escape("unknown target term '9.9'")):
        load_taxonomy(data)


def test_parent_cycle_is_rejected(data: dict[str, Any]) -> None:
    term(data, "iasr-2025", "malfunction")["parent"] = "malfunction.bias"

    with pytest.raises(ValueError, match="parent cycle"):
        load_taxonomy(data)


def test_misspelt_key_is_rejected(data: dict[str, Any]) -> None:
    term(data, "iasr-2025", "systemic")["lable"] = "Systemic"

    with pytest.raises(ValueError, match=r"unknown key.*'lable'"):
        load_taxonomy(data)


def test_file_errors_name_the_file(tmp_path: Any) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")

    with pytest.raises(ValueError, match=re.escape("broken.json")):
        load_taxonomy_file(path)


# --- Command and selectors ----------------------------------------------------------


def test_command_prints_the_counts() -> None:
    out = StringIO()
    call_command("load_taxonomy", stdout=out)
    assert "terms_unchanged: 130" in out.getvalue()
    assert "Nothing to change" in out.getvalue()


def test_command_loads_another_file(tmp_path: Any, data: dict[str, Any]) -> None:
    term(data, "oecd-stakeholder", "children")["label"] = "Children and young people"
    path = tmp_path / "taxonomy.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    out = StringIO()

    call_command("load_taxonomy", "--file", str(path), stdout=out)

    assert "terms_updated: 1" in out.getvalue()
    assert db_term("oecd-stakeholder", "children").label == "Children and young people"


def test_family_codes_include_its_categories() -> None:
    codes = term_with_descendants_codes(db_term("iasr-2025", "malicious-use"))
    assert codes == [
        "malicious-use",
        "malicious-use.fake-content",
        "malicious-use.opinion-manipulation",
        "malicious-use.cyber-offence",
        "malicious-use.bio-chem",
    ]
    assert term_with_descendants_codes(db_term("iasr-2025", "malfunction.bias")) == ["malfunction.bias"]


def test_crosswalk_sources_finds_hazard_categories_for_an_mit_code() -> None:
    assert [t.code for t in crosswalk_sources("mit-ai-risk", "1.3")] == ["malfunction.bias"]
    assert [t.code for t in crosswalk_sources("mit-ai-risk", "6.2")] == [
        "systemic.labour-market",
        "systemic.rd-divide",
    ]
    # A domain answers for its subdomains.
    assert {t.code for t in crosswalk_sources("mit-ai-risk", "1")} == {"malicious-use.fake-content", "malfunction.bias"}
    assert crosswalk_sources("mit-ai-risk", "9.9") == []


def test_vocabulary_terms_can_leave_out_deprecated_terms(data: dict[str, Any]) -> None:
    term(data, "oecd-harm-type", "other")["deprecated_by"] = "public-interest"
    load_taxonomy(data)

    assert "other" in [t.code for t in vocabulary_terms("oecd-harm-type")]
    assert "other" not in [t.code for t in vocabulary_terms("oecd-harm-type", include_deprecated=False)]

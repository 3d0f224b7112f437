"""An incident's terms as the scorer reads them: sorted hashes in the feature row."""

import base64
import subprocess
import sys
from pathlib import Path

import numpy as np

from incidents.dedup import termset


def test_the_stored_hashes_answer_which_of_a_reports_terms_the_incident_uses():
    stored = termset.decode(termset.encode(["w:glue", "p:eat glue", "w:pizza", "w:glue"]))
    assert len(stored) == 3 and list(stored) == sorted(stored)  # distinct, sorted
    asked = termset.hashes(["w:pizza", "w:tesla", "p:eat glue", "w:glu"])
    assert termset.contains(stored, asked) == [True, False, True, False]


def test_meaning_buckets_and_entities_are_not_stored_since_no_report_term_is_one():
    stored = termset.decode(termset.encode(["w:uber", "v:3:1021", "e:17"]))
    assert termset.contains(stored, termset.hashes(["w:uber", "v:3:1021", "e:17"])) == [True, False, False]


def test_an_incident_without_terms_uses_none_of_a_reports():
    for stored in (termset.decode(None), termset.decode(""), termset.decode(termset.encode([]))):
        assert len(stored) == 0 and termset.contains(stored, termset.hashes(["w:a", "w:b"])) == [False, False]


def test_the_stored_form_is_little_endian_int64_and_the_same_in_every_process():
    raw = base64.b64decode(termset.encode(["w:glue"]))
    assert len(raw) == 8 and int(np.frombuffer(raw, dtype="<i8")[0]) == int(termset.hashes(["w:glue"])[0])
    # Python salts str hashes per process; these must not be salted.
    code = "from incidents.dedup import termset; print(termset.encode(['w:glue', 'p:eat glue']))"
    root = Path(__file__).resolve().parents[2]
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root) for _ in "ab"
    ]
    outputs = {run.stdout for run in runs}
    assert outputs == {termset.encode(["w:glue", "p:eat glue"]) + "\n"}

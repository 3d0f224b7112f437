"""Check curated_tags.json against taxonomy/data/taxonomy.json and aiid-incidents.jsonl.

Run from the repository root: python incidents/demo/check_curated.py
"""

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VOCAB = json.loads((HERE.parents[1] / "taxonomy" / "data" / "taxonomy.json").read_text("utf-8"))
TERMS = {v["code"]: {t["code"] for t in v["terms"]} for v in VOCAB["vocabularies"]}
FIELDS = {
    "hazards": "iasr-2025",
    "failure_modes": "failure-mode",
    "stakeholders": "oecd-stakeholder",
    "harm_types": "oecd-harm-type",
    "flags": "system-flag",
}
try:
    from django_countries.data import COUNTRIES
except ImportError:  # fall back to the shape check only
    COUNTRIES = None

tags = json.loads((HERE / "curated_tags.json").read_text("utf-8"))
ids = {json.loads(line)["incident_id"] for line in (HERE / "aiid-incidents.jsonl").open(encoding="utf-8")}
errors = []
for key, t in tags["incidents"].items():

    def bad(msg, key=key):
        errors.append(f"{key}: {msg}")

    if int(key) not in ids:
        bad("not in aiid-incidents.jsonl")
    for field, vocab in FIELDS.items():
        for code in t[field]:
            if code not in TERMS[vocab]:
                bad(f"{field} code {code!r} not in {vocab}")
    if not t["hazards"] or any("." not in h for h in t["hazards"]):
        bad("needs at least one hazard category code (family codes are not enough)")
    if t["severity"] not in TERMS["oecd-severity"] - {"disaster"}:
        bad(f"severity {t['severity']!r}")
    if t["severity"] in ("incident", "serious-incident") and not t["harm_types"]:
        bad("an incident needs at least one harm type")
    for c in t["countries"]:
        if not re.fullmatch(r"[A-Z]{2}", c) or (COUNTRIES is not None and c not in COUNTRIES):
            bad(f"country {c!r} is not ISO 3166-1 alpha-2")
    if not t["rationale"].strip():
        bad("empty rationale")
print("\n".join(errors) or f"OK: {len(tags['incidents'])} curated incidents, {len(ids)} incidents in the subset")
sys.exit(1 if errors else 0)

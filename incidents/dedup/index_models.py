"""The deduplication index: three tables every worker shares (see docs/dedup.md).

- ``DedupTerm``: each index term (word, phrase, entity, meaning bucket) with the
  number of incidents it occurs in. Terms in more than ``index.MAX_POSTINGS``
  incidents are too common to find anything and get no more postings.
- ``DedupPosting``: term -> incident, the inverted index that candidate
  generation reads with one grouped query.
- ``DedupIncident``: the features of one incident the scorer needs (its
  reports' terms, dates, addresses, entities and embeddings), so scoring a
  candidate reads one row instead of its reports, and their mean embedding,
  which ``vectors`` searches for incidents near a report in meaning.

Imported by ``incidents.dedup.models`` so the tables belong to the incidents app.
"""

from typing import Any

import orjson
from django.db import models


class JSONTextField(models.TextField):
    """A JSON object kept as text and parsed with orjson: the features a match reads by the hundred.

    Not a ``JSONField``: PostgreSQL's jsonb is parsed on every write and printed back
    as text on every read, and the standard library's parser is slower again.
    Measured on 80 feature rows of a 10 k catalogue (7.8 KB each): 6.2 ms to
    fetch as jsonb against 2.8 as text, and 6.2 ms to parse with ``json`` against
    2.1 with orjson (docs/dedup.md, "Feature rows as text"). Nothing queries
    inside the features."""

    # What django-stubs' plugin types a model's attribute as: the parsed object, not text.
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        return None if value is None else orjson.loads(value)

    def to_python(self, value: Any) -> Any:
        return orjson.loads(value) if isinstance(value, str) else value

    def get_prep_value(self, value: Any) -> Any:
        return None if value is None else orjson.dumps(value).decode()

    def value_to_string(self, obj: models.Model) -> Any:
        return self.get_prep_value(self.value_from_object(obj))


class DedupTerm(models.Model):
    term = models.CharField(max_length=64, primary_key=True)
    # Incidents the term occurs in (kept exact even after postings stop).
    df = models.PositiveIntegerField(default=0)


class DedupPosting(models.Model):
    pk = models.CompositePrimaryKey("term", "incident_id")
    term = models.CharField(max_length=64)
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="+", db_index=True)


class DedupIncident(models.Model):
    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.CASCADE, primary_key=True, related_name="dedup_features"
    )
    # What the scorer reads (``candidates``): {"ids", "reports": [{"id", "terms", "norm", "date",
    #  "vec"}], "hashes" (``termset``), "dmin", "dmax", "entities", "domains", "vmean", "vcount"}
    #  (rows written before 2026-12-06 also hold each kept report's "url", "domain" and
    #  "entities", which nothing reads)
    features = JSONTextField(default=dict)
    # Every index term of its reports, sorted: what its postings and term counts were made
    # of. Only the index's writers read it (the scorer reads their hashes, in ``features``).
    terms = JSONTextField(default=list)
    reports = models.PositiveIntegerField(default=0)
    # The mean of its reports' embeddings, L2-normalised, int8 (``vectors``: semantic candidates).
    vector = models.BinaryField(null=True)
    # Indexed: each worker's copy of the vectors reads the rows modified since it last looked.
    modified = models.DateTimeField(auto_now=True, db_index=True)

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

from django.db import models


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
    # {"reports": [{"id", "terms", "norm", "date", "url", "domain", "entities", "vec"}], "bag": {term: n}}
    features = models.JSONField(default=dict)
    reports = models.PositiveIntegerField(default=0)
    # The mean of its reports' embeddings, L2-normalised, int8 (``vectors``: semantic candidates).
    vector = models.BinaryField(null=True)
    # Indexed: each worker's copy of the vectors reads the rows modified since it last looked.
    modified = models.DateTimeField(auto_now=True, db_index=True)

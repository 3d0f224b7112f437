"""Deduplication: every new report is matched against the catalogue.

``engine`` scores candidate incidents (pure functions over features), ``index``
keeps the candidate index in database tables shared by all workers, ``urls``
canonicalises article addresses. The Celery task ``incidents.tasks.dedup_report``
runs it for each report and applies the decision through ``incidents.services``.
See docs/dedup.md.
"""

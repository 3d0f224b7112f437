"""Load the shipped AI Incident Database subset as demo content.

Idempotent: incidents and reports are keyed by their AIID numbers
(``source_name="aiid"``), so running it again adds nothing. The 120 incidents
in ``curated_tags.json`` were tagged by hand and are published; the rest stay
untagged drafts rather than carrying invented tags.
"""

import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents import services
from incidents.dedup import index as dedup_index
from incidents.models import Entity, Incident, IncidentEntity, Report, ReportIncidentLink, Tagging
from taxonomy.models import Term

DEMO_DIR = Path(__file__).resolve().parent
SOURCE = "aiid"


def _rows(name: str) -> Iterator[dict[str, Any]]:
    with (DEMO_DIR / name).open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _date(value: str | None) -> datetime.date | None:
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _entity_name(slug: str) -> str:
    return " ".join(part.capitalize() for part in slug.split("-"))


class DemoLoader:
    def __init__(self) -> None:
        self.curated = json.loads((DEMO_DIR / "curated_tags.json").read_text(encoding="utf-8"))["incidents"]
        self.terms = {(t.vocabulary.code, t.code): t for t in Term.objects.select_related("vocabulary")}
        self.counts = {"incidents": 0, "reports": 0, "published": 0}

    def term(self, vocabulary: str, code: str) -> Term:
        return self.terms[(vocabulary, code)]

    def run(self) -> dict[str, int]:
        reports_by_incident: dict[int, list[dict[str, Any]]] = {}
        for row in _rows("aiid-reports.jsonl"):
            for incident_id in row.get("incident_ids") or [row["incident_id"]]:
                reports_by_incident.setdefault(int(incident_id), []).append(row)
        for row in _rows("aiid-incidents.jsonl"):
            self.load_incident(row, reports_by_incident.get(int(row["incident_id"]), []))
        return self.counts

    def load_report(self, row: dict[str, Any]) -> Report:
        existing = Report.objects.filter(source_name=SOURCE, external_id=str(row["report_id"])).first()
        if existing:
            return existing
        self.counts["reports"] += 1
        published = _date(row.get("date"))
        return services.report_submit(
            title=row["title"][:300] or "(untitled)",
            text=row.get("description") or "",
            channel=Report.Channel.FEED,
            source_url=row.get("url") or "",
            publisher=row.get("source_domain") or "",
            authors=(row.get("authors") or "")[:500],
            language=(row.get("language") or "en")[:10],
            date_published=published,
            source_name=SOURCE,
            external_id=str(row["report_id"]),
        )

    @transaction.atomic
    def load_incident(self, row: dict[str, Any], report_rows: list[dict[str, Any]]) -> None:
        key = str(row["incident_id"])
        incident = Incident.objects.filter(source_name=SOURCE, external_id=key).first()
        if incident is None:
            self.counts["incidents"] += 1
            incident = services.incident_create(
                title=row["title"][:300],
                description=row.get("description") or "",
                date_occurred=_date(row.get("date")),
            )
            Incident.objects.filter(pk=incident.pk).update(source_name=SOURCE, external_id=key)
            incident.source_name, incident.external_id = SOURCE, key
        for report_row in report_rows:
            report = self.load_report(report_row)
            _link, created = ReportIncidentLink.objects.get_or_create(
                report=report, incident=incident, defaults={"method": ReportIncidentLink.Method.IMPORT}
            )
            if created:
                dedup_index.index_report(report, incident.pk)
            Report.objects.filter(pk=report.pk).update(status=Report.Status.ACCEPTED)
        for role, field in ((IncidentEntity.Role.DEVELOPER, "developers"), (IncidentEntity.Role.DEPLOYER, "deployers")):
            for slug in row.get(field) or []:
                entity = Entity.objects.filter(slug=slug).first() or services.entity_resolve(name=_entity_name(slug))
                IncidentEntity.objects.get_or_create(incident=incident, entity=entity, role=role)
        curated = self.curated.get(key)
        if curated and incident.status == Incident.Status.DRAFT:
            self.publish_curated(incident, curated)

    def publish_curated(self, incident: Incident, curated: dict[str, Any]) -> None:
        codes = [("iasr-2025", c) for c in curated.get("hazards", [])]
        codes += [("oecd-harm-type", c) for c in curated.get("harm_types", [])]
        codes += [("failure-mode", c) for c in curated.get("failure_modes", [])]
        codes += [("oecd-stakeholder", c) for c in curated.get("stakeholders", [])]
        codes += [("system-flag", c) for c in curated.get("flags", [])]
        Tagging.objects.bulk_create(
            [Tagging(incident=incident, term=self.term(v, c), source=Tagging.Source.CURATED) for v, c in codes],
            ignore_conflicts=True,
        )
        services.incident_update(
            incident=incident,
            actor=None,
            severity=self.term("oecd-severity", curated["severity"]),
            countries=curated.get("countries", []),
        )
        if not incident.description.strip():
            services.incident_update(incident=incident, actor=None, description=incident.title)
        services.incident_publish(incident=incident, actor=None)
        self.counts["published"] += 1


def seed_demo() -> dict[str, int]:
    started = timezone.now()
    counts = DemoLoader().run()
    counts["seconds"] = int((timezone.now() - started).total_seconds())
    return counts

"""Benchmark of the public catalogue on PostgreSQL: 10,000 published incidents.

    .venv/bin/python benchmarks/catalogue.py [--reseed] [--samples 30] [--no-docs]

The benchmark works in a database of its own (``ic_bench`` on the server of
DATABASE_URL, default ``postgres://postgres@127.0.0.1:5432/postgres``), created
if missing and migrated; it never writes to the database named in DATABASE_URL.
A second run reuses the seeded data when the count matches (``--reseed`` drops
and recreates the database first).

Requests go through ``django.test.Client`` in process: the times are the time
spent in Django's handler (middleware, view, queries, template), without a
network or a WSGI server. Each case is warmed up, then timed over ``--samples``
requests; queries are counted on separate, untimed requests with
CaptureQueriesContext. The results are printed, saved as JSON in
benchmarks/out/catalogue.json and written into the results section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
OUT = ROOT / "benchmarks" / "out" / "catalogue.json"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/postgres"
# Databases the benchmark must never drop or fill.
PROTECTED = {"postgres", "test", "root", "template0", "template1"}
TARGET_QUERIES = 10
TARGET_MEDIAN_MS = 100.0
HOST = "127.0.0.1"
START = "<!-- results:catalogue:start -->"
END = "<!-- results:catalogue:end -->"
SEED = 20250101


# --- The database of the benchmark ------------------------------------------


def database_url(base: str, name: str) -> str:
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{name}"))


def prepare_database(base: str, name: str, *, recreate: bool) -> None:
    """Create the benchmark database (dropping it first when ``recreate``)."""
    import psycopg
    from psycopg import sql

    if urlsplit(base).scheme not in {"postgres", "postgresql"}:
        raise SystemExit(f"the catalogue benchmark needs PostgreSQL: DATABASE_URL is {base!r}")
    if name in PROTECTED or name == urlsplit(base).path.lstrip("/"):
        raise SystemExit(f"refusing to use the database {name!r} for the benchmark: pick another --db-name")
    with psycopg.connect(base, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None
        if exists and recreate:
            print(f"dropping database {name}", flush=True)
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = False
        if not exists:
            print(f"creating database {name}", flush=True)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_django(url: str) -> None:
    """Point the settings at the benchmark database: no broker, no HTTPS redirect,
    no manifest storage, host 127.0.0.1 allowed."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": url,
            "CELERY_BROKER_URL": "",
            "REDIS_URL": "",
            "DEBUG": "0",
            "ALLOWED_HOSTS": f"{HOST},localhost",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or "benchmark-only-secret-key-not-used-anywhere-else",
            "LOG_LEVEL": "WARNING",
        }
    )
    for name in ("HTTPS", "COLLECTSTATIC_MANIFEST", "DEMO_MODE"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --- The dataset ----------------------------------------------------------------

SYSTEMS = [
    "chatbot",
    "customer-service chatbot",
    "facial recognition system",
    "autonomous vehicle",
    "self-driving taxi",
    "hiring algorithm",
    "credit scoring model",
    "image generator",
    "voice cloning tool",
    "content moderation system",
    "medical triage model",
    "recommendation engine",
    "predictive policing tool",
    "welfare fraud detector",
    "translation model",
    "code assistant",
    "delivery drone",
    "exam proctoring software",
    "deepfake video app",
    "insurance pricing model",
]
FAILURES = [
    "misidentified",
    "leaked data of",
    "invented a policy for",
    "discriminated against",
    "gave dangerous advice to",
    "wrongly flagged",
    "denied benefits to",
    "impersonated",
    "injured",
    "spread false claims about",
    "excluded",
    "overcharged",
]
VICTIMS = [
    "customers",
    "a pedestrian",
    "job applicants",
    "tenants",
    "patients",
    "students",
    "voters",
    "a journalist",
    "women drivers",
    "elderly residents",
    "migrants",
    "small businesses",
    "children",
    "a city council",
]
PLACES = ["in a pilot", "after an update", "at scale", "in court filings", "during an election", "for months", ""]
WORDS_TEXT = (
    "the system model users company regulator complaint error output training data audit review investigation "
    "refund policy camera sensor decision appeal account report lawsuit settlement warning accuracy bias privacy "
    "consent transparency safety incident harm vendor deployment hospital school bank police court insurer "
    "platform employees contractors researchers journalists families residents officials misinformation recall "
    "outage classification ranking score threshold override human oversight logs evidence statement apology fine"
)
WORDS = WORDS_TEXT.split()
ORG_HEADS = [
    "Nova",
    "Helix",
    "Quantum",
    "Blue",
    "Vector",
    "Orbit",
    "Cedar",
    "Polar",
    "Atlas",
    "Lumen",
    "Civic",
    "Iron",
    "Silver",
    "Prime",
    "Delta",
    "Echo",
    "Harbor",
    "Summit",
    "Kite",
    "Aster",
]
ORG_TAILS = [
    "Analytics",
    "Labs",
    "Robotics",
    "Health",
    "Mobility",
    "Vision",
    "Systems",
    "Data",
    "Finance",
    "Security",
    "Media",
    "Logistics",
    "AI",
    "Cloud",
    "Works",
    "Dynamics",
    "Insight",
    "Networks",
    "Signal",
    "Mind",
]
COUNTRIES = (
    ["US"] * 12
    + ["GB"] * 4
    + ["CN"] * 3
    + ["IN"] * 3
    + ["FR", "FR", "DE", "DE", "CA", "CA", "AU", "AU", "BR", "JP", "KR", "NL", "ES", "IT", "SE", "PL"]
    + ["ZA", "NG", "KE", "MX", "AR", "CL", "SG", "ID", "PH", "TR", "IL", "AE", "IE", "BE", "CH", "AT", "NZ"]
)
PUBLISHERS = ["The Guardian", "Reuters", "Wired", "BBC News", "Le Monde", "The Verge", "AP", "Der Spiegel", ""]


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(9, 18))]
    return " ".join(words).capitalize() + "."


def seed_dataset(count: int) -> None:
    """Write ``count`` published incidents with tags, entities, reports and revisions."""
    from django.contrib.auth.models import User
    from django.db import transaction

    from incidents.models import (
        Entity,
        EntityAlias,
        Incident,
        IncidentEntity,
        PublicIdCounter,
        Report,
        ReportIncidentLink,
        Revision,
        Tagging,
        normalise_alias,
    )
    from taxonomy.models import Term

    rng = random.Random(SEED)
    categories = list(Term.objects.filter(vocabulary__code="iasr-2025", parent__isnull=False))
    harms = list(Term.objects.filter(vocabulary__code="oecd-harm-type"))
    severities = list(Term.objects.filter(vocabulary__code="oecd-severity"))
    if not categories or not harms or not severities:
        raise SystemExit("the taxonomy is not loaded (taxonomy migrations): cannot seed")
    now = datetime.datetime.now(datetime.UTC)
    first = datetime.date(2012, 1, 1)
    span = (datetime.date(2025, 12, 31) - first).days
    batch = 2000
    started = time.perf_counter()

    with transaction.atomic():
        # The moderators who made the revisions (no password: they cannot sign in).
        moderators = User.objects.bulk_create(
            [
                User(username=f"bench-moderator-{n}", email=f"moderator{n}@bench.invalid", password="!")
                for n in range(1, 9)
            ]
        )
        entities = Entity.objects.bulk_create(
            [
                Entity(
                    kind=Entity.Kind.ORGANISATION if i % 3 else Entity.Kind.SYSTEM,
                    name=f"{head} {tail}",
                    slug=f"{head}-{tail}".lower(),
                )
                for i, (head, tail) in enumerate((h, t) for h in ORG_HEADS for t in ORG_TAILS)
            ],
            batch_size=batch,
        )
        EntityAlias.objects.bulk_create(
            [EntityAlias(entity=e, alias=e.name, key=normalise_alias(e.name)) for e in entities], batch_size=batch
        )

        incidents: list[Incident] = []
        per_year: dict[int, int] = {}
        for _ in range(count):
            occurred = first + datetime.timedelta(days=rng.randrange(span)) if rng.random() > 0.04 else None
            base_day = occurred or first + datetime.timedelta(days=rng.randrange(span))
            published = datetime.datetime.combine(
                base_day + datetime.timedelta(days=rng.randint(5, 400)), datetime.time(12), tzinfo=datetime.UTC
            )
            published = min(published, now)
            year = published.year
            per_year[year] = per_year.get(year, 0) + 1
            title = (
                f"{rng.choice(SYSTEMS).capitalize()} {rng.choice(FAILURES)} {rng.choice(VICTIMS)} {rng.choice(PLACES)}"
            )
            description = " ".join(sentence(rng) for _ in range(rng.randint(3, 7)))
            countries = sorted({rng.choice(COUNTRIES) for _ in range(rng.choice([0, 1, 1, 1, 1, 2, 2, 3]))})
            incidents.append(
                Incident(
                    public_id=f"INC-{year}-{per_year[year]:06d}",
                    title=title.strip(),
                    description=description,
                    description_html=f"<p>{description}</p>",
                    date_occurred=occurred,
                    countries=",".join(countries),
                    severity=rng.choice(severities),
                    status=Incident.Status.PUBLISHED,
                    created=published - datetime.timedelta(days=2),
                    modified=published + datetime.timedelta(days=rng.randint(0, 60)),
                    published_at=published,
                )
            )
        incidents = Incident.objects.bulk_create(incidents, batch_size=batch)
        PublicIdCounter.objects.bulk_create([PublicIdCounter(year=y, last=n) for y, n in per_year.items()])

        taggings: list[Tagging] = []
        links: list[IncidentEntity] = []
        revisions: list[Revision] = []
        for incident in incidents:
            for term in rng.sample(categories, rng.randint(1, 3)) + rng.sample(harms, rng.randint(1, 2)):
                taggings.append(Tagging(incident=incident, term=term, source=Tagging.Source.CURATED))
            roles = list(IncidentEntity.Role)
            for entity in rng.sample(entities, rng.randint(1, 3)):
                links.append(IncidentEntity(incident=incident, entity=entity, role=rng.choice(roles)))
            created = incident.created
            steps = ["created", "tagged", "published", *rng.sample(["edited", "entity_added", "report_linked"], 1)]
            for n, action in enumerate(steps):
                changes: dict[str, Any] = {"title": [None, incident.title]} if action == "created" else {}
                if action == "published":
                    changes = {"status": ["draft", "published"]}
                elif action == "edited":
                    changes = {"description": ["…", "…"]}
                revisions.append(
                    Revision(
                        incident=incident,
                        action=action,
                        actor=rng.choice(moderators),
                        changes=changes,
                        created=created + datetime.timedelta(hours=n),
                    )
                )
        Tagging.objects.bulk_create(taggings, batch_size=batch)
        IncidentEntity.objects.bulk_create(links, batch_size=batch)
        Revision.objects.bulk_create(revisions, batch_size=batch)

        reports: list[Report] = []
        owners: list[Incident] = []
        for incident in incidents:
            for n in range(2):
                day = (incident.date_occurred or first) + datetime.timedelta(days=rng.randint(0, 30))
                reports.append(
                    Report(
                        title=f"{incident.title} ({rng.choice(['report', 'follow-up', 'analysis'])} {n + 1})",
                        text=" ".join(sentence(rng) for _ in range(3)),
                        source_url=f"https://news.example.org/{incident.public_id.lower()}/{n + 1}",
                        publisher=rng.choice(PUBLISHERS),
                        date_published=day,
                        countries=",".join(str(country) for country in incident.countries),
                        channel=Report.Channel.FEED,
                        status=Report.Status.ACCEPTED,
                        source_name="benchmark",
                        external_id=f"{incident.public_id}/{n + 1}",
                        created=incident.created,
                        modified=incident.created,
                    )
                )
                owners.append(incident)
        reports = Report.objects.bulk_create(reports, batch_size=batch)
        ReportIncidentLink.objects.bulk_create(
            [
                ReportIncidentLink(report=r, incident=i, method=ReportIncidentLink.Method.IMPORT, confirmed=True)
                for r, i in zip(reports, owners, strict=True)
            ],
            batch_size=batch,
        )
        from incidents.search import incident_reindex_all

        incident_reindex_all()
    print(
        f"seeded {count} incidents, {len(taggings)} taggings, {len(links)} entity links, "
        f"{len(reports)} reports, {len(revisions)} revisions in {time.perf_counter() - started:.1f} s",
        flush=True,
    )


def prepare_dataset(count: int) -> tuple[bool, int]:
    """Migrate, then reuse or seed. Returns (seeded now, number of published incidents)."""
    from django.core.management import call_command
    from django.db import connection

    from incidents.models import Incident

    call_command("migrate", interactive=False, verbosity=0)
    published = Incident.objects.filter(status=Incident.Status.PUBLISHED).count()
    if published == count:
        print(f"reusing the {published} published incidents already seeded (--reseed to start again)", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        return False, published
    if Incident.objects.exists():
        raise SystemExit(
            f"the benchmark database holds {published} published incidents, not {count}: run again with --reseed"
        )
    seed_dataset(count)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return True, Incident.objects.filter(status=Incident.Status.PUBLISHED).count()


# --- Measuring --------------------------------------------------------------------


@dataclass
class Case:
    name: str
    paths: list[str]
    queries: list[int] = field(default_factory=list)
    sql_ms: list[float] = field(default_factory=list)
    times_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    results: str = ""
    size: int = 0
    slowest_sql_ms: float = 0.0
    slowest_sql: str = ""
    background: float = 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.times_ms)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]

    @property
    def max_queries(self) -> int:
        return max(self.queries)

    @property
    def met(self) -> bool:
        return self.max_queries <= TARGET_QUERIES and self.median < TARGET_MEDIAN_MS

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.paths[0] if len(self.paths) == 1 else f"{len(self.paths)} paths",
            "queries_max": self.max_queries,
            "queries_min": min(self.queries),
            "sql_ms": round(statistics.median(self.sql_ms), 2),
            "python_cpu_ms": round(statistics.median(self.cpu_ms), 2),
            "samples": len(self.times_ms),
            "median_ms": round(self.median, 2),
            "p95_ms": round(self.p95, 2),
            "min_ms": round(min(self.times_ms), 2),
            "results": self.results,
            "bytes": self.size,
            "slowest_sql_ms": round(self.slowest_sql_ms, 2),
            "slowest_sql": self.slowest_sql,
            "background_cpus": round(self.background, 2),
            "met": self.met,
        }


QUIET = 0.3  # CPUs that other processes may keep busy while a case is measured


def _cpu_ticks() -> tuple[int, int]:
    """(all, idle) CPU ticks of the machine since boot, from /proc/stat; (0, 0) elsewhere."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except OSError:
        return 0, 0
    return sum(values), values[3] + values[4]


def _stat(pid: int | str) -> list[str]:
    """Fields of /proc/PID/stat after the command name (index 0 is the state)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _postgres_ticks() -> int:
    """CPU ticks used so far by the PostgreSQL server that serves this process,
    when it runs on this machine (else 0): the postmaster with its exited children
    (parallel workers included) and every live child."""
    from django.db import connection

    connection.ensure_connection()
    try:
        postmaster = int(_stat(connection.connection.info.backend_pid)[1])
        fields = _stat(postmaster)
    except (OSError, ValueError, IndexError):
        return 0
    ticks = sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            child = _stat(entry.name)
        except (OSError, IndexError):
            continue
        if child[1] == str(postmaster):
            ticks += int(child[11]) + int(child[12])
    return ticks


class Background:
    """CPUs used by other processes while a block runs: the machine's busy time
    less this process and the PostgreSQL server (which, on a shared machine,
    also serves other people's databases: their Python still counts)."""

    def __enter__(self) -> Background:
        self.cpus = 0.0
        self.started = time.perf_counter()
        self.own = time.process_time()
        self.machine = _cpu_ticks()
        self.postgres = _postgres_ticks()
        return self

    def __exit__(self, *exc: object) -> None:
        seconds = time.perf_counter() - self.started
        total, idle = _cpu_ticks()
        tick = os.sysconf("SC_CLK_TCK")
        busy = ((total - self.machine[0]) - (idle - self.machine[1])) / tick
        ours = time.process_time() - self.own + (_postgres_ticks() - self.postgres) / tick
        self.cpus = max(0.0, (busy - ours) / seconds) if seconds > 0 and total else 0.0


def wait_until_quiet(budget: list[float]) -> float:
    """Wait (within the shared ``budget`` of seconds) until other processes keep
    fewer than QUIET CPUs busy; return the load seen last."""

    def sample() -> float:
        with Background() as background:
            time.sleep(1)
        return background.cpus

    load = sample()
    while load >= QUIET and budget[0] > 0:
        print(f"  waiting: other processes keep {load:.1f} CPUs busy", flush=True)
        time.sleep(4)
        budget[0] -= 5
        load = sample()
    return load


FOUND = re.compile(r"([\d,]+) incidents? found")


def measure(case: Case, samples: int, warmup: int = 3) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST=HOST)

    def get(path: str) -> bytes:
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{case.name}: GET {path} answered {response.status_code}")
        return response.content

    # Untimed: count the queries of every path, keep the slowest SQL statement.
    for path in case.paths:
        with CaptureQueriesContext(connection) as ctx:
            content = get(path)
        case.queries.append(len(ctx.captured_queries))
        case.sql_ms.append(sum(float(query["time"]) * 1000 for query in ctx.captured_queries))
        for query in ctx.captured_queries:
            ms = float(query["time"]) * 1000
            if ms > case.slowest_sql_ms:
                case.slowest_sql_ms, case.slowest_sql = ms, query["sql"]
        case.size = max(case.size, len(content))
        found = FOUND.search(content.decode("utf-8", "replace"))
        if found and not case.results:
            case.results = found.group(1).replace(",", "")
    for i in range(warmup):
        get(case.paths[i % len(case.paths)])
    rounds = max(samples, len(case.paths))
    for i in range(rounds):
        path = case.paths[i % len(case.paths)]
        started, cpu = time.perf_counter(), time.process_time()
        get(path)
        case.times_ms.append((time.perf_counter() - started) * 1000)
        case.cpu_ms.append((time.process_time() - cpu) * 1000)


def build_cases(detail_count: int) -> list[Case]:
    from incidents.models import Incident

    rng = random.Random(SEED + 1)
    ids = list(Incident.objects.filter(status=Incident.Status.PUBLISHED).values_list("public_id", flat=True))
    details = [f"/incidents/{public_id}/" for public_id in rng.sample(ids, min(detail_count, len(ids)))]

    def url(**params: str) -> str:
        return "/incidents/" + (f"?{urlencode(params)}" if params else "")

    return [
        Case("catalogue, default", [url()]),
        Case("hazard family facet", [url(hazard="malfunction")]),
        Case("hazard category facet", [url(hazard="malicious-use.fake-content")]),
        Case("full-text search", [url(q="facial recognition")]),
        Case("country filter", [url(country="FR")]),
        Case("page 50", [url(page="50")]),
        Case("combined facets", [url(q="chatbot", hazard="malfunction", country="US", sort="-date")]),
        Case(f"detail page ({len(details)} ids)", details),
    ]


# --- Reporting ------------------------------------------------------------------


def machine() -> dict[str, Any]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    mem_kb = 0
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import django

    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "postgresql": pg,
        "python": platform.python_version(),
        "django": django.get_version(),
        "commit": git_commit(),
    }


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        )
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return "unknown"
    commit = out.stdout.strip() or "unknown"
    return f"{commit} (with uncommitted changes)" if dirty.stdout.strip() else commit


def table(cases: list[Case]) -> list[str]:
    lines = [
        "| case | URL | queries | median ms | p95 ms | SQL ms | Python CPU ms | samples | results | target met |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for case in cases:
        queries = str(case.max_queries)
        if min(case.queries) != case.max_queries:
            queries = f"{min(case.queries)}–{case.max_queries}"
        path = case.paths[0] if len(case.paths) == 1 else "/incidents/&lt;public_id&gt;/"
        lines.append(
            f"| {case.name} | `{path}` | {queries} | {case.median:.1f} | {case.p95:.1f} "
            f"| {statistics.median(case.sql_ms):.0f} | {statistics.median(case.cpu_ms):.1f} | {len(case.times_ms)} "
            f"| {case.results or '–'} | {'yes' if case.met else '**no**'} |"
        )
    return lines


def results_markdown(info: dict[str, Any], dataset: dict[str, Any], cases: list[Case]) -> str:
    met = all(case.met for case in cases)
    lines = [
        START,
        "<!-- Written by benchmarks/catalogue.py: edit the script, not this section. -->",
        f"Measured on {info['date']} at commit {info['commit']}.",
        "",
        f"- Machine: {info['cpus']} CPUs ({info['cpu']}), {info['ram_gib']} GiB RAM; "
        f"PostgreSQL {info['postgresql']} on the same machine; Python {info['python']}, Django {info['django']}.",
        f"- Dataset: {dataset['incidents']} published incidents ({dataset['note']}); "
        f"{dataset['taggings']} taggings, {dataset['entity_links']} entity links, {dataset['reports']} reports, "
        f"{dataset['revisions']} revisions.",
        f"- Method: `django.test.Client` in process (host {HOST}), anonymous visitor; "
        "3 warm-up requests, then the samples shown; queries counted on separate untimed requests. "
        "SQL ms: time waiting for the database in one untimed request, as Django measures it. "
        "Python CPU ms: median CPU time of the Django process per request (middleware, view, ORM, template), "
        "which other processes on the machine barely change.",
        f"- Other processes on the machine kept at most {max(c.background for c in cases):.2f} of "
        f"{info['cpus']} CPUs busy while a case was measured (busy CPU time less this process and the "
        "PostgreSQL server; the script waits for a quiet machine and measures a case again when the load "
        "came during it, within --max-wait seconds). A busy machine inflates the medians and above all the p95.",
        f"- Targets: at most {TARGET_QUERIES} queries and a median under {TARGET_MEDIAN_MS:.0f} ms per page: "
        + ("**met by every case**." if met else "**not met** by the cases marked no."),
        "",
        *table(cases),
        "",
        "Slowest SQL statement of each case (one untimed request, time as measured by Django):",
        "",
    ]
    for case in cases:
        sql = " ".join(case.slowest_sql.split())
        # The column list says little: keep what is selected from where, and how.
        sql = re.sub(r"^SELECT (?!COUNT)(.{60,}?) FROM ", "SELECT … FROM ", sql)
        if len(sql) > 240:
            sql = sql[:237] + "..."
        lines.append(f"- {case.name}: {case.slowest_sql_ms:.1f} ms — `{sql}`")
    lines.append(END)
    return "\n".join(lines)


DOC_HEADER = """# Benchmarks

`make bench` runs every script in `benchmarks/` (through `benchmarks/run.py`).
Each one writes its results section below; the text around them is by hand.

## Catalogue and incident pages (`benchmarks/catalogue.py`)

"""


def write_doc(section: str) -> None:
    text = DOC.read_text() if DOC.exists() else DOC_HEADER
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)


def dataset_counts(seeded: bool) -> dict[str, Any]:
    from incidents.models import Incident, IncidentEntity, Report, Revision, Tagging

    return {
        "incidents": Incident.objects.filter(status=Incident.Status.PUBLISHED).count(),
        "taggings": Tagging.objects.filter(incident__isnull=False).count(),
        "entity_links": IncidentEntity.objects.count(),
        "reports": Report.objects.count(),
        "revisions": Revision.objects.count(),
        "note": "seeded by this run" if seeded else "reused from an earlier run",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reseed", action="store_true", help="drop the benchmark database and seed it again")
    parser.add_argument("--count", type=int, default=10_000, help="published incidents to seed (10000)")
    parser.add_argument("--samples", type=int, default=30, help="timed requests per case (30)")
    parser.add_argument("--details", type=int, default=50, help="random incident pages to request (50)")
    parser.add_argument("--db-name", default="ic_bench", help="database of the benchmark (ic_bench)")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument(
        "--max-wait",
        type=float,
        default=300,
        help="seconds to wait in all for other processes to leave the CPUs idle before a case (300)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is not met")
    args = parser.parse_args(argv)

    base = os.environ.get("DATABASE_URL") or DEFAULT_URL
    prepare_database(base, args.db_name, recreate=args.reseed)
    setup_django(database_url(base, args.db_name))
    seeded, _published = prepare_dataset(args.count)

    cases = build_cases(args.details)
    budget = [args.max_wait]
    for number, planned in enumerate(cases):
        for attempt in range(1, 4):
            case = cases[number] = Case(planned.name, planned.paths)
            wait_until_quiet(budget)
            with Background() as background:
                measure(case, args.samples)
            case.background = background.cpus
            if case.background < QUIET or budget[0] <= 0 or attempt == 3:
                break
            print(f"  {case.name}: other processes kept {case.background:.1f} CPUs busy; measuring again", flush=True)
        print(
            f"  {case.name:<28} queries {case.max_queries:>2}  median {case.median:6.1f} ms  p95 {case.p95:6.1f} ms"
            f"  (Python CPU {statistics.median(case.cpu_ms):5.1f} ms, background {case.background:.1f} CPUs)",
            flush=True,
        )

    info = machine()
    dataset = dataset_counts(seeded)
    print()
    print("\n".join(table(cases)))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps({"machine": info, "dataset": dataset, "cases": [c.as_dict() for c in cases]}, indent=2) + "\n"
    )
    print(f"\nwrote {OUT.relative_to(ROOT)}")
    if not args.no_docs:
        write_doc(results_markdown(info, dataset, cases))
        print(f"wrote the results section of {DOC.relative_to(ROOT)}")
    met = all(case.met for case in cases)
    print("targets (≤ 10 queries, median < 100 ms):", "met" if met else "NOT met")
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())

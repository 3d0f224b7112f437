"""Benchmark of the REST API (``/api/v1/``) served by gunicorn on PostgreSQL, under concurrent load.

    .venv/bin/python benchmarks/api.py [--reseed] [--incidents 100000] [--reports 300000] [--seconds 10] [--no-docs]

The benchmark works in a database of its own (``ic_bench_api`` on the server of
DATABASE_URL, default ``postgres://postgres@127.0.0.1:5432/postgres``), created
if missing and migrated, and seeds it once with ``--incidents`` published
incidents and ``--reports`` reports; a later run reuses the data when both counts
match (``--reseed`` drops and recreates the database first).

It then starts gunicorn (``config.wsgi``) on a free port of 127.0.0.1 against that
database, with the API's throttles raised out of the way, and drives it from
threads of this process (http.client, one connection each): a filtered and an
unfiltered 50-item page of incidents, the page a cursor leads to and ``stats``
queries, each with the API's answer cache on (as deployed) and off (every
answer computed), then CSV exports of about 1,000, 10,000 and 20,000 rows from
a one-worker server whose resident memory is watched. Every request goes to
127.0.0.1 only; each case is bounded by ``--seconds`` and ``--max-requests``.
Each server is stopped at the end, on an error or on Ctrl-C. The results are printed, saved
as JSON in benchmarks/out/api.json and written into the results section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import http.client
import io
import json
import math
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from catalogue import (
    COUNTRIES,
    DEFAULT_URL,
    FAILURES,
    HOST,
    ORG_HEADS,
    ORG_TAILS,
    PLACES,
    PUBLISHERS,
    QUIET,
    SEED,
    SYSTEMS,
    VICTIMS,
    Background,
    _stat,
    database_url,
    machine,
    prepare_database,
    sentence,
    setup_django,
    wait_until_quiet,
)

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
OUT = ROOT / "benchmarks" / "out" / "api.json"
LOG = ROOT / "benchmarks" / "out" / "api-gunicorn.log"
START = "<!-- results:api:start -->"
END = "<!-- results:api:end -->"
API = "/api/v1"
PAGE_CLIENTS = 16
TARGET_PAGE_P99_MS = 100.0
TARGET_STATS_P99_MS = 200.0
# The stats target is judged at these concurrencies; higher ones are shown for throughput.
STATS_TARGET_CLIENTS = (1, 4)
# Rows of the CSV exports (about). "Constant memory": the last one may not grow the worker by this much
# more than the one before it. (The first chunks of 500 rows take a worker to a plateau, which 1,000 rows
# do not reach yet: the 1,000-row export is there to show that start.)
EXPORT_ROWS = (1000, 10_000, 20_000)
MEMORY_SLACK_MIB = 10.0
# DRF keeps one timestamp per request for the throttle's window: a window of one second keeps it short.
THROTTLE_RATE = "1000000/s"
# The API's answer cache: each case runs with it (as deployed) and without it (every answer computed).
CACHE_SECONDS = 300
CHUNK = 5000


# --- The dataset ----------------------------------------------------------------


def report_counts(rng: random.Random, incidents: int, reports: int) -> list[int]:
    """Reports per incident, ``reports`` in all: one each, the rest spread at random."""
    counts = [1 if i < reports else 0 for i in range(incidents)]
    for _ in range(max(0, reports - incidents)):
        counts[rng.randrange(incidents)] += 1
    return counts


def seed_dataset(incident_count: int, report_count: int) -> None:
    """Write the published incidents with their taggings, entities, reports and links, in chunks."""
    from django.db import transaction

    from incidents.models import (
        Entity,
        EntityAlias,
        Incident,
        IncidentEntity,
        PublicIdCounter,
        Report,
        ReportIncidentLink,
        Tagging,
        normalise_alias,
    )
    from incidents.search import incident_reindex_all
    from taxonomy.models import Term

    rng = random.Random(SEED + 100)
    terms = {
        code: list(Term.objects.filter(vocabulary__code=code))
        for code in ("oecd-harm-type", "failure-mode", "oecd-stakeholder", "oecd-industry", "oecd-severity")
    }
    categories = list(Term.objects.filter(vocabulary__code="iasr-2025", parent__isnull=False))
    if not categories or not all(terms.values()):
        raise SystemExit("the taxonomy is not loaded (taxonomy migrations): cannot seed")
    # How many terms of each vocabulary an incident gets (a choice among these).
    picks = {
        "oecd-harm-type": [1, 1, 2],
        "failure-mode": [0, 1, 1, 2],
        "oecd-stakeholder": [1, 1, 2],
        "oecd-industry": [0, 1],
    }
    roles = list(IncidentEntity.Role)
    now = datetime.datetime.now(datetime.UTC)
    first = datetime.date(2012, 1, 1)
    span = (datetime.date(2025, 12, 31) - first).days
    reports_of = report_counts(rng, incident_count, report_count)
    per_year: Counter[int] = Counter()
    totals: Counter[str] = Counter()
    started = time.perf_counter()

    with transaction.atomic():
        entities = Entity.objects.bulk_create(
            [
                Entity(
                    kind=Entity.Kind.SYSTEM if i % 3 == 0 else Entity.Kind.ORGANISATION,
                    name=f"{head} {tail}",
                    slug=f"{head}-{tail}".lower(),
                )
                for i, (head, tail) in enumerate((h, t) for h in ORG_HEADS for t in ORG_TAILS)
            ]
        )
        EntityAlias.objects.bulk_create(
            [EntityAlias(entity=e, alias=e.name, key=normalise_alias(e.name)) for e in entities]
        )
        for offset in range(0, incident_count, CHUNK):
            incidents: list[Incident] = []
            codes_of: list[list[str]] = []
            for _ in range(min(CHUNK, incident_count - offset)):
                occurred = first + datetime.timedelta(days=rng.randrange(span)) if rng.random() > 0.04 else None
                base_day = occurred or first + datetime.timedelta(days=rng.randrange(span))
                published = datetime.datetime.combine(
                    base_day + datetime.timedelta(days=rng.randint(5, 400)), datetime.time(12), tzinfo=datetime.UTC
                )
                published = min(published + datetime.timedelta(seconds=rng.randrange(43200)), now)
                per_year[published.year] += 1
                description = " ".join(sentence(rng) for _ in range(rng.randint(3, 6)))
                codes = sorted({rng.choice(COUNTRIES) for _ in range(rng.choice([0, 1, 1, 1, 1, 2, 2, 3]))})
                codes_of.append(codes)
                title = f"{rng.choice(SYSTEMS).capitalize()} {rng.choice(FAILURES)} {rng.choice(VICTIMS)} "
                incidents.append(
                    Incident(
                        public_id=f"INC-{published.year}-{per_year[published.year]:06d}",
                        title=(title + rng.choice(PLACES)).strip(),
                        description=description,
                        description_html=f"<p>{description}</p>",
                        date_occurred=occurred,
                        countries=",".join(codes),
                        severity=rng.choice(terms["oecd-severity"]),
                        status=Incident.Status.PUBLISHED,
                        created=published - datetime.timedelta(days=2),
                        modified=min(published + datetime.timedelta(hours=rng.randrange(24 * 120)), now),
                        published_at=published,
                    )
                )
            incidents = Incident.objects.bulk_create(incidents, batch_size=2500)

            taggings: list[Tagging] = []
            links: list[IncidentEntity] = []
            reports: list[Report] = []
            owners: list[Incident] = []
            for position, (incident, codes) in enumerate(zip(incidents, codes_of, strict=True)):
                chosen = rng.sample(categories, rng.randint(1, 3))
                for vocabulary, counts in picks.items():
                    chosen += rng.sample(terms[vocabulary], rng.choice(counts))
                taggings += [Tagging(incident=incident, term=t, source=Tagging.Source.CURATED) for t in chosen]
                links += [
                    IncidentEntity(incident=incident, entity=e, role=rng.choice(roles))
                    for e in rng.sample(entities, rng.randint(1, 3))
                ]
                for n in range(reports_of[offset + position]):
                    day = (incident.date_occurred or first) + datetime.timedelta(days=rng.randint(0, 30))
                    # What the API shows of a report (and its text, which it never shows).
                    kind = rng.choice(["report", "follow-up", "analysis"])
                    reports.append(
                        Report(
                            title=f"{incident.title} ({kind} {n + 1})",
                            text=" ".join(sentence(rng) for _ in range(2)),
                            source_url=f"https://news.example.org/{incident.public_id.lower()}/{n + 1}",
                            publisher=rng.choice(PUBLISHERS),
                            date_published=day,
                            countries=",".join(codes),
                            channel=Report.Channel.FEED,
                            status=Report.Status.ACCEPTED,
                        )
                    )
                    owners.append(incident)
            Tagging.objects.bulk_create(taggings, batch_size=5000)
            IncidentEntity.objects.bulk_create(links, batch_size=5000)
            reports = Report.objects.bulk_create(reports, batch_size=2500)
            ReportIncidentLink.objects.bulk_create(
                [
                    ReportIncidentLink(report=r, incident=i, method=ReportIncidentLink.Method.IMPORT, confirmed=True)
                    for r, i in zip(reports, owners, strict=True)
                ],
                batch_size=5000,
            )
            totals.update(
                incidents=len(incidents), taggings=len(taggings), entity_links=len(links), reports=len(reports)
            )
            print(
                f"  {totals['incidents']:>7} incidents, {totals['reports']:>7} reports"
                f"  ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
        PublicIdCounter.objects.bulk_create([PublicIdCounter(year=y, last=n) for y, n in per_year.items()])
        indexing = time.perf_counter()
        incident_reindex_all()
        print(f"  search vectors in {time.perf_counter() - indexing:.0f} s", flush=True)
    print(
        f"seeded {totals['incidents']} incidents, {totals['taggings']} taggings, {totals['entity_links']} entity "
        f"links, {totals['reports']} reports in {time.perf_counter() - started:.1f} s",
        flush=True,
    )


def prepare_dataset(incidents: int, reports: int) -> float | None:
    """Migrate, then reuse or seed. Returns the seconds seeding took, None when the data was reused."""
    from django.core.management import call_command
    from django.db import connection

    from incidents.models import Incident, Report

    call_command("migrate", interactive=False, verbosity=0)
    published = Incident.objects.filter(status=Incident.Status.PUBLISHED).count()
    found = Report.objects.count()
    if (published, found) == (incidents, reports):
        print(f"reusing the {published} published incidents and {found} reports already seeded", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        return None
    if published or found:
        raise SystemExit(
            f"the benchmark database holds {published} published incidents and {found} reports, "
            f"not {incidents} and {reports}: run again with --reseed"
        )
    started = time.perf_counter()
    seed_dataset(incidents, reports)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def dataset_counts(seed_seconds: float | None) -> dict[str, Any]:
    from django.db import connection

    from incidents.models import Incident, IncidentEntity, Report, ReportIncidentLink, Tagging

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        size = cursor.fetchone()[0]
    counts: dict[str, Any] = {
        "incidents": Incident.objects.filter(status=Incident.Status.PUBLISHED).count(),
        "reports": Report.objects.count(),
        "report_links": ReportIncidentLink.objects.filter(confirmed=True).count(),
        "taggings": Tagging.objects.filter(incident__isnull=False).count(),
        "entity_links": IncidentEntity.objects.count(),
        "database_mb": round(size / 1e6),
        "seed_seconds": round(seed_seconds, 1) if seed_seconds is not None else None,
    }
    if seed_seconds is None and OUT.exists():
        # Reused data: keep the seeding time of the run that wrote it.
        earlier = json.loads(OUT.read_text()).get("dataset", {})
        if all(earlier.get(k) == counts[k] for k in ("incidents", "reports", "taggings")):
            counts["seed_seconds"] = earlier.get("seed_seconds")
    counts["note"] = "seeded by this run" if seed_seconds is not None else "reused from an earlier run"
    return counts


# --- The server -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in KiB; empty when it is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {k: int(v.split()[0]) for k, _sep, v in (line.partition(":") for line in lines) if k in ("VmRSS", "VmHWM")}


def reset_peak(pid: int) -> bool:
    """Start VmHWM again from the current RSS (Linux ≥ 4.0); False where it cannot."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class Server:
    """gunicorn serving config.wsgi on 127.0.0.1, in a session of its own (Ctrl-C reaches this script,
    which stops it)."""

    def __init__(self, workers: int, threads: int, *, cache_seconds: int = 0) -> None:
        self.workers, self.threads = workers, threads
        # The API's answer cache (api/cache.py): in each worker's memory here, as no Redis is configured.
        self.cache_seconds = cache_seconds
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def worker_class(self) -> str:
        return "gthread" if self.threads > 1 else "sync"

    def command(self) -> list[str]:
        command = ["gunicorn", "config.wsgi:application", "--bind", f"{HOST}:{self.port}"]
        command += ["--workers", str(self.workers), "--worker-class", self.worker_class]
        if self.threads > 1:
            command += ["--threads", str(self.threads)]
        return [*command, "--timeout", "120", "--worker-tmp-dir", "/dev/shm", "--log-level", "warning"]

    def start(self, *, quiet: bool = False) -> None:
        env = dict(os.environ, API_CACHE_SECONDS=str(self.cache_seconds))
        LOG.parent.mkdir(parents=True, exist_ok=True)
        with LOG.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", *self.command()],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.process.returncode}: see {LOG.relative_to(ROOT)}")
            try:
                status, _body = fetch(self.port, f"{API}/", timeout=5)
            except OSError:
                status = 0
            if status == 200 and len(self.worker_pids()) == self.workers:
                if not quiet:
                    print(f"gunicorn answers on {HOST}:{self.port} ({self.describe()})", flush=True)
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not answer within 60 s: see {LOG.relative_to(ROOT)}")
            time.sleep(0.2)

    def fresh_workers(self) -> None:
        """Replace the workers by new ones (SIGHUP) and wait until they all answer."""
        assert self.process is not None
        old = set(self.worker_pids())
        os.kill(self.process.pid, signal.SIGHUP)
        deadline = time.monotonic() + 60
        while not (len(pids := set(self.worker_pids())) == self.workers and not pids & old):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(f"gunicorn did not restart its workers: see {LOG.relative_to(ROOT)}")
            time.sleep(0.1)
        # The listening socket stays open: the first request waits for a new worker to take it.
        status, body = fetch(self.port, f"{API}/", timeout=60)
        if status != 200:
            raise SystemExit(f"the new gunicorn worker answered {status}: {body[:200]!r}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            # The group holds only the server this script started: its master and workers.
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        print("gunicorn stopped", flush=True)

    def describe(self) -> str:
        threads = f" × {self.threads} threads" if self.threads > 1 else ""
        return f"{self.workers} {self.worker_class} workers{threads}"

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        master, found = str(self.process.pid), []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and _stat(entry.name)[1] == master:
                    found.append(int(entry.name))
            except (OSError, IndexError):
                continue
        return sorted(found)

    def ticks(self) -> int:
        """CPU ticks used so far by the master (with its exited children) and the live workers."""
        if self.process is None:
            return 0
        total = 0
        for pid, fields in [(self.process.pid, slice(11, 15))] + [(w, slice(11, 13)) for w in self.worker_pids()]:
            try:
                total += sum(int(v) for v in _stat(pid)[fields])
            except (OSError, IndexError, ValueError):
                continue
        return total


class ServerBackground(Background):
    """Background load as in catalogue.py, counting the gunicorn server as ours too."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def __enter__(self) -> ServerBackground:
        self.server_ticks = self.server.ticks()
        super().__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        # Background counts this process's CPU time as ours: add the server's to it.
        self.own -= (self.server.ticks() - self.server_ticks) / os.sysconf("SC_CLK_TCK")
        super().__exit__(*exc)


def fetch(port: int, path: str, *, timeout: float = 60) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --- Load -------------------------------------------------------------------------


def nearest_rank(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else float("nan")


@dataclass
class Case:
    name: str
    paths: list[str]
    clients: int
    target_ms: float | None = None
    cached: bool = False
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    bytes: int = 0
    client_cpus: float = 0.0
    background: float = 0.0
    queries: int = 0
    sql_ms: float = 0.0
    slowest_sql_ms: float = 0.0
    slowest_sql: str = ""

    def fresh(self) -> Case:
        return Case(self.name, self.paths, self.clients, self.target_ms, self.cached)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def failed(self) -> int:
        return self.requests - self.statuses.get(200, 0)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def p(self, share: float) -> float:
        return nearest_rank(self.latencies_ms, share)

    @property
    def met(self) -> bool | None:
        if self.target_ms is None:
            return None
        return not self.failed and bool(self.latencies_ms) and self.p(0.99) < self.target_ms

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.paths[0],
            "clients": self.clients,
            "answer_cache": self.cached,
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "requests_per_s": round(self.per_second, 1),
            **{f"p{int(s * 100)}_ms": round(self.p(s), 1) for s in (0.5, 0.95, 0.99)},
            "max_ms": round(max(self.latencies_ms), 1) if self.latencies_ms else None,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": self.errors,
            "mean_bytes": round(self.bytes / max(1, self.statuses.get(200, 0))),
            "client_cpus": round(self.client_cpus, 2),
            "background_cpus": round(self.background, 2),
            "queries": self.queries,
            "sql_ms": round(self.sql_ms, 1),
            "slowest_sql_ms": round(self.slowest_sql_ms, 1),
            "slowest_sql": self.slowest_sql,
            "target_p99_ms": self.target_ms,
            "met": self.met,
        }


def drive(port: int, case: Case, *, seconds: float, max_requests: int) -> None:
    """``case.clients`` threads, one connection each, request ``case.paths`` in turn until ``seconds``
    have passed or ``max_requests`` were sent; each waits for the whole body before the next request."""
    stop = threading.Event()
    lock = threading.Lock()
    sent = [0]

    def client() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        try:
            while not stop.is_set():
                with lock:
                    if sent[0] >= max_requests:
                        return
                    path = case.paths[sent[0] % len(case.paths)]
                    sent[0] += 1
                started = time.perf_counter()
                try:
                    conn.request("GET", path)
                    response = conn.getresponse()
                    status, body = response.status, response.read()
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()  # the next request opens a new connection
                    status, body = 0, repr(exc).encode()
                elapsed_ms = (time.perf_counter() - started) * 1000
                with lock:
                    case.statuses[status] += 1
                    if status == 200:
                        case.latencies_ms.append(elapsed_ms)
                        case.bytes += len(body)
                    elif len(case.errors) < 3:
                        case.errors.append(f"{status or 'no answer'} for {path}: {body[:300].decode(errors='replace')}")
        finally:
            conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(case.clients)]
    started, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    try:
        while any(t.is_alive() for t in threads) and time.perf_counter() - started < seconds:
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=65)
    case.seconds = time.perf_counter() - started
    case.client_cpus = (time.process_time() - cpu) / case.seconds


def count_queries(case: Case) -> None:
    """An untimed request in this process (django.test.Client): its queries and slowest statement."""
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST=HOST)
    with override_settings(API_CACHE_SECONDS=CACHE_SECONDS if case.cached else 0):
        client.get(case.paths[0])  # first, so that what is cached (the taxonomy version, the answer) is
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(case.paths[0])
            if response.streaming:
                b"".join(response.streaming_content)  # type: ignore[attr-defined]
    if response.status_code != 200:
        print(f"  {case.name}: in process, GET {case.paths[0]} answered {response.status_code}", flush=True)
    case.queries = len(ctx.captured_queries)
    for query in ctx.captured_queries:
        ms = float(query["time"]) * 1000
        case.sql_ms += ms
        if ms > case.slowest_sql_ms:
            case.slowest_sql_ms, case.slowest_sql = ms, query["sql"]


def measured(server: Server, budget: list[float], run: Callable[[], Any]) -> tuple[Any, float]:
    """``run()`` on a quiet machine, again (up to 3 times) while others kept QUIET CPUs busy during it."""
    for attempt in range(1, 4):
        wait_until_quiet(budget)
        with ServerBackground(server) as background:
            result = run()
        if background.cpus < QUIET or budget[0] <= 0 or attempt == 3:
            return result, background.cpus
        print(f"  other processes kept {background.cpus:.1f} CPUs busy: measuring again", flush=True)
    raise AssertionError("unreachable")


def url(endpoint: str, **params: str) -> str:
    return f"{API}/{endpoint}/" + (f"?{urlencode(params)}" if params else "")


def build_cases(port: int, *, cached: bool) -> list[Case]:
    page = url("incidents", hazard="malfunction", country="US", page_size="50")
    status, body = fetch(port, page)
    following = json.loads(body).get("next") if status == 200 else None
    if following:
        parts = urlsplit(following)
        second = f"{parts.path}?{parts.query}"
    else:
        print(f"  no cursor to follow: GET {page} answered {status}", flush=True)
        second = page + "&cursor=missing"
    hazard_year = url("stats", dimension="hazard", interval="year")
    hazard_year_us = url("stats", dimension="hazard", interval="year", country="US")
    cases = [
        Case("incidents, filtered page", [page], 1),
        Case("incidents, filtered page", [page], PAGE_CLIENTS, TARGET_PAGE_P99_MS),
        Case("incidents, unfiltered page", [url("incidents", page_size="50")], PAGE_CLIENTS),
        Case("incidents, filtered page 2 (cursor)", [second], PAGE_CLIENTS),
        *[
            Case(
                "stats by hazard and year", [hazard_year], n, TARGET_STATS_P99_MS if n in STATS_TARGET_CLIENTS else None
            )
            for n in (1, 4, PAGE_CLIENTS)
        ],
        *[Case("stats by hazard and year, US", [hazard_year_us], n, TARGET_STATS_P99_MS) for n in (1, 4)],
        Case("stats by country", [url("stats", dimension="country")], 1),
    ]
    for case in cases:
        case.cached = cached
    return cases


# --- CSV export ---------------------------------------------------------------------

EXPORT_FROM = datetime.date(2020, 1, 1)


@dataclass
class Export:
    rows_wanted: int
    path: str = ""
    matching: int = 0
    runs: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    background: float = 0.0
    queries: int = 0

    def median(self, key: str) -> float:
        values = [r[key] for r in self.runs if r.get(key) is not None]
        return statistics.median(values) if values else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows_wanted": self.rows_wanted,
            "path": self.path,
            "matching": self.matching,
            "runs": self.runs,
            "errors": self.errors,
            "background_cpus": round(self.background, 2),
            "queries": self.queries,
        }


def export_filter(rows: int) -> Export:
    """Published incidents that occurred from EXPORT_FROM on, up to the day the ``rows``-th of them did."""
    from incidents.models import Incident

    published = Incident.objects.filter(status=Incident.Status.PUBLISHED, date_occurred__gte=EXPORT_FROM)
    days = list(published.order_by("date_occurred").values_list("date_occurred", flat=True)[rows - 1 : rows])
    last = days[0] if days and days[0] else datetime.date.today()
    export = Export(rows)
    export.matching = published.filter(date_occurred__lte=last).count()
    export.path = url(
        "incidents", format="csv", date_occurred_after=EXPORT_FROM.isoformat(), date_occurred_before=last.isoformat()
    )
    print(f"  export of ~{rows} rows: {export.path} matches {export.matching} incidents", flush=True)
    return export


def export_once(server: Server, path: str) -> tuple[dict[str, Any], str]:
    """One export read to the end, while the workers' resident memory is watched.
    Returns the run's figures and an error ("" when none)."""
    workers = server.worker_pids()
    before = {pid: memory_kib(pid).get("VmRSS", 0) for pid in workers}
    resets = [reset_peak(pid) for pid in workers]  # every one, even after a failure
    hwm = all(resets)
    sampled = dict(before)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for pid in workers:
                sampled[pid] = max(sampled[pid], memory_kib(pid).get("VmRSS", 0))
            done.wait(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    conn = http.client.HTTPConnection(HOST, server.port, timeout=120)
    body, first_row_ms, status = io.BytesIO(), None, 0
    started = time.perf_counter()
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        status = response.status
        headers_ms = (time.perf_counter() - started) * 1000
        lines = 0
        while piece := response.read1(65536):
            body.write(piece)
            if first_row_ms is None:
                lines += piece.count(b"\n")
                if lines >= 2:
                    first_row_ms = (time.perf_counter() - started) * 1000
        total = time.perf_counter() - started
    finally:
        conn.close()
        done.set()
        sampler.join()
    peaks = {pid: memory_kib(pid).get("VmHWM", 0) if hwm else sampled[pid] for pid in workers}
    peaks = {pid: max(peaks[pid], sampled[pid]) for pid in workers}
    served = max(workers, key=lambda pid: peaks[pid] - before[pid])
    data = body.getvalue()
    if status != 200:
        return {}, f"{status} for {path}: {data[:300].decode(errors='replace')}"
    rows = sum(1 for _row in csv.reader(io.StringIO(data.decode("utf-8")))) - 1
    return {
        "seconds": round(total, 3),
        "headers_ms": round(headers_ms, 1),
        "first_row_ms": round(first_row_ms, 1) if first_row_ms is not None else None,
        "rows": rows,
        "bytes": len(data),
        "rows_per_s": round(rows / total) if total else None,
        "worker_rss_before_mib": round(before[served] / 1024, 1),
        "worker_peak_mib": round(peaks[served] / 1024, 1),
        "growth_mib": round((peaks[served] - before[served]) / 1024, 1),
        "peak_from": "VmHWM" if hwm else "VmRSS sampled every 5 ms",
    }, ""


def measure_export(server: Server, export: Export, samples: int) -> None:
    """``samples`` runs, each by a new worker warmed up by a small export, so that every run
    starts from the same memory (Python keeps what a first large export took)."""
    warmup = url("incidents", format="csv", date_occurred_after=EXPORT_FROM.isoformat())
    warmup += f"&date_occurred_before={EXPORT_FROM.isoformat()}"
    for _ in range(samples):
        server.fresh_workers()
        fetch(server.port, warmup)
        run, error = export_once(server, export.path)
        if error:
            export.errors.append(error)
            print(f"  export ~{export.rows_wanted}: {error}", flush=True)
            return
        export.runs.append(run)
        print(
            f"  export ~{export.rows_wanted:<6} {run['rows']:>6} rows  {run['seconds']:6.2f} s"
            f"  first row {run['first_row_ms']} ms  worker {run['worker_rss_before_mib']} MiB"
            f" + {run['growth_mib']} MiB at the peak",
            flush=True,
        )


def export_constant(exports: list[Export]) -> bool | None:
    small, large = exports[-2], exports[-1]
    if not small.runs or not large.runs:
        return None
    growth = [max(r["growth_mib"] for r in e.runs) for e in (small, large)]
    return growth[1] <= growth[0] + MEMORY_SLACK_MIB


# --- Reporting ----------------------------------------------------------------------


def verdict(met: bool | None) -> str:
    return "–" if met is None else "yes" if met else "**no**"


def table(cases: list[Case]) -> list[str]:
    lines = [
        "| case | URL | answer cache | clients | requests | req/s | p50 ms | p95 ms | p99 ms | errors | queries "
        "| target | met |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for c in cases:
        path = re.sub(r"cursor=[^&]+", "cursor=…", c.paths[0])
        target = f"p99 < {c.target_ms:.0f} ms" if c.target_ms else "–"
        lines.append(
            f"| {c.name} | `{path}` | {'on' if c.cached else 'off'} | {c.clients} | {c.requests} "
            f"| {c.per_second:.1f} | {c.p(0.5):.1f} "
            f"| {c.p(0.95):.1f} | {c.p(0.99):.1f} | {c.failed} | {c.queries} | {target} | {verdict(c.met)} |"
        )
    return lines


def export_table(exports: list[Export]) -> list[str]:
    lines = [
        "| export | URL | rows | MB | queries | median s | rows/s | first row ms | worker RSS MiB | peak growth MiB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for e in exports:
        if not e.runs:
            lines.append(
                f"| ~{e.rows_wanted:,} rows | `{e.path}` | {e.matching} | – | {e.queries} | – | – | – | – | failed |"
            )
            continue
        growth = ", ".join(f"{r['growth_mib']:.1f}" for r in e.runs)
        lines.append(
            f"| ~{e.rows_wanted:,} rows | `{e.path}` | {e.runs[0]['rows']} | {e.runs[0]['bytes'] / 1e6:.1f} "
            f"| {e.queries} "
            f"| {e.median('seconds'):.2f} | {e.median('rows_per_s'):.0f} | {e.median('first_row_ms'):.0f} "
            f"| {e.median('worker_rss_before_mib'):.0f} | {growth} |"
        )
    return lines


def short_sql(sql: str, limit: int = 300) -> str:
    """The statement on one line without a long column list: what is selected from where, and how.
    The FROM that ends the column list is the first one outside parentheses (subqueries have their own)."""
    sql = " ".join(sql.split())
    depth = 0
    for i, char in enumerate(sql if sql.startswith("SELECT ") else ""):
        depth += (char == "(") - (char == ")")
        if depth == 0 and sql.startswith(" FROM ", i):
            sql = "SELECT …" + sql[i:] if i > 60 else sql
            break
    return sql if len(sql) <= limit else sql[: limit - 3] + "..."


def results_markdown(info: dict[str, Any], run: dict[str, Any], cases: list[Case], exports: list[Export]) -> str:
    dataset, server = run["dataset"], run["server"]
    seeded = f", seeded in {dataset['seed_seconds']:.0f} s" if dataset.get("seed_seconds") else ""
    constant = export_constant(exports)

    def met(target: float, cached: bool) -> str:
        return verdict(all(c.met for c in cases if c.target_ms == target and c.cached == cached))

    failures = [f"- {c.name} ({c.clients} clients): {e}" for c in cases for e in c.errors[:1]]
    failures += [f"- export ~{e.rows_wanted}: {err}" for e in exports for err in e.errors[:1]]
    background = max([c.background for c in cases] + [e.background for e in exports])
    lines = [
        START,
        "<!-- Written by benchmarks/api.py: edit the script, not this section. -->",
        f"Measured on {info['date']} at commit {info['commit']}.",
        "",
        f"- Machine: {info['cpus']} CPUs ({info['cpu']}), {info['ram_gib']} GiB RAM; "
        f"PostgreSQL {info['postgresql']} on the same machine; Python {info['python']}, Django {info['django']}.",
        f"- Dataset: {dataset['incidents']} published incidents, {dataset['reports']} reports "
        f"({dataset['report_links']} confirmed links), {dataset['taggings']} taggings, "
        f"{dataset['entity_links']} entity links; database {dataset['database_mb']} MB "
        f"({dataset['note']}{seeded}).",
        f"- Server: `{' '.join(server['command'])}` ({server['description']}), DEBUG off, "
        f"throttles at {THROTTLE_RATE} (`API_THROTTLE_ANON`, `API_THROTTLE_KEY`), no broker, so the cache is "
        "each worker's local memory; persistent database connections (`conn_max_age` 60). Every case runs "
        f"twice: with the API's answer cache as deployed (`API_CACHE_SECONDS={CACHE_SECONDS}`; after the first "
        "request of a worker, answers come from the cache) and without it (`API_CACHE_SECONDS=0`: every "
        "answer computed, as after any change to the catalogue or for a query not asked before).",
        f"- Load: threads of the benchmark's process, one `http.client` connection each, each waiting for the "
        f"whole body before its next request (closed loop); {run['warmup']} s of warm-up, then up to "
        f"{run['seconds']} s or {run['max_requests']} requests per case. Latency is the time from sending the "
        "request to the last byte, seen by the client, queueing in the server included. The load generator "
        f"itself used at most {max(c.client_cpus for c in cases):.2f} CPU. Queries: one untimed request "
        "of the same URL through `django.test.Client`.",
        f"- Other processes kept at most {background:.2f} of {info['cpus']} CPUs busy while a case was measured "
        "(busy time less this process, gunicorn and PostgreSQL; the script waits for a quiet machine first, as "
        "catalogue.py does).",
        f"- Targets (answer cache on / off): filtered page p99 < {TARGET_PAGE_P99_MS:.0f} ms at {PAGE_CLIENTS} "
        f"clients: {met(TARGET_PAGE_P99_MS, True)} / {met(TARGET_PAGE_P99_MS, False)}; stats p99 < "
        f"{TARGET_STATS_P99_MS:.0f} ms at {' and '.join(map(str, STATS_TARGET_CLIENTS))} clients: "
        f"{met(TARGET_STATS_P99_MS, True)} / {met(TARGET_STATS_P99_MS, False)}; "
        f"CSV export in constant memory (the {exports[-1].rows_wanted:,}-row export's peak growth at most "
        f"{MEMORY_SLACK_MIB:.0f} MiB above the {exports[-2].rows_wanted:,}-row one's): {verdict(constant)}.",
        "",
        *table(cases),
        "",
        f"CSV exports, one at a time, served by `{' '.join(server.get('export_command', []))}`, whose worker is "
        "replaced and warmed up with a small export before each run. Memory: the worker's resident set "
        "before the request, and its peak growth during it in each run "
        f"({exports[0].runs[0]['peak_from'] if exports[0].runs else 'VmHWM'}):",
        "",
        *export_table(exports),
    ]
    if failures:
        lines += ["", "Errors (first of each case):", "", *failures]
    lines += [
        "",
        "Slowest SQL statement of each URL when the answer is computed (answer cache off; one untimed request, "
        "time as measured by Django):",
        "",
    ]
    seen: set[str] = set()
    for case in sorted(cases, key=lambda c: c.cached):  # computed answers first
        if case.paths[0] in seen or not case.slowest_sql:
            continue
        seen.add(case.paths[0])
        sql = short_sql(case.slowest_sql)
        lines.append(f"- {case.name}: {case.slowest_sql_ms:.1f} ms of {case.sql_ms:.0f} ms in all — `{sql}`")
    lines.append(END)
    return "\n".join(lines)


DOC_SECTION = """## REST API (`benchmarks/api.py`)

Targets (the API issue): with 100,000 published incidents and 300,000 reports on
PostgreSQL, served by gunicorn, a filtered 50-item page of `incidents` has a
**p99 under 100 ms at 16 concurrent clients** on this 2-core machine, a `stats`
query **under 200 ms** (p99, judged at 1 and 4 clients), and a CSV export of
10,000 rows **streams in constant memory**. The timing targets are judged
both with the API's answer cache and without it.

### How it works

- **Database.** Like the catalogue benchmark, a database of its own,
  `ic_bench_api` (`--db-name`), created and migrated on the server of
  `DATABASE_URL`; the same names are refused. `--incidents 100000 --reports
  300000` published incidents and reports are written with `bulk_create` in
  chunks of 5,000 incidents, in one transaction: the catalogue's word lists and
  countries, 1–3 `iasr-2025` categories, 1–2 harm types, 0–2 failure modes,
  1–2 stakeholders and 0–1 industry per incident, 1–3 of 400 entities (with an
  alias) as developer, deployer or harmed party, and reports spread at random
  (at least one each) with a confirmed `import` link. Then
  `incident_reindex_all()` and `VACUUM ANALYZE`. The generator is seeded; a
  later run reuses the data when both counts match, `--reseed` starts again.
- **Server.** `gunicorn config.wsgi` on a free port of 127.0.0.1, `--workers`
  (default 2 per CPU) sync workers, or gthread with `--threads N`; DEBUG off,
  the throttle rates raised so that nothing is throttled, no broker (so the
  cache is each worker's local memory, where production shares Redis). The
  script waits until it answers and stops it at the end, also on an error or
  Ctrl-C. Its log is `benchmarks/out/api-gunicorn.log`.
- **Answer cache on and off.** The API caches its public answers, keyed by
  the URL and a stamp of the catalogue (`api/cache.py`). A benchmark that
  repeats one URL measures cache hits, while every change to the catalogue,
  and every query not asked before, is computed. So every case runs twice:
  on a server with `API_CACHE_SECONDS=300` (as deployed) and on one with
  `API_CACHE_SECONDS=0`, where every answer is computed.
- **Load.** Threads of the benchmark's own process, each with one
  `http.client` connection, in a closed loop: a filtered and an unfiltered
  50-item page, the page the filtered one's `next` cursor leads to,
  `stats` by hazard and year (alone and with `country=US`) and by country, at
  1, 4 or 16 clients. Each case has a warm-up (`--warmup`, 2 s), then runs for
  `--seconds` (10) or `--max-requests` (5,000), whichever ends first; the
  table gives requests per second and latency percentiles (nearest rank) from
  sending the request to the last byte. Before each case the script waits for
  a quiet machine and measures again when other processes were busy, as
  `catalogue.py` does (gunicorn and PostgreSQL count as the benchmark's own).
- **CSV export.** `?format=csv` with a date-of-occurrence range chosen in the
  seeded data to match about 1,000, 10,000 and 20,000 incidents (the counts
  are printed). A second gunicorn with one worker serves them: before each run
  the worker is replaced (`SIGHUP`) and warmed up with a one-day export, so
  every run starts from the same memory (Python keeps what an earlier large
  request took, which would hide the growth of a later one).
  `--export-samples` (3) runs each; the time to the last byte and to the first
  data row, and the growth of the worker's resident memory during the request
  (its `VmHWM` after resetting it through `/proc/PID/clear_refs`, or `VmRSS`
  sampled every 5 ms). The first chunks of 500 rows take the worker up to a
  plateau, which a 1,000-row export does not reach yet; so a third export of
  about 20,000 rows is the check: constant memory means it grows the worker
  by no more than the 10,000-row one, give or take 10 MiB.
- **Output.** The terminal, `benchmarks/out/api.json` (not committed) and the
  section below; `--no-docs` leaves this page alone, `--strict` exits 1 when a
  target is missed.

### Results

"""


def write_doc(section: str) -> None:
    """Replace this benchmark's results section; the first time, add it with the text by hand before it."""
    text = DOC.read_text()
    ours = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    found = ours.search(text)
    if found is None:
        DOC.write_text(text.rstrip("\n") + "\n\n" + DOC_SECTION + section + "\n")
    else:
        DOC.write_text(text[: found.start()] + section + text[found.end() :])


def run_cases(server: Server, cases: list[Case], args: argparse.Namespace, budget: list[float]) -> list[Case]:
    print(f"answer cache {'on' if cases[0].cached else 'off'}:", flush=True)
    for number, planned in enumerate(cases):
        count_queries(planned)

        def run(case: Case = planned) -> Case:
            drive(server.port, case.fresh(), seconds=args.warmup, max_requests=args.max_requests)
            measured_case = case.fresh()
            drive(server.port, measured_case, seconds=args.seconds, max_requests=args.max_requests)
            return measured_case

        case, background = measured(server, budget, run)
        case.queries, case.sql_ms = planned.queries, planned.sql_ms
        case.slowest_sql_ms, case.slowest_sql = planned.slowest_sql_ms, planned.slowest_sql
        case.background = background
        cases[number] = case
        print(
            f"  {case.name:<36} {case.clients:>2} clients  {case.per_second:6.1f} req/s  p50 {case.p(0.5):6.1f}"
            f"  p99 {case.p(0.99):6.1f} ms  errors {case.failed}  queries {case.queries}"
            f"  (client {case.client_cpus:.2f} CPU, background {background:.1f})",
            flush=True,
        )
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reseed", action="store_true", help="drop the benchmark database and seed it again")
    parser.add_argument("--incidents", type=int, default=100_000, help="published incidents to seed (100000)")
    parser.add_argument("--reports", type=int, default=300_000, help="reports to seed (300000)")
    parser.add_argument("--db-name", default="ic_bench_api", help="database of the benchmark (ic_bench_api)")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1), help="gunicorn workers (2 per CPU)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker; above 1, gthread workers (1)")
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per case at most (10)")
    parser.add_argument("--max-requests", type=int, default=5000, help="requests per case at most (5000)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per case (2)")
    parser.add_argument("--export-samples", type=int, default=3, help="runs of each CSV export (3)")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument(
        "--max-wait", type=float, default=300, help="seconds to wait in all for a quiet machine before the cases (300)"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is not met")
    args = parser.parse_args(argv)

    # Read by the settings of this process (the untimed in-process requests) and passed on to gunicorn.
    os.environ.update(API_THROTTLE_ANON=THROTTLE_RATE, API_THROTTLE_KEY=THROTTLE_RATE)
    base = os.environ.get("DATABASE_URL") or DEFAULT_URL
    prepare_database(base, args.db_name, recreate=args.reseed)
    setup_django(database_url(base, args.db_name))
    seed_seconds = prepare_dataset(args.incidents, args.reports)
    dataset = dataset_counts(seed_seconds)
    exports = [export_filter(rows) for rows in EXPORT_ROWS]

    # A SIGTERM (from run.py's parent, say) unwinds like Ctrl-C, so the server is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    LOG.unlink(missing_ok=True)
    budget = [args.max_wait]
    cases: list[Case] = []
    for cached in (True, False):
        server = Server(args.workers, args.threads, cache_seconds=CACHE_SECONDS if cached else 0)
        try:
            server.start()
            cases += run_cases(server, build_cases(server.port, cached=cached), args, budget)
            server_info = {"command": server.command(), "description": server.describe()}
        finally:
            server.stop()

    # The exports: a server with one worker, renewed before each run (measure_export).
    export_server = Server(1, 1)
    try:
        export_server.start()
        for export in exports:
            probe = Case("export", [export.path], 1)
            count_queries(probe)
            export.queries = probe.queries

            def run_export(e: Export = export) -> None:
                e.runs, e.errors = [], []
                measure_export(export_server, e, args.export_samples)

            _nothing, export.background = measured(export_server, budget, run_export)
        server_info["export_command"] = export_server.command()
    finally:
        export_server.stop()

    info = machine()
    result = {
        "machine": info,
        "dataset": dataset,
        "server": server_info,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "max_requests": args.max_requests,
        "cases": [c.as_dict() for c in cases],
        "exports": [e.as_dict() for e in exports],
    }
    print()
    print("\n".join(table(cases)))
    print()
    print("\n".join(export_table(exports)))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {OUT.relative_to(ROOT)}")
    if not args.no_docs:
        write_doc(results_markdown(info, result, cases, exports))
        print(f"wrote the results section of {DOC.relative_to(ROOT)}")
    targets = [c.met for c in cases if c.met is not None] + [export_constant(exports)]
    met = all(targets)
    print("targets:", "met" if met else "NOT met")
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the servers were stopped on the way out
        print("interrupted", file=sys.stderr)
        sys.exit(130)

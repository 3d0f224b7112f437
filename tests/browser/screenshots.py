"""Full-page screenshots of the main pages, at desktop and phone widths, for review.

    .venv/bin/python tests/browser/screenshots.py [OUTPUT_DIR]

Builds a throwaway database in $VAR_DIR (default /tmp/shots-var, emptied first) with a few
invented reports and incidents, serves it with runserver on 127.0.0.1:8765,
and saves PNGs to OUTPUT_DIR (default /tmp/shots). Not collected by pytest.
"""

import datetime
import io
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
if "VAR_DIR" not in os.environ:
    # Our own throwaway folder: start from an empty database every run.
    shutil.rmtree("/tmp/shots-var", ignore_errors=True)
    os.environ["VAR_DIR"] = "/tmp/shots-var"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

ADDRESS = "127.0.0.1:8765"
BASE = f"http://{ADDRESS}"
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/shots")
MODERATOR = ("moderator@example.org", "a-long-demo-password")
WIDTHS = {"desktop": 1280, "mobile": 390}

INCIDENTS: list[dict[str, Any]] = [
    {
        "title": "Hiring tool ranked women lower for engineering roles",
        "description": "A CV-screening model trained on ten years of past hires gave lower scores to CVs "
        "that mentioned women's colleges or women's sports teams.\n\nThe company stopped using it "
        "after an internal review.",
        "date": datetime.date(2024, 10, 3),
        "countries": ["US"],
        "tags": [("iasr-2025", "malfunction.bias"), ("oecd-harm-type", "human-rights")],
        "severity": "incident",
        "entity": ("ExampleHire", "organisation", "deployer"),
    },
    {
        "title": "Voice clone of a finance director used to authorise a €220,000 transfer",
        "description": "Criminals used an AI-generated copy of a director's voice on a phone call to "
        "convince an employee to transfer money to a fraudulent account.",
        "date": datetime.date(2025, 2, 11),
        "countries": ["DE", "GB"],
        "tags": [("iasr-2025", "malicious-use.fake-content"), ("oecd-harm-type", "economic-property")],
        "severity": "serious-incident",
        "entity": ("Unknown voice-cloning service", "system", "developer"),
    },
    {
        "title": "Airline chatbot invented a bereavement refund policy",
        "description": "A customer-service chatbot told a customer he could claim a bereavement discount "
        "after travelling. The airline refused, and a tribunal held it responsible for what its chatbot said.",
        "date": datetime.date(2024, 2, 14),
        "countries": ["CA"],
        "tags": [("iasr-2025", "malfunction.reliability"), ("oecd-harm-type", "economic-property")],
        "severity": "incident",
        "entity": ("ExampleAir", "organisation", "deployer"),
    },
    {
        "title": "Image generator produced election deepfakes despite its safety filter",
        "description": "Researchers showed that simple rewording got past the filter meant to stop images "
        "of real candidates in fake situations.",
        "date": datetime.date(2025, 5, 20),
        "countries": ["FR"],
        "tags": [("iasr-2025", "malicious-use.opinion-manipulation")],
        "severity": "hazard",
        "entity": None,
    },
]


def seed() -> dict[str, str]:
    """Invented data, created through the same services the site uses."""
    import django

    django.setup()
    from allauth.account.models import EmailAddress
    from django.contrib.auth.models import Group, User
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from incidents import services
    from incidents.models import Incident, Report
    from taxonomy.models import Term

    def term(vocabulary: str, code: str) -> Term:
        return Term.objects.get(vocabulary__code=vocabulary, code=code)

    user = User.objects.filter(username="moderator").first()
    if user is None:
        user = User.objects.create_user("moderator", MODERATOR[0], MODERATOR[1])
        user.groups.add(Group.objects.get(name="moderator"))
        EmailAddress.objects.create(user=user, email=MODERATOR[0], verified=True, primary=True)

    if not Incident.objects.exists():
        for data in INCIDENTS:
            report = services.report_submit(
                title=data["title"], text=data["description"], date_occurred=data["date"], countries=data["countries"]
            )
            incident = services.incident_create_from_report(report=report, actor=user)
            services.incident_set_tags(incident=incident, actor=user, terms=[term(v, c) for v, c in data["tags"]])
            services.incident_update(incident=incident, actor=user, severity=term("oecd-severity", data["severity"]))
            if data["entity"]:
                name, kind, role = data["entity"]
                services.incident_add_entity(incident=incident, actor=user, name=name, kind=kind, role=role)
            services.incident_publish(incident=incident, actor=user)

        png = io.BytesIO()
        Image.new("RGB", (400, 200), "white").save(png, "PNG")
        services.report_submit(
            title="Hospital triage chatbot told a patient with chest pain to stay home",
            text="The symptom checker classified crushing chest pain as indigestion and advised rest. "
            "The patient went to hospital the next day.",
            date_occurred=datetime.date(2025, 3, 14),
            countries=["GB"],
            ai_system="TriageBot by ExampleHealth",
            harm="The patient delayed going to hospital by a day.",
            submitter_role=Report.SubmitterRole.AFFECTED,
            contact_email="patient@example.org",
            source_url="https://news.example.org/triagebot-chest-pain",
            hazard_guesses=[term("iasr-2025", "malfunction.reliability")],
            evidence_files=[SimpleUploadedFile("chatbot-answer.png", png.getvalue(), "image/png")],
        )
        services.report_submit(
            title="Face recognition at a supermarket flagged me as a shoplifter",
            text="Staff asked me to leave because the camera system matched me to someone else.",
            countries=["AU"],
        )
        draft_source = services.report_submit(
            title="Translation app reversed the meaning of a medicine label",
            text="'Do not take with alcohol' came out as 'take with alcohol'.",
        )
        services.report_claim(report=draft_source, actor=user)
        services.incident_create_from_report(report=draft_source, actor=user)

    queued = Report.objects.filter(title__startswith="Hospital triage").get()
    draft = Incident.objects.filter(status=Incident.Status.DRAFT).get()
    published = Incident.objects.filter(title__startswith="Airline chatbot").get()
    return {
        "report": f"/moderation/reports/{queued.pk}/",
        "workspace": f"/moderation/incidents/{draft.pk}/",
        "incident": published.get_absolute_url(),
    }


def wait_for_server() -> None:
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"{BASE}/healthz", timeout=1):  # noqa: S310 (local address)
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"runserver did not answer on {BASE}")


def save(page: "Page", name: str, size: str, path: str | None = None) -> None:
    if path is not None:
        page.goto(path)
    file = OUT / f"{name}-{size}.png"
    page.screenshot(path=file, full_page=True)
    print(file)


def shoot_pages(page: "Page", size: str, urls: dict[str, str]) -> None:
    save(page, "home", size, "/")
    save(page, "report-empty", size, "/report/")
    page.get_by_label("When did it happen?").fill("2999-01-01")
    page.get_by_role("button", name="Send report").click()
    page.wait_for_load_state()
    save(page, "report-errors", size)
    # A real submission, so the status page shows its thank-you message.
    page.goto("/report/")
    page.get_by_label("In one sentence, what happened?").fill("Delivery robot blocked a wheelchair user")
    page.get_by_label("Tell us what happened").fill("The robot stopped on a narrow pavement and did not move.")
    page.get_by_label("Loss of control").check()
    page.get_by_label("I agree that Incident Commons may review this report").check()
    page.get_by_role("button", name="Send report").click()
    page.wait_for_url("**/report/status/**")
    save(page, "status", size)
    save(page, "incidents", size, "/incidents/?q=chatbot")
    save(page, "incidents-all", size, "/incidents/")
    save(page, "incident", size, urls["incident"])
    save(page, "taxonomy", size, "/taxonomy/")
    save(page, "login", size, "/accounts/login/")
    page.get_by_label("Email").fill(MODERATOR[0])
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    save(page, "login-error", size)
    page.get_by_label("Password").fill(MODERATOR[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{BASE}/")
    save(page, "queue", size, "/moderation/")
    save(page, "review", size, urls["report"])
    save(page, "workspace", size, urls["workspace"])
    page.goto("/account/api-keys/")
    page.get_by_label("Name").fill("Monthly statistics")
    page.get_by_role("button", name="Make the key").click()
    page.wait_for_load_state()
    save(page, "api-keys-new", size)
    save(page, "api-keys", size, "/account/api-keys/")
    page.goto("/api/v1/docs/")
    page.wait_for_selector(".opblock")
    save(page, "api-docs", size)


def shoot(urls: dict[str, str]) -> None:
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import LAUNCH_ARGS
    from tests.conftest import chromium_path

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=LAUNCH_ARGS)
        for size, width in WIDTHS.items():
            context = browser.new_context(base_url=BASE, viewport={"width": width, "height": 900})
            shoot_pages(context.new_page(), size, urls)
            context.close()
        browser.close()


def main() -> None:
    manage = [sys.executable, str(ROOT / "manage.py")]
    env = {**os.environ, "DEMO_MODE": "1"}
    subprocess.run([*manage, "migrate", "-v0"], check=True, cwd=ROOT, env=env)
    urls = seed()
    server = subprocess.Popen([*manage, "runserver", ADDRESS, "--noreload"], cwd=ROOT, env=env)
    try:
        wait_for_server()
        shoot(urls)
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()

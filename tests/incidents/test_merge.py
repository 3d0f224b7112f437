"""Merging two incidents, and undoing it: the services, the old address and id,
the moderation pages (as plain form posts and as htmx requests), who may do it,
and what the confirmation page costs."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents import services
from incidents.models import (
    EntityAlias,
    Incident,
    IncidentEntity,
    MergeRecord,
    Report,
    ReportEvent,
    ReportIncidentLink,
    Revision,
    Tagging,
)

from ..factories import (
    EntityFactory,
    IncidentFactory,
    ReportFactory,
    UserFactory,
    involve,
    link,
    published_incident,
    term,
)
from .test_catalogue import listed
from .test_moderation import HTMX, assert_done, post
from .test_reporting import visible_text

pytestmark = pytest.mark.django_db


def tag(incident, vocabulary, code, **kwargs):
    return Tagging.objects.create(
        incident=incident, term=term(vocabulary, code), source=Tagging.Source.MODERATOR, **kwargs
    )


def everything():
    """Every row a merge could touch, as sets of tuples (with the rows' ids)."""
    return {
        "links": set(
            ReportIncidentLink.objects.values_list(
                "pk", "report_id", "incident_id", "method", "score", "confirmed", "made_by_id", "created"
            )
        ),
        "taggings": set(
            Tagging.objects.values_list(
                "pk", "incident_id", "report_id", "term_id", "source", "tagged_by_id", "created"
            )
        ),
        "entity_links": set(IncidentEntity.objects.values_list("pk", "incident_id", "entity_id", "role")),
        "aliases": set(EntityAlias.objects.values_list("pk", "entity_id", "alias", "key")),
        "incidents": set(Incident.objects.values_list("pk", "public_id", "status", "merged_into_id", "severity_id")),
        "reports": set(Report.objects.values_list("pk", "title", "text", "status", "source_url")),
    }


@pytest.fixture
def pair(moderator):
    """Two published incidents about the same event, overlapping in a report, a tag and an entity."""
    openai = EntityFactory.create(name="OpenAI", aliases=["OAI"])
    clearview = EntityFactory.create(name="Clearview AI", aliases=["Clearview"])
    target = published_incident(public_id="INC-2025-000100", title="Airline chatbot invented a refund policy")
    tag(target, "oecd-autonomy", "low-action")
    involve(target, openai)
    source = published_incident(
        public_id="INC-2025-000101",
        title="Chatbot promised a refund",
        tags=[("iasr-2025", "malfunction.reliability"), ("oecd-harm-type", "human-rights")],
    )
    tag(source, "failure-mode", "confabulation", tagged_by=moderator)
    tag(source, "oecd-autonomy", "high-action")
    involve(source, openai)
    involve(source, clearview, IncidentEntity.Role.DEPLOYER)
    first = ReportFactory.create(title="Tribunal rules against airline", status=Report.Status.ACCEPTED)
    second = ReportFactory.create(title="Refund chatbot case", status=Report.Status.IN_REVIEW)
    shared = ReportFactory.create(title="Airline must honour chatbot promise", status=Report.Status.ACCEPTED)
    ReportIncidentLink.objects.create(
        report=first, incident=source, method=ReportIncidentLink.Method.MODERATOR, made_by=moderator
    )
    ReportIncidentLink.objects.create(
        report=second, incident=source, method=ReportIncidentLink.Method.DEDUP, score=0.91, confirmed=False
    )
    ReportIncidentLink.objects.create(
        report=shared, incident=source, method=ReportIncidentLink.Method.DEDUP, score=0.97, confirmed=True
    )
    link(shared, target)
    return {
        "source": source,
        "target": target,
        "openai": openai,
        "clearview": clearview,
        "first": first,
        "second": second,
        "shared": shared,
    }


# --- Merging --------------------------------------------------------------------------


def test_merging_moves_reports_tags_and_entities_to_the_target(pair, moderator):
    source, target = pair["source"], pair["target"]

    record = services.incident_merge(source=source, target=target, actor=moderator)

    assert set(target.reports.all()) == {pair["first"], pair["second"], pair["shared"]}
    assert not source.links.exists()
    codes = set(target.taggings.values_list("term__code", flat=True))
    assert codes == {
        "malfunction.reliability",
        "economic-property",
        "human-rights",
        "confabulation",
        "low-action",  # a one-term vocabulary: the target's own term stays, the source's is not added
    }
    assert {(e.entity, e.role) for e in target.entity_links.all()} == {
        (pair["openai"], IncidentEntity.Role.DEVELOPER),
        (pair["clearview"], IncidentEntity.Role.DEPLOYER),
    }
    source.refresh_from_db()
    assert (source.status, source.merged_into) == (Incident.Status.MERGED, target)
    assert (record.source, record.target, record.actor, record.undone_at) == (source, target, moderator, None)


def test_moved_links_keep_who_made_them_and_how(pair, moderator):
    services.incident_merge(source=pair["source"], target=pair["target"], actor=moderator)

    moved = {link.report: link for link in pair["target"].links.all()}
    assert (moved[pair["first"]].method, moved[pair["first"]].made_by) == ("moderator", moderator)
    assert (moved[pair["second"]].method, moved[pair["second"]].score) == ("dedup", 0.91)
    assert moved[pair["second"]].confirmed is False
    # The target already had this report: its own link is kept.
    assert (moved[pair["shared"]].method, moved[pair["shared"]].score) == ("moderator", None)


def test_aliases_come_with_their_entities(pair, moderator):
    services.incident_merge(source=pair["source"], target=pair["target"], actor=moderator)

    aliases = set(
        EntityAlias.objects.filter(entity__incident_links__incident=pair["target"]).values_list("alias", flat=True)
    )
    assert {"Clearview", "Clearview AI", "OAI", "OpenAI"} <= aliases


def test_a_merge_deletes_no_report_and_keeps_the_sources_own_tags(pair, moderator):
    source = pair["source"]
    tags_before = set(source.taggings.values_list("pk", flat=True))
    reports_before = set(Report.objects.values_list("pk", flat=True))

    services.incident_merge(source=source, target=pair["target"], actor=moderator)

    assert set(Report.objects.values_list("pk", flat=True)) == reports_before
    assert set(source.taggings.values_list("pk", flat=True)) == tags_before


def test_the_merge_is_recorded_with_exactly_what_changed(pair, moderator):
    source, target = pair["source"], pair["target"]
    shared_link = ReportIncidentLink.objects.get(report=pair["shared"], incident=source)

    record = services.incident_merge(source=source, target=target, actor=moderator)

    moved = record.moved
    assert moved["source_status"] == "published"
    assert [d["report"] for d in moved["links_moved"]] == [pair["first"].pk, pair["second"].pk]
    assert moved["links_dropped"] == [
        {
            "id": shared_link.pk,
            "report": pair["shared"].pk,
            "method": "dedup",
            "made_by": None,
            "score": 0.97,
            "confirmed": True,
            "created": shared_link.created.isoformat(),
            "target_link": ReportIncidentLink.objects.get(report=pair["shared"], incident=target).pk,
        }
    ]
    added = Tagging.objects.filter(pk__in=moved["taggings_added"])
    assert set(added.values_list("incident_id", "term__code")) == {
        (target.pk, "human-rights"),
        (target.pk, "confabulation"),
    }
    assert moved["taggings_skipped"] == [term("oecd-autonomy", "high-action").pk]
    assert [e.entity for e in IncidentEntity.objects.filter(pk__in=moved["entities_added"])] == [pair["clearview"]]
    assert moved["entities_present"] == [[pair["openai"].pk, "developer"]]


def test_copied_tags_keep_who_tagged_them(pair, moderator):
    services.incident_merge(source=pair["source"], target=pair["target"], actor=moderator)

    copied = pair["target"].taggings.get(term__code="confabulation")
    original = pair["source"].taggings.get(term__code="confabulation")
    assert (copied.source, copied.tagged_by, copied.created) == (original.source, moderator, original.created)


def test_merging_bumps_modified_and_records_revisions_on_both(pair, moderator):
    source, target = pair["source"], pair["target"]
    before = timezone.now()

    services.incident_merge(source=source, target=target, actor=moderator)

    source.refresh_from_db()
    target.refresh_from_db()
    assert source.modified >= before
    assert target.modified >= before
    assert source.revisions.get().action == "merged_into"
    assert source.revisions.get().changes == {
        "status": ["published", "merged"],
        "merged_into": [None, "INC-2025-000100"],
    }
    assert target.revisions.get().action == "merged_from"
    assert target.revisions.get().changes["merged_from"] == [None, "INC-2025-000101"]
    assert {r.actor for r in Revision.objects.all()} == {moderator}


def test_each_moved_report_notes_the_merge(pair, moderator):
    services.incident_merge(source=pair["source"], target=pair["target"], actor=moderator)

    events = ReportEvent.objects.filter(action="incident_merged")
    assert {e.report for e in events} == {pair["first"], pair["second"], pair["shared"]}
    assert events.get(report=pair["first"]).detail == {"incident": "INC-2025-000101", "into": "INC-2025-000100"}
    assert not events.filter(public=True).exists()


def test_merging_updates_the_dedup_index(pair, moderator, monkeypatch):
    calls = []
    monkeypatch.setattr(services.dedup_index, "unindex_report", lambda r, i: calls.append(("out", r.pk, i)))
    monkeypatch.setattr(services.dedup_index, "index_report", lambda r, i: calls.append(("in", r.pk, i)))
    source, target = pair["source"], pair["target"]
    reports = [pair["first"].pk, pair["second"].pk, pair["shared"].pk]

    record = services.incident_merge(source=source, target=target, actor=moderator)

    assert sorted(c for c in calls if c[0] == "out") == [("out", pk, source.pk) for pk in reports]
    assert sorted(c for c in calls if c[0] == "in") == [("in", pk, target.pk) for pk in reports]
    calls.clear()

    services.incident_unmerge(record=record, actor=moderator)

    # The shared report stays on the target, so it stays in the target's index.
    assert sorted(c for c in calls if c[0] == "out") == [("out", pk, target.pk) for pk in reports[:2]]
    assert sorted(c for c in calls if c[0] == "in") == [("in", pk, source.pk) for pk in reports]


def test_a_draft_merged_into_a_published_incident_has_its_waiting_reports_accepted(moderator):
    target = published_incident()
    source = IncidentFactory.create()
    waiting = ReportFactory.create(status=Report.Status.IN_REVIEW, contact_email="sender@example.org")
    unconfirmed = ReportFactory.create(status=Report.Status.IN_REVIEW)
    rejected = ReportFactory.create(status=Report.Status.REJECTED)
    link(waiting, source)
    link(rejected, source)
    ReportIncidentLink.objects.create(
        report=unconfirmed, incident=source, method=ReportIncidentLink.Method.DEDUP, score=0.9, confirmed=False
    )

    record = services.incident_merge(source=source, target=target, actor=moderator)

    statuses = dict(Report.objects.values_list("pk", "status"))
    assert statuses[waiting.pk] == Report.Status.ACCEPTED
    assert statuses[unconfirmed.pk] == Report.Status.IN_REVIEW
    assert statuses[rejected.pk] == Report.Status.REJECTED
    assert waiting.events.filter(action="published", public=True).exists()

    services.incident_unmerge(record=record, actor=moderator)

    assert Report.objects.get(pk=waiting.pk).status == Report.Status.IN_REVIEW


# --- What a merge refuses -------------------------------------------------------------------


def test_an_incident_cannot_be_merged_into_itself(moderator):
    incident = published_incident()

    with pytest.raises(ValidationError, match="cannot be merged into itself"):
        services.incident_merge(source=incident, target=incident, actor=moderator)


@pytest.mark.parametrize(
    ("source_status", "target_status", "message"),
    [
        ("merged", "published", "INC-2025-000201 is already merged into another incident."),
        ("published", "merged", "INC-2025-000202 is itself merged into another incident"),
        ("published", "withdrawn", "INC-2025-000202 is withdrawn"),
        ("draft", "withdrawn", "INC-2025-000202 is withdrawn"),
        ("published", "draft", "publish INC-2025-000202 first"),
    ],
)
def test_a_merge_is_refused_with_the_reason(moderator, source_status, target_status, message):
    elsewhere = published_incident()
    source = IncidentFactory.create(public_id="INC-2025-000201", status=source_status)
    target = IncidentFactory.create(public_id="INC-2025-000202", status=target_status)
    for incident in (source, target):
        if incident.status == Incident.Status.MERGED:
            Incident.objects.filter(pk=incident.pk).update(merged_into=elsewhere)
    report = ReportFactory.create()
    link(report, source)
    before = everything()

    with pytest.raises(ValidationError, match=message):
        services.incident_merge(source=source, target=target, actor=moderator)

    assert everything() == before
    assert not MergeRecord.objects.exists()


@pytest.mark.parametrize(
    ("source_status", "target_status"),
    [("draft", "draft"), ("draft", "published"), ("withdrawn", "published"), ("published", "published")],
)
def test_these_merges_are_allowed(moderator, source_status, target_status):
    source = IncidentFactory.create(status=source_status)
    target = IncidentFactory.create(status=target_status)

    services.incident_merge(source=source, target=target, actor=moderator)

    assert Incident.objects.get(pk=source.pk).status == Incident.Status.MERGED
    assert Incident.objects.get(pk=target.pk).status == target_status


def test_a_merged_incident_cannot_be_published_or_withdrawn(moderator):
    source, target = published_incident(), published_incident()
    services.incident_merge(source=source, target=target, actor=moderator)

    assert services.incident_publish_problems(source) == [
        "This incident is merged into another one: undo the merge first."
    ]
    with pytest.raises(ValidationError, match="undo the merge first"):
        services.incident_withdraw(incident=source, actor=moderator, reason="Hoax.")


# --- The old address and id -------------------------------------------------------------


def test_a_merged_incidents_address_and_id_lead_to_the_target(client, pair, moderator):
    services.incident_merge(source=pair["source"], target=pair["target"], actor=moderator)

    response = client.get("/incidents/INC-2025-000101/")

    assert response.status_code == 301
    assert response["Location"] == "/incidents/INC-2025-000100/"
    assert listed(client) == ["INC-2025-000100"]
    assert listed(client, q="INC-2025-000101") == ["INC-2025-000100"]
    assert listed(client, q="inc-2025-000101") == ["INC-2025-000100"]


def test_an_old_id_is_followed_through_two_merges(client, moderator):
    first = published_incident(public_id="INC-2025-000301")
    second = published_incident(public_id="INC-2025-000302")
    third = published_incident(public_id="INC-2025-000303")
    services.incident_merge(source=first, target=second, actor=moderator)
    services.incident_merge(source=second, target=third, actor=moderator)

    assert listed(client, q="INC-2025-000301") == ["INC-2025-000303"]
    # Straight to where it ended up, in one redirect.
    assert client.get("/incidents/INC-2025-000301/", follow=True).redirect_chain == [
        ("/incidents/INC-2025-000303/", 301)
    ]
    # A report added to the first lands on the incident it ended up in.
    report = ReportFactory.create()
    services.report_attach(report=report, incident=first, actor=moderator)
    assert list(report.incidents.all()) == [third]


@pytest.mark.parametrize("target_status", ["draft", "withdrawn"])
def test_a_merged_incidents_address_is_not_found_while_its_target_is_not_public(client, moderator, target_status):
    source = IncidentFactory.create(public_id="INC-2025-000601")
    target = IncidentFactory.create(public_id="INC-2025-000602")
    services.incident_merge(source=source, target=target, actor=moderator)
    Incident.objects.filter(pk=target.pk).update(status=target_status)

    assert client.get("/incidents/INC-2025-000601/").status_code == 404
    assert listed(client, q="INC-2025-000601") == []


def test_an_unmerged_incident_is_back_at_its_address(client, pair, moderator):
    record = services.incident_merge(source=pair["source"], target=pair["target"], actor=moderator)
    services.incident_unmerge(record=record, actor=moderator)

    assert client.get("/incidents/INC-2025-000101/").status_code == 200
    assert listed(client, q="INC-2025-000101") == ["INC-2025-000101"]


# --- Undoing ---------------------------------------------------------------------------------


def test_merge_then_unmerge_gives_back_exactly_the_rows_there_were(pair, moderator):
    before = everything()

    record = services.incident_merge(source=pair["source"], target=pair["target"], actor=moderator)
    assert everything() != before
    source = services.incident_unmerge(record=record, actor=moderator)

    assert everything() == before
    assert source.status == Incident.Status.PUBLISHED
    record.refresh_from_db()
    assert record.undone_by == moderator
    assert record.undone_at is not None


def test_unmerge_restores_a_draft_source_with_reports_accepted_by_the_merge(moderator):
    target = published_incident()
    source = IncidentFactory.create(tags=[("iasr-2025", "malfunction.bias")])
    for n in range(3):
        link(ReportFactory.create(title=f"Report {n}", status=Report.Status.IN_REVIEW), source)
    before = everything()

    record = services.incident_merge(source=source, target=target, actor=moderator)
    services.incident_unmerge(record=record, actor=moderator)

    assert everything() == before


def test_unmerge_restores_a_link_that_was_undone_on_the_target_meanwhile(pair, moderator):
    before = everything()
    record = services.incident_merge(source=pair["source"], target=pair["target"], actor=moderator)
    services.link_undo(link=pair["target"].links.get(report=pair["second"]), actor=moderator)

    services.incident_unmerge(record=record, actor=moderator)

    assert everything()["links"] == before["links"]


def test_unmerge_leaves_what_was_added_to_the_target_since(pair, moderator):
    record = services.incident_merge(source=pair["source"], target=pair["target"], actor=moderator)
    later = ReportFactory.create(title="Added after the merge")
    services.report_attach(report=later, incident=pair["target"], actor=moderator)
    services.incident_add_entity(
        incident=pair["target"], actor=moderator, name="Air Canada", kind="organisation", role="deployer"
    )

    services.incident_unmerge(record=record, actor=moderator)

    assert later in pair["target"].reports.all()
    assert pair["target"].entity_links.filter(entity__name="Air Canada").exists()
    assert later not in pair["source"].reports.all()


def test_undoing_a_merge_twice_is_refused(pair, moderator):
    record = services.incident_merge(source=pair["source"], target=pair["target"], actor=moderator)
    services.incident_unmerge(record=record, actor=moderator)
    after_first_undo = everything()

    with pytest.raises(ValidationError, match="was already undone"):
        services.incident_unmerge(record=record, actor=moderator)

    assert everything() == after_first_undo


def test_an_old_merge_cannot_be_undone_once_the_source_is_merged_again(pair, moderator):
    first = services.incident_merge(source=pair["source"], target=pair["target"], actor=moderator)
    services.incident_unmerge(record=first, actor=moderator)
    services.incident_merge(source=pair["source"], target=published_incident(), actor=moderator)

    with pytest.raises(ValidationError, match="was already undone"):
        services.incident_unmerge(record=first, actor=moderator)


def test_unmerge_is_refused_while_the_target_is_merged_into_a_third(pair, moderator):
    record = services.incident_merge(source=pair["source"], target=pair["target"], actor=moderator)
    services.incident_merge(source=pair["target"], target=published_incident(), actor=moderator)
    before = everything()

    with pytest.raises(ValidationError, match="INC-2025-000100 has since been merged into another incident"):
        services.incident_unmerge(record=record, actor=moderator)

    assert everything() == before


def test_two_merges_undone_in_reverse_order_give_back_everything(pair, moderator):
    third = published_incident()
    link(ReportFactory.create(title="On the third"), third)
    link(pair["first"], third)
    before = everything()
    first = services.incident_merge(source=pair["source"], target=pair["target"], actor=moderator)
    second = services.incident_merge(source=pair["target"], target=third, actor=moderator)
    assert set(third.reports.values_list("title", flat=True)) == {
        "On the third",
        "Tribunal rules against airline",
        "Refund chatbot case",
        "Airline must honour chatbot promise",
    }

    services.incident_unmerge(record=second, actor=moderator)
    services.incident_unmerge(record=first, actor=moderator)

    assert everything() == before


def test_unmerging_records_revisions_on_both(pair, moderator):
    record = services.incident_merge(source=pair["source"], target=pair["target"], actor=moderator)

    services.incident_unmerge(record=record, actor=moderator)

    assert pair["source"].revisions.first().action == "merge_undone"
    assert pair["source"].revisions.first().changes == {
        "status": ["merged", "published"],
        "merged_into": ["INC-2025-000100", None],
    }
    assert pair["target"].revisions.first().action == "merge_undone"
    assert pair["target"].revisions.first().changes["merged_from"] == ["INC-2025-000101", None]


# --- The moderation pages --------------------------------------------------------------------


def workspace(incident):
    return f"/moderation/incidents/{incident.pk}/"


@pytest.mark.parametrize("query", ["INC-2025-000100", "airline refund"])
def test_the_merge_search_finds_other_incidents_by_id_or_title(mod_client, pair, htmx, query):
    response = mod_client.get(
        f"/moderation/incidents/{pair['source'].pk}/merge/search/", {"q": query}, **(HTMX if htmx else {})
    )

    assert response.status_code == 200
    text = visible_text(response)
    assert "Merge into INC-2025-000100" in text
    assert "Merge into INC-2025-000101" not in text
    assert ("<html" in response.content.decode()) is not htmx


def test_the_merge_search_says_when_nothing_is_found(mod_client, pair):
    response = mod_client.get(f"/moderation/incidents/{pair['source'].pk}/merge/search/", {"q": "zebra"}, **HTMX)

    assert "No incident found." in visible_text(response)


def test_the_confirmation_says_what_will_move(mod_client, pair, htmx):
    source, target = pair["source"], pair["target"]

    response = mod_client.get(f"/moderation/incidents/{source.pk}/merge/into/{target.pk}/", **(HTMX if htmx else {}))

    assert response.status_code == 200
    text = visible_text(response)
    assert "Merge INC-2025-000101 into INC-2025-000100" in text
    assert "3 reports move to INC-2025-000100 (1 it already has)" in text
    assert "2 tags added:" in text
    assert "(1 already there)" in text
    assert "1 organisation or AI system added, with all its names: Clearview AI (Deployer)" in text
    assert "Not added, because the target already has a term of that vocabulary:" in text
    assert f'name="target" value="{target.pk}"' in response.content.decode()
    assert Incident.objects.get(pk=source.pk).status == Incident.Status.PUBLISHED


def test_the_confirmation_shows_why_a_merge_is_refused_and_offers_no_button(mod_client):
    source = published_incident(public_id="INC-2025-000401")
    target = IncidentFactory.create(public_id="INC-2025-000402")

    response = mod_client.get(f"/moderation/incidents/{source.pk}/merge/into/{target.pk}/", **HTMX)

    text = visible_text(response)
    assert "publish INC-2025-000402 first" in text
    assert 'name="target"' not in response.content.decode()


def test_merging_from_the_workspace(mod_client, pair, moderator, htmx):
    source, target = pair["source"], pair["target"]

    response = post(mod_client, f"/moderation/incidents/{source.pk}/merge/", {"target": target.pk}, htmx=htmx)

    assert_done(response, htmx=htmx, redirect_to=workspace(source), fragment="Merged into INC-2025-000100 on")
    assert Incident.objects.get(pk=source.pk).status == Incident.Status.MERGED
    # htmx shows the message in the fragment it answers with; a plain post on the page it redirects to.
    page = visible_text(response if htmx else mod_client.get(workspace(source)))
    today = timezone.localtime().strftime("%-d %b %Y")
    assert f"Merged into INC-2025-000100 on {today}" in page
    assert "by moderator@example.org." in page
    assert "Undo merge" in page
    assert "INC-2025-000101 is merged into INC-2025-000100." in page
    assert "INC-2025-000101 Chatbot promised a refund" in visible_text(mod_client.get(workspace(target)))


def test_a_refused_merge_shows_why(mod_client, htmx):
    source = published_incident()
    target = IncidentFactory.create(status=Incident.Status.WITHDRAWN, public_id="INC-2025-000501")

    response = post(mod_client, f"/moderation/incidents/{source.pk}/merge/", {"target": target.pk}, htmx=htmx)

    assert response.status_code == 400
    assert "INC-2025-000501 is withdrawn" in visible_text(response)
    assert Incident.objects.get(pk=source.pk).status == Incident.Status.PUBLISHED


@pytest.mark.parametrize("target", ["", "x1", "999999"])
def test_merging_into_a_missing_incident_is_not_found(mod_client, pair, target):
    response = mod_client.post(f"/moderation/incidents/{pair['source'].pk}/merge/", {"target": target})

    assert response.status_code == 404
    assert not MergeRecord.objects.exists()


def test_undoing_a_merge_from_the_workspace(mod_client, pair, moderator, htmx):
    before = everything()
    source = pair["source"]
    record = services.incident_merge(source=source, target=pair["target"], actor=moderator)

    response = post(mod_client, f"/moderation/incidents/{source.pk}/merge/undo/", {"record": record.pk}, htmx=htmx)

    assert_done(response, htmx=htmx, redirect_to=workspace(source), fragment="Merge into another incident")
    assert everything() == before
    page = visible_text(response if htmx else mod_client.get(workspace(source)))
    assert "The merge into INC-2025-000100 is undone" in page


def test_undoing_an_undone_merge_from_the_workspace_is_refused(mod_client, pair, moderator, htmx):
    source = pair["source"]
    record = services.incident_merge(source=source, target=pair["target"], actor=moderator)
    services.incident_unmerge(record=record, actor=moderator)

    response = post(mod_client, f"/moderation/incidents/{source.pk}/merge/undo/", {"record": record.pk}, htmx=htmx)

    assert response.status_code == 409
    assert "was already undone" in visible_text(response)


def test_undoing_another_incidents_merge_is_not_found(mod_client, pair, moderator):
    record = services.incident_merge(source=pair["source"], target=pair["target"], actor=moderator)

    response = mod_client.post(f"/moderation/incidents/{pair['target'].pk}/merge/undo/", {"record": record.pk})

    assert response.status_code == 404
    assert MergeRecord.objects.get().undone_at is None


# --- Who may merge ---------------------------------------------------------------------------


def merge_urls(pair, record):
    source, target = pair["source"], pair["target"]
    return [
        ("get", f"/moderation/incidents/{source.pk}/merge/search/?q=airline", {}),
        ("get", f"/moderation/incidents/{source.pk}/merge/into/{target.pk}/", {}),
        ("post", f"/moderation/incidents/{source.pk}/merge/", {"target": target.pk}),
        ("post", f"/moderation/incidents/{record.source_id}/merge/undo/", {"record": record.pk}),
    ]


@pytest.fixture
def merged_elsewhere(moderator):
    """A merge to try undoing."""
    return services.incident_merge(source=published_incident(), target=published_incident(), actor=moderator)


@pytest.mark.parametrize("who", ["anonymous", "public_user", "auditor", "regulator", "staff"])
def test_only_moderators_may_merge_or_undo(client, request, pair, merged_elsewhere, htmx, who):
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))
    before = everything(), MergeRecord.objects.values_list("pk", "undone_at").get()

    for method, url, data in merge_urls(pair, merged_elsewhere):
        response = getattr(client, method)(url, data, **(HTMX if htmx else {}))

        if who == "anonymous":
            assert response.status_code == 302, url
            assert response["Location"].startswith("/accounts/login/?next="), url
        else:
            assert response.status_code == 403, url
    assert (everything(), MergeRecord.objects.values_list("pk", "undone_at").get()) == before


# --- Query counts ----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [2, 20])
def test_the_confirmation_costs_the_same_queries_for_few_and_many_rows(
    mod_client, django_assert_max_num_queries, size, htmx
):
    target = published_incident()
    source = published_incident()
    harms = ["human-rights", "public-interest", "reputational", "psychological", "physical-injury"]
    for code in harms[: min(size, len(harms))]:
        tag(source, "oecd-harm-type", code)
    for n in range(size):
        link(ReportFactory.create(title=f"Report {n}"), source)
        involve(source, EntityFactory.create())
    link(ReportFactory.create(title="On both"), target)
    link(Report.objects.get(title="On both"), source)
    url = f"/moderation/incidents/{source.pk}/merge/into/{target.pk}/"

    # Session, user, roles; both incidents; the plan (6). A plain request gets the whole
    # workspace around it, which costs nine more (measured on SQLite).
    with django_assert_max_num_queries(11 if htmx else 20):
        response = mod_client.get(url, **(HTMX if htmx else {}))

    assert f"{size + 1} reports move to" in visible_text(response)


def test_merge_records_are_listed_newest_first(pair, moderator):
    first = services.incident_merge(source=pair["source"], target=pair["target"], actor=moderator)
    services.incident_unmerge(record=first, actor=moderator)
    MergeRecord.objects.filter(pk=first.pk).update(created=timezone.now() - datetime.timedelta(days=1))
    second = services.incident_merge(source=pair["source"], target=pair["target"], actor=moderator)

    assert list(MergeRecord.objects.all()) == [second, first]


def test_users_that_left_are_not_needed_to_undo(pair):
    gone = UserFactory.create(username="gone")
    ReportIncidentLink.objects.filter(report=pair["first"]).update(made_by=gone)
    record = services.incident_merge(source=pair["source"], target=pair["target"], actor=gone)
    gone.delete()

    services.incident_unmerge(record=record, actor=None)

    restored = pair["source"].links.get(report=pair["first"])
    assert restored.made_by is None

from django.urls import path

from .views import catalogue, moderation, reporting

reporting_patterns = (
    [
        path("", reporting.report_create, name="create"),
        path("validate/<slug:field>/", reporting.report_validate, name="validate"),
        path("similar/", reporting.report_similar, name="similar"),
        path("status/<str:token>/", reporting.report_status, name="status"),
        path("mine/", reporting.my_reports, name="mine"),
    ],
    "reporting",
)

catalogue_patterns = (
    [
        path("", catalogue.incident_list, name="list"),
        path("<str:public_id>/", catalogue.incident_detail, name="detail"),
    ],
    "incidents",
)

moderation_patterns = (
    [
        path("", moderation.queue, name="queue"),
        path("reports/<int:pk>/", moderation.report_detail, name="report"),
        path("reports/<int:pk>/claim/", moderation.report_claim, name="claim"),
        path("reports/<int:pk>/release/", moderation.report_release, name="release"),
        path("reports/<int:pk>/reject/", moderation.report_reject, name="reject"),
        path("reports/<int:pk>/new-incident/", moderation.report_new_incident, name="new_incident"),
        path("reports/<int:pk>/attach/", moderation.report_attach, name="attach"),
        path("reports/<int:pk>/attach/search/", moderation.attach_search, name="attach_search"),
        path("reports/<int:pk>/compare/<int:incident_pk>/", moderation.report_compare, name="compare"),
        path("reports/<int:pk>/same/<int:incident_pk>/", moderation.pair_same, name="pair_same"),
        path("reports/<int:pk>/different/<int:incident_pk>/", moderation.pair_different, name="pair_different"),
        path("reports/<int:pk>/links/<int:link_pk>/confirm/", moderation.link_confirm, name="link_confirm"),
        path("evidence/<int:pk>/", moderation.evidence_download, name="evidence"),
        path("incidents/", moderation.incident_list, name="incidents"),
        path("incidents/<int:pk>/", moderation.incident_edit, name="incident"),
        path("incidents/<int:pk>/save/", moderation.incident_save, name="incident_save"),
        path("incidents/<int:pk>/tags/", moderation.incident_tags, name="incident_tags"),
        path("incidents/<int:pk>/entities/", moderation.incident_entity_add, name="entity_add"),
        path(
            "incidents/<int:pk>/entities/<int:link_id>/remove/",
            moderation.incident_entity_remove,
            name="entity_remove",
        ),
        path("incidents/<int:pk>/publish/", moderation.incident_publish, name="publish"),
        path("incidents/<int:pk>/withdraw/", moderation.incident_withdraw, name="withdraw"),
        path("incidents/<int:pk>/merge/", moderation.incident_merge, name="merge"),
        path("incidents/<int:pk>/merge/search/", moderation.merge_search, name="merge_search"),
        path("incidents/<int:pk>/merge/into/<int:target_pk>/", moderation.merge_preview, name="merge_preview"),
        path("incidents/<int:pk>/merge/undo/", moderation.incident_unmerge, name="merge_undo"),
    ],
    "moderation",
)

"""An incident's index terms move out of the features the scorer reads (docs/dedup.md, "The
incident's terms as hashes").

``features["bag"]`` (term -> how many of its reports carry it; nothing read the counts) becomes
the column ``terms`` (the sorted terms, for the index's writers) and ``features["hashes"]``
(the words' and phrases' hashes, ``incidents.dedup.termset``, for the scorer). Every row is
rewritten once: at a million reports (222,257 incidents) in 168.5 s on 2 cores. On PostgreSQL
both text columns are compressed with lz4 instead of pglz where the server was built with it (PostgreSQL
14 and later; the Debian, Ubuntu and Docker builds are): rows read back about a quarter faster
("The incident's terms as hashes"). Values keep the compression they were written with, so
the rows rewritten here and every row written later are lz4.

Workers restart with the release that brings this migration: a process of the release before
would score the rewritten rows without their terms.
"""

import orjson
from django.db import DatabaseError, migrations, transaction

import incidents.dedup.index_models

CHUNK = 2000


def _lz4(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    table = connection.ops.quote_name(apps.get_model("incidents", "DedupIncident")._meta.db_table)
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(
                f"ALTER TABLE {table} ALTER COLUMN features SET COMPRESSION lz4, "
                "ALTER COLUMN terms SET COMPRESSION lz4"
            )
    except DatabaseError:  # "compression method lz4 not supported": a server built without it
        pass


def _rewrite(apps, schema_editor, convert):
    """Pass every row's features and terms through ``convert``, a chunk of rows at a time."""
    connection = schema_editor.connection
    model = apps.get_model("incidents", "DedupIncident")
    table = connection.ops.quote_name(model._meta.db_table)
    last = None
    while True:
        rows = model.objects.using(connection.alias).order_by("incident_id")
        if last is not None:
            rows = rows.filter(incident_id__gt=last)
        chunk = list(rows.values_list("incident_id", "features", "terms")[:CHUNK])
        if not chunk:
            return
        last = chunk[-1][0]
        changed = [(incident_id, *convert(features or {}, terms or [])) for incident_id, features, terms in chunk]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} AS d SET features = u.features, terms = u.terms "  # noqa: S608 - our name
                    "FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS u(incident_id, features, terms) "
                    "WHERE d.incident_id = u.incident_id",
                    [
                        [c[0] for c in changed],
                        [orjson.dumps(c[1]).decode() for c in changed],
                        [orjson.dumps(c[2]).decode() for c in changed],
                    ],
                )
        else:
            model.objects.using(connection.alias).bulk_update(
                [model(incident_id=i, features=f, terms=t) for i, f, t in changed], ["features", "terms"], batch_size=500
            )


def forwards(apps, schema_editor):
    from incidents.dedup import termset

    def convert(features, terms):
        bag = features.pop("bag", None)
        if bag is None:  # written by this release already
            return features, terms
        terms = sorted(bag)
        features["hashes"] = termset.encode(terms)
        return features, terms

    _rewrite(apps, schema_editor, convert)


def backwards(apps, schema_editor):
    def convert(features, terms):
        features.pop("hashes", None)
        features["bag"] = dict.fromkeys(terms, 1)  # the counts were never read; unindexing rebuilds
        return features, []

    _rewrite(apps, schema_editor, convert)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0010_dedup_features_as_text"),
    ]

    operations = [
        migrations.AddField(
            model_name="dedupincident",
            name="terms",
            field=incidents.dedup.index_models.JSONTextField(default=list),
        ),
        migrations.RunPython(_lz4, migrations.RunPython.noop),
        migrations.RunPython(forwards, backwards),
    ]

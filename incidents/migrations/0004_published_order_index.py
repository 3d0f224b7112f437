"""The catalogue's default order (date occurred, newest first, unknown dates last)
as a partial index of published incidents, on PostgreSQL only: SQLite cannot
index NULLS LAST. Measured in docs/benchmarks.md: the list query falls from
13-17 ms to 1-2 ms at 10,000 incidents."""

from django.db import migrations


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS incident_published_date ON incidents_incident "
            "(date_occurred DESC NULLS LAST, id DESC) WHERE status = 'published'"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS incident_published_date")


class Migration(migrations.Migration):
    dependencies = [("incidents", "0003_incident_source")]
    operations = [migrations.RunPython(create_index, drop_index)]

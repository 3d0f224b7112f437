from typing import Any

from django.db import migrations


def load(apps: Any, schema_editor: Any) -> None:
    # Imported here so that merely loading the migration graph does not import the loader.
    from taxonomy.loader import load_taxonomy_file

    load_taxonomy_file(
        Vocabulary=apps.get_model("taxonomy", "Vocabulary"),
        Term=apps.get_model("taxonomy", "Term"),
        Mapping=apps.get_model("taxonomy", "Mapping"),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("taxonomy", "0001_initial"),
    ]

    # Reversing keeps the rows: undoing the load would mean deleting terms that records may point at.
    operations = [
        migrations.RunPython(load, migrations.RunPython.noop),
    ]

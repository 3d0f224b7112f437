"""An incident's deduplication features are kept as JSON text, parsed with orjson, instead of
jsonb (incidents/dedup/index_models.py, ``JSONTextField``). PostgreSQL converts every row in
place (``USING features::text``) and SQLite already stores JSON as text: no rebuild."""

import incidents.dedup.index_models
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0009_dedup_incident_vector"),
    ]

    operations = [
        migrations.AlterField(
            model_name="dedupincident",
            name="features",
            field=incidents.dedup.index_models.JSONTextField(default=dict),
        ),
    ]

"""The deduplication index keeps each incident's mean embedding in a column of its own,
for semantic candidates (incidents/dedup/vectors.py). Existing rows get it from the
mean already in their features, so an upgraded index needs no rebuild."""

import base64

from django.db import migrations, models


def fill_vectors(apps, schema_editor):
    import numpy as np

    DedupIncident = apps.get_model("incidents", "DedupIncident")
    rows = DedupIncident.objects.only("incident_id", "features")
    batch = []
    for row in rows.iterator(chunk_size=2000):
        encoded = row.features.get("vmean") if isinstance(row.features, dict) else None
        if not encoded:
            continue
        mean = np.frombuffer(base64.b64decode(encoded), dtype=np.float16).astype(np.float32)
        norm = float(np.linalg.norm(mean))
        if not norm:
            continue
        row.vector = bytes(np.clip(np.rint(mean / norm * 127), -127, 127).astype(np.int8).tobytes())
        batch.append(row)
        if len(batch) >= 500:
            DedupIncident.objects.bulk_update(batch, ["vector"])
            batch = []
    if batch:
        DedupIncident.objects.bulk_update(batch, ["vector"])


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0008_api_stats_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="dedupincident",
            name="vector",
            field=models.BinaryField(null=True),
        ),
        migrations.AlterField(
            model_name="dedupincident",
            name="modified",
            field=models.DateTimeField(auto_now=True, db_index=True),
        ),
        migrations.RunPython(fill_vectors, migrations.RunPython.noop),
    ]

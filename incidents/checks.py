"""System checks (``manage.py check``, and every ``runserver`` and ``migrate``)."""

from typing import Any

from django.core.checks import Warning, register


@register()
def embedding_packages(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Deduplication without its embedding model still runs, but finds fewer repeats: say so
    where an operator looks, not only in a worker's log."""
    from .dedup import embedding

    missing = embedding.missing_packages() if embedding.wanted() else []
    if not missing:
        return []
    return [
        Warning(
            f"Deduplication will run without embeddings: {', '.join(missing)} cannot be imported.",
            hint="Reinstall the project's dependencies (pip install -e .), or set DEDUP_EMBEDDING = 'none' "
            "to run without them on purpose.",
            id="incidents.W001",
        )
    ]

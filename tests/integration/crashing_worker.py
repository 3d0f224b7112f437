"""The Celery app, for one test: the first time the deduplication pipeline
writes its automatic link, the worker process dies on the spot (os._exit),
in the middle of the transaction. A marker file makes it happen only once."""

import os
from typing import Any

from celery.signals import task_prerun

from config.celery import app

__all__ = ["app"]


@task_prerun.connect
def _arm(**kwargs: Any) -> None:
    from incidents import services

    if getattr(services.report_link_auto, "crashes", False):
        return
    original = services.report_link_auto
    marker = os.environ["IC_CRASH_MARKER"]

    def report_link_auto(**link_kwargs: Any) -> Any:
        if not os.path.exists(marker):
            with open(marker, "w") as handle:
                handle.write("crashed")
            os._exit(1)
        return original(**link_kwargs)

    report_link_auto.crashes = True  # type: ignore[attr-defined]
    services.report_link_auto = report_link_auto

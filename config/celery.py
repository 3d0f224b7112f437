"""The Celery application.

With no ``CELERY_BROKER_URL`` the settings make every task run in process
(``task_always_eager``), so a fresh checkout needs no broker.
"""

import gc
import os
from typing import Any

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("incident_commons")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def freeze_what_is_loaded(**_kwargs: Any) -> None:
    """Leave the objects of a started worker (Django, the apps, their modules) out of every
    garbage collection: they live as long as the process. A full collection walks every
    object it tracks, and walked these for about 50 ms each time (docs/dedup.md, "The garbage
    collector"); what the worker makes later is collected as before."""
    gc.freeze()

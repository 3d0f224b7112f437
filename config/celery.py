"""The Celery application.

With no ``CELERY_BROKER_URL`` the settings make every task run in process
(``task_always_eager``), so a fresh checkout needs no broker.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("incident_commons")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

"""A started worker leaves what it loaded out of the garbage collector's walks."""

import gc

from celery.signals import worker_process_init

from config.celery import freeze_what_is_loaded


def test_a_worker_process_freezes_what_it_loaded_when_it_starts():
    # Connected to the signal each worker process sends when it starts...
    assert freeze_what_is_loaded in [receiver() for _key, receiver in worker_process_init.receivers]
    gc.unfreeze()
    try:
        # ...(called here directly: the signal's other receivers belong to a running worker).
        freeze_what_is_loaded()
        assert gc.get_freeze_count() > 1000  # Django, the apps and their modules
    finally:
        gc.unfreeze()

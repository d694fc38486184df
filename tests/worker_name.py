"""The `[core] hostname_callable` of the Celery workers tests/stack.py starts: they share this
machine's hostname, so each names itself (EES_TEST_WORKER) in its task instances' `hostname`."""

import os


def hostname() -> str:
    return os.environ["EES_TEST_WORKER"]

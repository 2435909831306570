"""Test hooks: the points where the crash tests stop a run, and nothing else. Private and
unexported; no user-facing code path changes unless one of these variables is set.

* ``LRLAB_TEST_KILL_AT=NAME:EPOCH`` (:func:`kill_point`): SIGKILL this process at a named point
  of epoch ``EPOCH``; ``tests/store`` and ``benchmarks/crash_resume.py`` use it.
* ``LRLAB_TEST_RAY_EXIT_AFTER_EPOCH=N`` (:func:`ray_exit_epoch`, :func:`exit_worker_after`): the
  first attempt of a Ray run's chunk 0 ends its worker process hard right after streaming
  epoch N, as a crashed machine would; ``tests/executors`` uses it.
"""

from __future__ import annotations

import os
import signal

#: Set to ``NAME:EPOCH`` to SIGKILL the process at that point (see :func:`kill_point`).
KILL_AT_ENV = "LRLAB_TEST_KILL_AT"
#: Set to N: chunk 0's first Ray attempt ends its worker after streaming epoch N.
EXIT_AFTER_ENV = "LRLAB_TEST_RAY_EXIT_AFTER_EPOCH"


def kill_point(name: str, epoch: int) -> None:
    """SIGKILL this process when ``LRLAB_TEST_KILL_AT`` is ``name:epoch``; unset, nothing.

    The points: ``epoch:N`` (epoch N trained, not yet evaluated or recorded), ``commit:N``
    (epoch N's records written, not yet committed) or ``checkpoint:N`` (the checkpoint of
    epoch N written, not yet committed).
    """
    if os.environ.get(KILL_AT_ENV) == f"{name}:{epoch}":
        os.kill(os.getpid(), signal.SIGKILL)


def ray_exit_epoch() -> int | None:
    """On the driver: the epoch after which chunk 0's first attempt is to end its worker
    (``LRLAB_TEST_RAY_EXIT_AFTER_EPOCH``), or ``None`` when the variable is unset."""
    value = os.environ.get(EXIT_AFTER_ENV)
    return int(value) if value else None


def exit_worker_after(epoch: int, exit_after: int | None) -> None:
    """In a Ray worker: end the process hard (``os._exit``) when ``epoch`` is ``exit_after``."""
    if exit_after is not None and epoch == exit_after:
        os._exit(1)

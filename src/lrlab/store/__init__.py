"""Studies that last: a SQLite database of studies, members, records and checkpoints.

* :class:`Store`: the database (``lrlab.db`` by default on the command line), WAL mode,
  one transaction per epoch's records; several processes may write it at once.
* :func:`run_study` / :func:`resume_study`: train into the store, or continue an interrupted
  study from its last checkpoint with the same records as a run never interrupted.
* :func:`load_result`: a study's records as a :class:`~lrlab.train.SweepResult`.
"""

from lrlab.store._schema import APPLICATION_ID, SCHEMA_VERSION
from lrlab.store._store import DEFAULT_DB, Store, StudyInfo
from lrlab.store._study import (
    DEFAULT_CHECKPOINT_EVERY,
    Interrupted,
    chunk_size,
    load_result,
    resume_study,
    run_study,
)

__all__ = [
    "APPLICATION_ID",
    "DEFAULT_CHECKPOINT_EVERY",
    "DEFAULT_DB",
    "SCHEMA_VERSION",
    "Interrupted",
    "Store",
    "StudyInfo",
    "chunk_size",
    "load_result",
    "resume_study",
    "run_study",
]

"""Where populations train: in this process, or as Ray tasks on a cluster.

An executor splits a study's members into chunks (contiguous member ranges), trains each
chunk as one population with :func:`lrlab.fit`, and merges the chunks' results into one
:class:`~lrlab.train.SweepResult` whose member numbers are those of a single local run.
Whatever trains where, the caller's hooks (progress, a store) run in the calling process.

- :class:`LocalExecutor`: here, every member in one population by default.
- :class:`RayExecutor`: each chunk in a Ray task (``pip install 'lrlab[ray]'``), records
  streamed back epoch by epoch, a lost task retried from its last checkpoint.

Example:
    >>> from lrlab.tasks import get_task
    >>> from lrlab.train import validated
    >>> config = validated(lrs=[0.1, 0.01], epochs=1)
    >>> with get_executor("local", members_per_task=1) as ex:
    ...     result = ex.run(get_task("blobs"), config.members(), config)
    >>> sorted(result.records["member"].unique().tolist())
    [0, 1]
"""

from __future__ import annotations

from typing import Literal

from lrlab._errors import LrlabError
from lrlab.executors._address import check_address
from lrlab.executors._base import Executor
from lrlab.executors._chunks import Chunk, merge_results, split_members
from lrlab.executors._local import LocalExecutor
from lrlab.executors._ray import RayExecutor, import_ray

__all__ = [
    "Chunk",
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "check_address",
    "get_executor",
    "import_ray",
    "merge_results",
    "split_members",
]


def get_executor(name: Literal["local", "ray"] = "local", *, address: str | None = None,
                 members_per_task: int | None = None,
                 memory_limit: str | int | None = None) -> LocalExecutor | RayExecutor:
    """The executor the command line's ``--executor``, ``--address``,
    ``--members-per-chunk`` and ``--memory-limit`` describe (not yet connected: use it in a
    ``with`` block)."""
    if name == "local":
        if address is not None:
            raise LrlabError("--address names a Ray cluster; add --executor ray, or drop "
                             "--address to train here")
        from lrlab.train import parse_bytes

        limit = None if memory_limit is None else parse_bytes(memory_limit)
        return LocalExecutor(members_per_task=members_per_task, memory_limit=limit)
    if memory_limit is not None:
        raise LrlabError("--memory-limit applies to training here (--executor local)")
    if name == "ray":
        return RayExecutor(address, members_per_task=members_per_task)
    raise LrlabError(f"unknown executor {name!r}; choose local or ray")

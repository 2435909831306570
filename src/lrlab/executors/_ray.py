"""The Ray executor: chunks of members trained as populations in Ray tasks.

Each chunk runs in one Ray task, a *streaming generator*: :func:`lrlab.fit` runs in a thread
of the task and its callbacks feed a queue, which the task yields item by item: every
epoch's report, every checkpoint (as bytes), then the chunk's result. The driver consumes
the streams of all chunks as items arrive, calls the caller's hooks (it alone writes a
store), keeps each chunk's last checkpoint, and when a task dies (its worker or its node
lost) submits the chunk again from that checkpoint. Epochs repeated by a retried chunk are
the same numbers (resuming is exact) and are not handed on twice.

Ray is an optional dependency (``pip install 'lrlab[ray]'``); nothing here imports it until
an executor connects.
"""

from __future__ import annotations

import dataclasses
import math
import queue
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lrlab._errors import LrlabError
from lrlab._testing import exit_worker_after, ray_exit_epoch
from lrlab.executors._address import check_address, check_dialled
from lrlab.executors._base import Callback, CheckpointHook, Driver, chunk_resumes, seed_groups
from lrlab.executors._chunks import Chunk, split_members

if TYPE_CHECKING:
    from lrlab.tasks import Task
    from lrlab.train import Checkpoint, EpochReport, Member, SweepConfig, SweepResult

__all__ = ["RayExecutor", "import_ray"]


# -- what a chunk's stream yields ----------------------------------------------------------


@dataclass(frozen=True)
class EpochItem:
    """An epoch of the chunk ended: its report."""

    report: EpochReport


@dataclass(frozen=True)
class CheckpointItem:
    """The chunk's checkpoint after ``epoch``, as :meth:`~lrlab.train.Checkpoint.to_bytes`."""

    epoch: int
    data: bytes


@dataclass(frozen=True)
class DoneItem:
    """The chunk's result (without its population), the stream's last item."""

    result: SweepResult


@dataclass(frozen=True)
class _Failed:
    """``fit`` raised in its thread: the stream raises it (never yielded)."""

    error: BaseException


StreamItem = EpochItem | CheckpointItem | DoneItem


def import_ray() -> Any:
    """The ``ray`` module, or one line saying how to install it."""
    try:
        import ray
    except ImportError:
        raise LrlabError("--executor ray needs Ray, which is not installed: "
                         "pip install 'lrlab[ray]'") from None
    return ray


def stream_chunk(task: Task, members: Sequence[Member], config: SweepConfig,
                 checkpoint_every: int, resume: bytes | None, threads: int,
                 exit_after: int | None) -> Iterator[StreamItem]:
    """The body of a chunk's Ray task: ``fit`` in a thread, its events yielded in order.

    Yields an :class:`EpochItem` per epoch, a :class:`CheckpointItem` per checkpoint and,
    last, a :class:`DoneItem`. An error in ``fit`` is raised here, so Ray hands it to the
    driver. ``exit_after`` is a test hook (:mod:`lrlab._testing`).
    """
    from lrlab.train import Checkpoint, fit

    items: queue.Queue = queue.Queue()

    def work() -> None:
        import torch

        torch.set_num_threads(threads)  # per thread under OpenMP: set where fit runs
        try:
            result = fit(task, members, config,
                         callbacks=[lambda r: items.put(EpochItem(r))],
                         checkpoint_every=checkpoint_every,
                         on_checkpoint=lambda c: items.put(CheckpointItem(c.epoch, c.to_bytes())),
                         resume=None if resume is None else Checkpoint.from_bytes(resume))
            items.put(DoneItem(dataclasses.replace(result, population=None)))
        except BaseException as err:  # noqa: BLE001 - the generator raises it for Ray
            items.put(_Failed(err))

    threading.Thread(target=work, name="lrlab-fit", daemon=True).start()
    while True:
        item = items.get()
        if isinstance(item, _Failed):
            raise item.error
        yield item
        if isinstance(item, DoneItem):
            return
        if isinstance(item, EpochItem):
            exit_worker_after(item.report.epoch, exit_after)


class RayExecutor:
    """Train chunks of members as populations in Ray tasks, locally or on a cluster.

    Args:
        address: a running cluster's address: ``HOST:PORT`` of the head node, ``ray://...``
            for Ray client, or ``"auto"`` for the cluster ``ray start`` began on this machine.
            ``None`` starts a Ray of its own here (or uses the Ray this process is already
            connected to).
        members_per_task: members per chunk; ``None`` spreads the members evenly over the
            cluster's task slots.
        cpus_per_task: CPUs Ray reserves per task (and torch threads the task uses).
        gpus_per_task: GPUs per task; ``None`` gives each task one GPU when the cluster has
            GPUs, else none.
        max_retries: how often a chunk whose task died is submitted again (from its last
            checkpoint) before the run fails.
        connect_timeout: seconds to wait for the address to answer.

    The executor connects on first use (or on entering a ``with`` block); :meth:`close`
    (or leaving the block) disconnects, stopping a Ray it started here, never a cluster.

    Example:
        >>> with RayExecutor(members_per_task=2) as ex:  # doctest: +SKIP
        ...     result = ex.run(task, config.members(), config)
    """

    def __init__(self, address: str | None = None, *, members_per_task: int | None = None,
                 cpus_per_task: int = 1, gpus_per_task: float | None = None,
                 max_retries: int = 3, connect_timeout: float = 5.0) -> None:
        split_members(1, members_per_task)  # checked now, before any connection
        if cpus_per_task < 1 or max_retries < 0:
            raise LrlabError("cpus_per_task must be at least 1 and max_retries at least 0")
        self.address, self.members_per_task = address, members_per_task
        self.cpus_per_task, self.gpus_per_task = int(cpus_per_task), gpus_per_task
        self.max_retries, self.connect_timeout = int(max_retries), connect_timeout
        self._ray: Any = None
        self._started = False

    # -- connection ----------------------------------------------------------------------

    def connect(self) -> RayExecutor:
        """Join the cluster (or start Ray here): a missing Ray, an unreachable or wrong
        address each raise one :class:`LrlabError` line before anything else happens."""
        if self._ray is not None:
            return self
        ray = import_ray()
        if self.address is not None:
            check_address(self.address, self.connect_timeout)
            check_dialled(self.address, ray.util.get_node_ip_address(), self.connect_timeout)
        if ray.is_initialized():
            current = ray.get_runtime_context().gcs_address
            if self.address not in (None, "auto", current):
                raise LrlabError(f"this process is already connected to Ray at {current}; "
                                 f"run without --address, or in a fresh process")
        else:
            try:  # "local": a Ray of our own, even beside one started by `ray start`
                ray.init(address=self.address or "local", include_dashboard=False)
            except (ConnectionError, ray.exceptions.AuthenticationError) as err:
                first = (str(err).strip().splitlines() or [type(err).__name__])[0]
                raise LrlabError(f"cannot connect to Ray at {self.address}: {first} (a cluster "
                                 "with token authentication needs RAY_AUTH_MODE=token and its "
                                 "token here: ~/.ray/auth_token or RAY_AUTH_TOKEN)") from None
            self._started = True
        self._ray = ray
        return self

    def close(self) -> None:
        """Disconnect, stopping the Ray this executor started here (a cluster it joined
        keeps running; a Ray this process was connected to before stays connected)."""
        if self._started:
            self._ray.shutdown()
        self._ray, self._started = None, False

    def __enter__(self):  # -> RayExecutor (typing.Self from Python 3.11)
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running -------------------------------------------------------------------------

    def _gpus(self) -> float:
        if self.gpus_per_task is not None:
            return float(self.gpus_per_task)
        return 1.0 if self._ray.cluster_resources().get("GPU", 0) >= 1 else 0.0

    def plan(self, count: int, *, task: Task | None = None,
             members: Sequence[Member] | None = None,
             config: SweepConfig | None = None) -> list[Chunk]:
        """The chunks ``count`` members are trained in (connecting, when ``members_per_task``
        is ``None``, to count the cluster's task slots); each seed apart on a DataLoader
        task."""
        self.connect()
        return self._chunks(count, self._gpus(), seed_groups(task, members))

    def _chunks(self, count: int, gpus: float,
                groups: list[list[int]] | None = None) -> list[Chunk]:
        per_task = self.members_per_task
        if per_task is None:
            have = self._ray.cluster_resources()
            slots = (have.get("GPU", 0) / gpus if gpus else
                     have.get("CPU", 1) / self.cpus_per_task)
            per_task = max(1, math.ceil(count / max(1, int(slots))))
        return split_members(count, per_task, groups)

    def run(self, task: Task, members: Sequence[Member], config: SweepConfig, *,
            callbacks: Sequence[Callback] = (), checkpoint_every: int | None = None,
            on_checkpoint: CheckpointHook | None = None,
            resume: Checkpoint | Sequence[Checkpoint] | None = None,
            chunks: Sequence[Chunk] | None = None) -> SweepResult:
        """Train ``members`` on ``task`` in Ray tasks; see :class:`~lrlab.executors.Executor`.

        Whatever ``checkpoint_every`` says, every chunk checkpoints after each epoch (so a
        retried chunk repeats at most one epoch); ``on_checkpoint`` sees those it asks for.
        """
        ray = self.connect()._ray
        gpus = self._gpus()
        chunks = (self._chunks(len(members), gpus, seed_groups(task, members)) if chunks is None
                  else list(chunks))
        resumes = chunk_resumes(task, members, config, chunks, resume)
        driver = Driver(chunks, members, callbacks=callbacks, on_checkpoint=on_checkpoint,
                        resume=resumes)
        remote = ray.remote(stream_chunk).options(
            num_returns="streaming", max_retries=0, num_cpus=self.cpus_per_task,
            num_gpus=gpus, _generator_backpressure_num_objects=1)
        shared = ray.put(task)  # stored once, read by every chunk's task
        exit_after = ray_exit_epoch()  # a test hook; None unless its variable is set
        last = {i: CheckpointItem(c.epoch, c.to_bytes()) for i, c in resumes.items()}
        tries = dict.fromkeys(range(len(chunks)), 0)

        def submit(chunk: Chunk) -> Any:
            kept = last.get(chunk.index)
            return remote.remote(shared, chunk.pick(members), config,
                                 1, None if kept is None else kept.data, self.cpus_per_task,
                                 exit_after if chunk.index == 0 and not tries[0] else None)

        running = {submit(c): c for c in chunks}
        try:
            while running:
                ready, _ = ray.wait(list(running), num_returns=1)
                for stream in ready:
                    chunk = running[stream]
                    try:
                        item = ray.get(next(stream))
                    except StopIteration:
                        del running[stream]
                        continue
                    except ray.exceptions.RayTaskError as err:  # raised by fit itself
                        if isinstance(err.cause, LrlabError):
                            raise LrlabError(str(err.cause)) from None
                        raise
                    except ray.exceptions.RayError as err:  # the worker or its node was lost
                        del running[stream]
                        tries[chunk.index] += 1
                        self._retry_or_fail(chunk, err, tries[chunk.index], last)
                        running[submit(chunk)] = chunk
                        continue
                    self._handle(item, chunk, driver, last, checkpoint_every)
        finally:
            for stream in running:  # an error or an interrupt: stop the others' work
                ray.cancel(stream, force=True)
        return driver.result()

    @staticmethod
    def _handle(item: StreamItem, chunk: Chunk, driver: Driver,
                last: dict[int, CheckpointItem], every: int | None) -> None:
        """One item of a chunk's stream: an epoch, a checkpoint (kept for a retry, handed on
        when :func:`~lrlab.train.checkpoint_due`, as fit would), or the chunk's result."""
        from lrlab.train import Checkpoint, checkpoint_due

        if isinstance(item, EpochItem):
            driver.epoch(chunk, item.report)
        elif isinstance(item, CheckpointItem):
            last[chunk.index] = item
            if driver.on_checkpoint is not None:
                checkpoint = Checkpoint.from_bytes(item.data)
                if checkpoint_due(checkpoint.epoch, checkpoint.epochs, every):
                    driver.checkpoint(checkpoint)
        else:
            driver.finish(chunk, item.result)

    def _retry_or_fail(self, chunk: Chunk, err: Exception, tries: int,
                       last: dict[int, CheckpointItem]) -> None:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        if tries > self.max_retries:
            raise LrlabError(f"{chunk.label()} lost its worker ({reason}) with no retries "
                             f"left (max_retries={self.max_retries}); check the cluster "
                             "(ray status) and run again")
        epoch = last[chunk.index].epoch if chunk.index in last else 0
        where = f"from its checkpoint after epoch {epoch}" if epoch else "from the start"
        warnings.warn(f"lrlab: {chunk.label()} lost its worker ({type(err).__name__}); "
                      f"retry {tries} of {self.max_retries} resumes {where}", RuntimeWarning,
                      stacklevel=4)

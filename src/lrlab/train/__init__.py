"""Training a population on a task: the epoch loop, its settings and its results."""

from lrlab.train._checkpoint import Checkpoint, checkpoint_due, fingerprint, fork
from lrlab.train._config import (
    MAX_EPOCHS,
    Member,
    SweepConfig,
    check_distinct,
    parse_lrs,
    validated,
)
from lrlab.train._fit import (
    EpochReport,
    Untrained,
    fit,
    rescored,
    resolve_device,
    resolve_task,
    untrained,
)
from lrlab.train._loader import cannot_take, check_labels, loss_fails, mean_loss, refuse_broadcast
from lrlab.train._memory import MemoryEstimate, estimate_memory, parse_bytes, size_text
from lrlab.train._plan import RunPlan, plan_run
from lrlab.train._preflight import SMALL_WORK, check_fit, threads_for
from lrlab.train._rank import rank, setting_labels
from lrlab.train._result import (
    SweepResult,
    check_writable,
    diverged_epochs,
    members_table,
)
from lrlab.train._sensitivity import Basin, Sensitivity, sensitivity

__all__ = [
    "MAX_EPOCHS",
    "SMALL_WORK",
    "Basin",
    "Checkpoint",
    "EpochReport",
    "Member",
    "MemoryEstimate",
    "RunPlan",
    "Sensitivity",
    "SweepConfig",
    "SweepResult",
    "Untrained",
    "cannot_take",
    "check_distinct",
    "check_fit",
    "check_labels",
    "check_writable",
    "checkpoint_due",
    "diverged_epochs",
    "estimate_memory",
    "fingerprint",
    "fit",
    "fork",
    "loss_fails",
    "mean_loss",
    "members_table",
    "parse_bytes",
    "parse_lrs",
    "plan_run",
    "rank",
    "refuse_broadcast",
    "rescored",
    "resolve_device",
    "resolve_task",
    "sensitivity",
    "setting_labels",
    "size_text",
    "threads_for",
    "untrained",
    "validated",
]

"""Training a population on a task: the epoch loop, its settings and its results."""

from lrlab.train._checkpoint import Checkpoint, checkpoint_due, fingerprint
from lrlab.train._config import Member, SweepConfig, parse_lrs, validated
from lrlab.train._fit import EpochReport, fit, sweep, train
from lrlab.train._result import SweepResult, check_writable, diverged_epochs, members_table

__all__ = [
    "Checkpoint",
    "EpochReport",
    "Member",
    "SweepConfig",
    "SweepResult",
    "check_writable",
    "checkpoint_due",
    "diverged_epochs",
    "fingerprint",
    "fit",
    "members_table",
    "parse_lrs",
    "sweep",
    "train",
    "validated",
]

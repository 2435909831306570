"""Training a population on a task: the epoch loop, its settings and its results."""

from lrlab.train._checkpoint import Checkpoint
from lrlab.train._config import Member, SweepConfig, parse_lrs, validated
from lrlab.train._fit import EpochReport, fit, sweep, train
from lrlab.train._result import SweepResult, check_writable

__all__ = [
    "Checkpoint",
    "EpochReport",
    "Member",
    "SweepConfig",
    "SweepResult",
    "check_writable",
    "fit",
    "parse_lrs",
    "sweep",
    "train",
    "validated",
]

"""Reproduce the brief's experiments, one command each, and say whether each claim holds.

:func:`reproduce` runs one experiment of :data:`EXPERIMENTS` at a size (``reduced`` by
default, a few minutes on 2 CPU cores; ``full``, the brief's size), writes its records, its
verdict table and an HTML report into a folder, and returns an :class:`Outcome`. Each row of
the verdict table is a :class:`Claim`: the brief's claim, what the run measured, and
``holds`` / ``partly`` / ``does not hold``, decided from the run's records by thresholds
stated in the row's ``rule``. :func:`judge` recomputes the table from the saved records.

Example:
    >>> from lrlab.reproduce import reproduce
    >>> outcome = reproduce("blobs-sgd", "runs/blobs", size="test")  # doctest: +SKIP
    >>> set(outcome.table()["verdict"]) <= {"does not hold", "holds", "not run", "partly"}  # doctest: +SKIP
    True
"""

from lrlab.reproduce._claims import VERDICTS, Claim, Verdict, claims_frame, graded, margin, mean_se
from lrlab.reproduce._evidence import Evidence
from lrlab.reproduce._experiment import SIZES, Context, Experiment, Size
from lrlab.reproduce._registry import EXPERIMENTS, get_experiment
from lrlab.reproduce._run import Outcome, judge, reproduce

__all__ = [
    "EXPERIMENTS",
    "SIZES",
    "VERDICTS",
    "Claim",
    "Context",
    "Evidence",
    "Experiment",
    "Outcome",
    "Size",
    "Verdict",
    "claims_frame",
    "get_experiment",
    "graded",
    "judge",
    "margin",
    "mean_se",
    "reproduce",
]

"""Every reproduction by name: what ``lrlab list experiments`` prints."""

from __future__ import annotations

from lrlab._errors import LrlabError
from lrlab.reproduce import (
    _blobs_sgd,
    _decay_schedules,
    _fastest_sse,
    _mnist_onelayer,
    _optimizers_surface,
    _range_test,
    _transfer,
)
from lrlab.reproduce._experiment import Experiment

__all__ = ["EXPERIMENTS", "get_experiment"]

#: The experiments, in the brief's order.
EXPERIMENTS: dict[str, Experiment] = {
    e.name: e for e in (_blobs_sgd.EXPERIMENT, _mnist_onelayer.EXPERIMENT,
                        _fastest_sse.EXPERIMENT, _decay_schedules.EXPERIMENT,
                        _range_test.EXPERIMENT, _transfer.EXPERIMENT,
                        _optimizers_surface.EXPERIMENT)
}


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``, or one line listing the known names."""
    if name not in EXPERIMENTS:
        raise LrlabError(f"unknown experiment {name!r}; choose one of: "
                         f"{', '.join(EXPERIMENTS)} (lrlab list experiments)")
    return EXPERIMENTS[name]

"""Search for a learning rate: Leslie Smith's range test and the rules that read its curve.

:func:`grid`, :func:`coarse_to_fine`, :func:`fastest` (Wilson & Martinez) and
:func:`halving` (start large and halve) are procedures on a task: each returns a result with
the chosen rate, the evidence (every population it trained) and an explanation in words.
:func:`prodigy_probe` runs Prodigy briefly and hands its step-size estimate to Adam.

:func:`find_lr` trains any ``nn.Module`` while the rate rises from ``start`` to ``end``,
stops when the loss diverges, restores the model and optimizer exactly, and returns a
:class:`RangeTestResult` with Smith's readings (``min_lr``, ``max_lr``, ``recommended``,
``cycle``), lrlab's ``suggestion`` and, for comparison, the popular tools' rules
(:func:`valley`, :func:`steepest`, :func:`min_div10`): each a :class:`Reading` of a rate and
a one-line reason. The rules are pure functions of ``(lrs, losses)``; their constants are
the fields of :class:`Rules`.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from lrlab.search import find_lr
    >>> x = torch.randn(256, 2); y = (x[:, 0] > 0).long()
    >>> result = find_lr(nn.Linear(2, 2), nn.CrossEntropyLoss(), (x, y), start=1e-4, end=100.0)
    >>> sorted(result.suggestions())[:3]
    ['cycle_lower', 'max_lr', 'min_div10']

Reference: Smith 2017, "Cyclical Learning Rates for Training Neural Networks".
"""

from lrlab.data import ModelLoss, model_loss
from lrlab.search._auto import AutoResult, auto
from lrlab.search._common import SearchResult
from lrlab.search._confidence import (
    Baseline,
    Choice,
    Confidence,
    assess,
    baseline,
    chance_score,
    choose,
    pace,
    score_noise,
    setback,
)
from lrlab.search._fastest import (
    FASTEST_LRS,
    FastestReplay,
    FastestResult,
    fastest,
    replay_fastest,
)
from lrlab.search._findings import KINDS, Finding
from lrlab.search._grid import CoarseToFineResult, GridResult, coarse_to_fine, grid
from lrlab.search._halving import HalvingResult, halving
from lrlab.search._loop import diverged
from lrlab.search._probe import ProbeResult, prodigy_probe
from lrlab.search._range_test import Mode, find_lr, range_rates
from lrlab.search._readings import (
    ADAPTIVE_RULES,
    DEFAULT_RULES,
    LOSS_RULES,
    CycleRange,
    Reading,
    Rules,
    SmithReadings,
    rules_for,
    smith_readings,
)
from lrlab.search._result import RangeTestResult
from lrlab.search._smooth import ema, trend
from lrlab.search._suggest import (
    COMPARISONS,
    min_div10,
    next_step,
    steepest,
    suggest,
    trend_bottom,
    valley,
)
from lrlab.search._task_range import range_test

__all__ = [
    "ADAPTIVE_RULES",
    "COMPARISONS",
    "DEFAULT_RULES",
    "FASTEST_LRS",
    "KINDS",
    "LOSS_RULES",
    "AutoResult",
    "Baseline",
    "Choice",
    "CoarseToFineResult",
    "Confidence",
    "CycleRange",
    "FastestReplay",
    "FastestResult",
    "Finding",
    "GridResult",
    "HalvingResult",
    "Mode",
    "ModelLoss",
    "ProbeResult",
    "RangeTestResult",
    "Reading",
    "Rules",
    "SearchResult",
    "SmithReadings",
    "assess",
    "auto",
    "baseline",
    "chance_score",
    "choose",
    "coarse_to_fine",
    "diverged",
    "ema",
    "fastest",
    "find_lr",
    "grid",
    "halving",
    "min_div10",
    "model_loss",
    "next_step",
    "pace",
    "prodigy_probe",
    "range_rates",
    "range_test",
    "replay_fastest",
    "rules_for",
    "score_noise",
    "setback",
    "smith_readings",
    "steepest",
    "suggest",
    "trend",
    "trend_bottom",
    "valley",
]

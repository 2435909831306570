"""Leslie Smith's learning-rate range test for any PyTorch model: :func:`find_lr`.

Train while the rate rises from ``start`` to ``end`` (step ``t`` of ``T``):

    exp:    ``lr_t = start * (end / start) ** (t / (T - 1))``
    linear: ``lr_t = start + (end - start) * t / (T - 1)``

recording the loss at each rate, then read the curve (:class:`RangeTestResult`). The model,
its optimizer, its modes and the random states are put back exactly afterwards.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from lrlab._checks import is_number, is_whole, materialised, repeated
from lrlab._errors import LrlabError
from lrlab._once import warn_once
from lrlab.data import ModelLoss
from lrlab.search._data import Batches, check_pairs
from lrlab.search._loop import Setup, check_val, preserved, run_once
from lrlab.search._readings import Rules, heavy_ball, rules_for
from lrlab.search._result import RangeTestResult
from lrlab.search._vectorised import population_runs, vectorisable

__all__ = ["MAX_STEPS", "Mode", "find_lr", "range_rates"]

Mode = Literal["exp", "linear"]

#: The most steps a range test takes: its rates are held in memory, and a test is 100 to a
#: few thousand steps (``steps=10**11`` failed allocating 745 GiB). A second look that would
#: take more (:func:`~lrlab.search.range_test`'s, at the first's density per decade) takes
#: this many.
MAX_STEPS = 100_000


def range_rates(start: float, end: float, steps: int, mode: Mode = "exp") -> np.ndarray:
    """The rates of a range test, ``start`` to ``end`` inclusive, in float64.

    ``exp``: ``start * (end / start) ** (t / (steps - 1))`` (even in log space);
    ``linear``: ``start + (end - start) * t / (steps - 1)``; ``t = 0 .. steps - 1``. The first
    and last rates are exactly ``start`` and ``end``.

    Args:
        start: the first rate, finite and > 0.
        end: the last rate, > ``start``.
        steps: how many rates (optimizer steps), 10 to :data:`MAX_STEPS`.
        mode: ``"exp"`` or ``"linear"``.

    Returns:
        ``(steps,)`` float64 array.

    Example:
        >>> range_rates(1e-3, 1.0, 10)[[0, -1]].tolist()
        [0.001, 1.0]
    """
    for name, value, example in (("start", start, "1e-7"), ("end", end, "10")):
        if not (is_number(value) and value > 0):
            raise LrlabError(f"{name}={value!r} must be a finite rate > 0: e.g. {name}={example}")
    if start >= end:
        raise LrlabError(f"start={start!r} must be below end={end!r}: the rate rises from start")
    if not is_whole(steps):
        raise LrlabError(f"steps={steps!r} must be a whole number: give steps=100 (10 or more)")
    if steps < 10:
        raise LrlabError(f"steps={steps!r} is too few to read a curve: give steps=10 or more "
                         "(100 is typical)")
    if steps > MAX_STEPS:
        raise LrlabError(f"steps={steps!r} is more than a range test takes: give "
                         f"steps={MAX_STEPS} or fewer (100 is typical)")
    if mode == "exp":
        return np.geomspace(float(start), float(end), steps)
    if mode == "linear":
        return np.linspace(float(start), float(end), steps)
    raise LrlabError(f"mode={mode!r} is not a rate ramp: use 'exp' or 'linear'")


def _check_int(name: str, value: Any, low: int) -> None:
    if not (is_whole(value) and value >= low):
        raise LrlabError(f"{name}={value!r} must be a whole number >= {low}")


def _check_options(loss_fn, *, accumulate, smooth, diverge, eval_every, batch_size,
                   batch_keys, amp, reinit, seeds) -> None:
    _check_int("accumulate", accumulate, 1)
    _check_int("eval_every", eval_every, 1)
    _check_int("batch_size", batch_size, 1)
    if isinstance(loss_fn, type):  # nn.CrossEntropyLoss: calling it builds a loss module
        raise LrlabError(f"loss_fn is the class {loss_fn.__name__}, not a loss; give an "
                         f"instance: loss_fn={loss_fn.__name__}()")
    if loss_fn is not None and not callable(loss_fn):
        raise LrlabError(f"loss_fn must be callable (e.g. nn.CrossEntropyLoss()), not "
                         f"{type(loss_fn).__name__}")
    if not (is_number(smooth) and 0 <= smooth < 1):
        raise LrlabError(f"smooth={smooth!r} must lie in [0, 1): use e.g. 0.98, or 0 for none")
    if not (is_number(diverge) and diverge > 1):
        raise LrlabError(f"diverge={diverge!r} must be a finite factor > 1: e.g. 4")
    if batch_keys is not None and not (isinstance(batch_keys, (tuple, list))
                                       and len(batch_keys) == 2):
        raise LrlabError(f"batch_keys={batch_keys!r} must be (input_key, target_key) "
                         "(input_key None: the other keys go to the model by name)")
    if not isinstance(amp, bool):
        raise LrlabError(f"amp={amp!r} must be True or False")
    if reinit and seeds is None:
        raise LrlabError("reinit=True re-draws the weights per seed: give seeds=K as well")


def _trainable(model: nn.Module) -> list[nn.Parameter]:
    if isinstance(model, type) and issubclass(model, nn.Module):  # Task's model is a factory
        raise LrlabError(f"model is the class {model.__name__}; find_lr tests a built model, "
                         f"the one you will train: give {model.__name__}(...)")
    if not isinstance(model, nn.Module):
        raise LrlabError(f"model must be a torch.nn.Module, not {type(model).__name__}")
    materialised(model, "the model")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise LrlabError("the model has no trainable parameters (requires_grad=True): "
                         "unfreeze some before a range test")
    return params


def _device(params: list[nn.Parameter], device: Any, amp: bool) -> torch.device:
    here = params[0].device
    if device is not None:
        try:
            want = torch.device(device)
        except (RuntimeError, TypeError):
            raise LrlabError(f"device={device!r} is not a torch device: e.g. 'cpu', 'cuda'") \
                from None
        if want.type != here.type or (want.index is not None and want.index != here.index):
            raise LrlabError(f"the model is on {here} but device={want}: move the model there "
                             "first (find_lr never moves it)")
    if amp and here.type != "cuda":
        raise LrlabError(f"amp=True needs CUDA but the model is on {here}: drop amp=True or "
                         "move the model to a CUDA device")
    return here


#: The reference packages' optimizers whose ``lr`` multiplies a step size they estimate
#: (prodigyopt, dadaptation, dog-optimizer), as lrlab's rules with ``multiplier`` set.
MULTIPLIERS = frozenset({"Prodigy", "DAdaptAdam", "DAdaptSGD", "DAdaptAdaGrad", "DAdaptAdan",
                         "DAdaptLion", "DoG", "LDoG"})


def refuse_multiplier(optimizer: object) -> None:
    """One :class:`LrlabError` line when ``optimizer`` (an lrlab rule's name, an lrlab or
    torch optimizer) sets its own step size and takes ``lr`` as a multiplier of it
    (:attr:`~lrlab.optim.UpdateRule.multiplier`, :data:`MULTIPLIERS`): ramping that
    multiplier reads no learning rate, so a range test (``find_lr``, ``range_test``,
    ``auto``, ``lrlab find``) says what to do instead.

    Example:
        >>> refuse_multiplier("adam")  # a rate: nothing to say
        >>> refuse_multiplier("prodigy")
        Traceback (most recent call last):
        ...
        lrlab._errors.LrlabError: prodigy sets its own step size (its lr multiplies ...
    """
    from lrlab.optim import RULES

    if isinstance(optimizer, str):
        rule = RULES.get(optimizer)
        name, free = optimizer, rule is not None and rule.multiplier
    else:
        rule = getattr(optimizer, "rule", None)
        name = getattr(rule, "name", None) or type(optimizer).__name__
        free = bool(getattr(rule, "multiplier", False)) or type(optimizer).__name__ in MULTIPLIERS
    if free:  # what to run instead: lrlab find has no --lr, so "train it at lr=1" said none
        ours = isinstance(optimizer, str) or rule is not None
        how = (f": lrlab train TASK --optimizer {name} --lr 1), compare a few multipliers "
               f"with a grid (lrlab grid TASK --optimizer {name} --lrs 0.3,1,3)" if ours
               else ")")
        raise LrlabError(f"{name} sets its own step size (its lr multiplies the step it "
                         "estimates, 1 by its paper), so a range test of that multiplier reads "
                         "no learning rate: train it with its lr left at 1 (no search "
                         f"needed{how}, or find a rate for adam instead")


def _check_optimizer(optimizer: torch.optim.Optimizer, model: nn.Module) -> list[float]:
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise LrlabError(f"optimizer must be a torch.optim.Optimizer, not "
                         f"{type(optimizer).__name__}")
    refuse_multiplier(optimizer)
    own = {id(p) for p in model.parameters()}
    if any(id(p) not in own for g in optimizer.param_groups for p in g["params"]):
        raise LrlabError("the optimizer holds parameters that are not the model's: build it "
                         "from model.parameters()")
    base = [float(g["lr"]) for g in optimizer.param_groups]
    if not (math.isfinite(base[0]) and base[0] > 0):
        raise LrlabError(f"the first param group's lr is {base[0]!r}: it is the reference for "
                         "the other groups' ratios, so give it a finite lr > 0")
    return base


def _seed_list(seeds: int | Sequence[int] | None) -> list[int] | None:
    if seeds is None:
        return None
    if is_whole(seeds):
        if seeds < 1:
            raise LrlabError(f"seeds={seeds} must be >= 1 (a count) or a list of seeds")
        return list(range(seeds))
    listed = list(seeds) if isinstance(seeds, Sequence) else None
    if not listed or not all(is_whole(s) for s in listed):
        raise LrlabError(f"seeds={seeds!r} must be a count or a non-empty list of int seeds")
    if (twice := repeated(listed)) is not None:  # one seed's tests run identically
        raise LrlabError(f"seeds lists {twice} twice; the tests of one seed run identically, "
                         "give each once")
    return listed


@warn_once()
def find_lr(model: nn.Module, loss_fn: Callable | ModelLoss | None, train_data: Any, *,
            optimizer: torch.optim.Optimizer | None = None, start: float = 1e-7,
            end: float = 10.0, steps: int = 100, mode: Mode = "exp", val_data: Any = None,
            eval_every: int = 1, accumulate: int = 1, smooth: float = 0.98,
            diverge: float = 4.0, amp: bool = False, device: Any = None, batch_size: int = 32,
            batch_keys: tuple[str, str] | None = None, seeds: int | Sequence[int] | None = None,
            reinit: bool = False, rules: Rules | None = None,
            clip_grad_norm: float | None = None,
            training_steps: int | None = None) -> RangeTestResult:
    """Learning-rate range test: train while the rate rises, stop at divergence, read the curve.

    Step ``t`` (``0 .. steps - 1``) sets group ``i``'s rate to
    ``lr0_i * lr_t / lr0_0`` (``lr_t`` from :func:`range_rates`, ``lr0_i`` the group's rate
    on entry, so the groups keep their ratios and group 0 runs at exactly ``lr_t``), takes
    ``accumulate`` micro-batches (each loss scaled by ``1 / accumulate`` before
    ``backward``), then one optimizer step. It records ``lr_t``, the raw loss (mean of the
    micro-batch losses, computed before the step) and its debiased EMA
    ``s_t = avg_t / (1 - smooth**(t + 1))``, ``avg_t = smooth * avg_{t-1} + (1 - smooth) * loss_t``;
    with ``val_data``, the validation loss and accuracy after the step, every ``eval_every``
    steps and at the last scheduled one (``nan`` in between), in eval mode without gradients
    (the loss a sample-weighted mean; accuracy ``argmax(outputs, dim=1) == targets`` for
    integer class targets, over every label position but padding (``-100``, or the loss's
    own ``ignore_index``), ``(outputs > 0)
    == targets`` for integer/bool targets shaped like the outputs, and None for float targets
    or a :func:`model_loss`). Training runs in train
    mode (``model.train()``).

    It stops early when the loss is nan/inf (that step is not recorded), when the data runs
    out for good, or when ``s_t`` diverges from the best ``b = min s``: for ``b > 0`` when
    ``s_t > diverge * b`` (the usual rule); for ``b <= 0`` (a loss that can go negative)
    when ``s_t - b > (diverge - 1) * max(|b|, s_0 - b)``, ``s_0`` being the first smoothed loss.

    Args:
        model: any ``nn.Module``, already on its device (it is never moved).
        loss_fn: ``loss_fn(outputs, targets) -> scalar`` with ``outputs = model(*inputs)``,
            :func:`~lrlab.search.model_loss` ``(fn)`` for ``fn(model, batch) -> scalar``, or
            ``None`` for a model that computes its own loss (``model(**batch).loss``).
        train_data: a DataLoader, any re-iterable of batches, a map-style Dataset, or an
            ``(x, y)`` tuple of tensors (shuffled and cut into ``batch_size`` batches). Batches
            may be tensors (model_loss only), ``(x, ..., y)`` tuples/lists or dicts.
        optimizer: a torch optimizer over the model's parameters (its current state is the
            starting point); default ``torch.optim.SGD(trainable params, lr=start)``.
        start, end, steps, mode: the ramp (see :func:`range_rates`).
        val_data: optional validation data, in the same forms (evaluated whole, in order).
        eval_every: evaluate ``val_data`` every this many steps (and at the last).
        accumulate: micro-batches per optimizer step (gradient accumulation).
        smooth: the EMA's decay in ``[0, 1)``.
        diverge: the divergence factor (> 1).
        amp: mixed precision on CUDA (``torch.autocast("cuda")`` and a ``GradScaler``); on a
            CPU model it raises :class:`~lrlab.LrlabError`, never falls back silently. A
            step the scaler skips (inf/NaN gradients in float16) is no point of the curve:
            the ramp stays at its rate for the next batch (32 skips in a row stop the test).
        device: where batches go; must be the model's device (default: its first
            trainable parameter's).
        batch_size: the batch size for tensor-tuple data and Datasets.
        batch_keys: ``(input_key, target_key)`` for dict batches (``input_key`` None: every
            other key goes to the model as a keyword argument; default ``(None, "labels")``).
        seeds: run one test per seed (a count K means seeds ``0..K-1``), each from the same
            starting weights under ``torch.manual_seed(seed)`` (data order, dropout), and
            return the per-step median of the raw losses over the steps every run reached,
            with every reading taken on that median curve, the runs in ``result.runs`` and
            the min/median/max band of their smoothed losses in ``result.band()``. With
            lrlab's own SGD and ``(x, y)`` tensor data the K tests train as one vectorised
            population, member k drawing its order from a generator seeded with seed k
            (see :mod:`lrlab.search._vectorised`); otherwise they run one after another.
        reinit: with ``seeds``, also redraw the weights per seed (``reset_parameters()`` of
            every submodule that has one).
        rules: the constants of the readings (default: :func:`~lrlab.search.rules_for` the
            optimizer: Adam and its kin read with a wider margin).
        clip_grad_norm: before each step, clip the gradient of every parameter the
            optimizer steps, as one vector, to this global L2 norm
            (``torch.nn.utils.clip_grad_norm_``, after the gradient scaler's unscale under
            ``amp``), as a sweep's ``clip_grad_norm`` does; ``None``: no clipping.
        training_steps: the optimizer steps your full training will take, where you know
            them (``epochs * len(loader)`` over ``accumulate``): a training of under 200
            steps, or any under heavy-ball momentum (an SGD-like optimizer's ``momentum``:
            ``torch.optim.SGD``'s, lrlab's, another package's; not Adam's ``betas``, see
            :func:`~lrlab.search._readings.heavy_ball`), gets the warning and the
            rates to try (``result.to_try``) that ``lrlab find`` gives on a task and the
            Hugging Face and Lightning finders give. ``None``: not known, no such warning.

    Returns:
        A :class:`RangeTestResult`. The model (parameters, buffers, grads, train/eval flags),
        the optimizer (state, param groups' lrs) and the random states are as before.

    Raises:
        LrlabError: one line, for bad input (see the checks above and in the helpers).

    Example:
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> x = torch.randn(256, 2); y = (x[:, 0] > 0).long()
        >>> net = nn.Linear(2, 2)
        >>> result = find_lr(net, nn.CrossEntropyLoss(), (x, y), start=1e-4, end=100.0)
        >>> 1e-4 < result.suggestion.lr < 100
        True

    Reference: Smith 2017, "Cyclical Learning Rates for Training Neural Networks", sec. 3.3.
    """
    if training_steps is not None and not (is_whole(training_steps) and training_steps > 0):
        raise LrlabError(f"training_steps={training_steps!r} must be the optimizer steps of "
                         "your full training, a whole number > 0 (e.g. epochs * len(loader)), "
                         "or None when not known")
    lrs = range_rates(start, end, steps, mode)
    _check_options(loss_fn, accumulate=accumulate, smooth=smooth, diverge=diverge,
                   eval_every=eval_every, batch_size=batch_size, batch_keys=batch_keys,
                   amp=amp, reinit=reinit, seeds=seeds)
    if clip_grad_norm is not None and not (is_number(clip_grad_norm) and clip_grad_norm > 0):
        raise LrlabError(f"clip_grad_norm={clip_grad_norm!r} must be a finite norm > 0 "
                         "(e.g. 1.0), or None for no clipping")
    seed_list = _seed_list(seeds)
    params = _trainable(model)
    here = _device(params, device, amp)
    check_pairs(train_data, "train_data", loss_fn)
    check_pairs(val_data, "val_data", loss_fn)
    train = Batches(train_data, batch_size, train=True, name="train_data")
    val = None if val_data is None else Batches(val_data, batch_size, train=False, name="val_data")
    own = optimizer is None
    opt = torch.optim.SGD(params, lr=start) if own else optimizer
    base = _check_optimizer(opt, model)
    rules = rules_for(opt) if rules is None else rules
    setup = Setup(model, loss_fn, opt, base, lrs, train, val, eval_every, accumulate, smooth,
                  diverge, amp, here, None if batch_keys is None else tuple(batch_keys),
                  None if clip_grad_norm is None else float(clip_grad_norm))
    settings = {"mode": mode, "smooth": smooth, "rules": rules}
    if seed_list is None:
        with preserved(model, opt, here):
            check_val(setup)
            result = RangeTestResult.build(**run_once(setup), **settings)
    else:
        if val is not None:
            with preserved(model, opt, here):  # a forward can move a buffer (a call counter)
                check_val(setup)
        if vectorisable(setup, own):  # the K tests as one population
            result = _combine([RangeTestResult.build(**records, **settings)
                               for records in population_runs(setup, seed_list, reinit)],
                              seed_list, settings)
        else:  # a user's optimizer, data loader, accumulation...: one test after another
            result = _combine([_seeded_run(setup, seed, reinit, settings)
                               for seed in seed_list], seed_list, settings)
    if training_steps is None:
        return result
    return replace(result, training_steps=int(training_steps), momentum=heavy_ball(opt))


def _seeded_run(setup: Setup, seed: int, reinit: bool, settings: dict) -> RangeTestResult:
    """One run of a multi-seed test: from the saved state, seeded, restored afterwards."""
    with preserved(setup.model, setup.optimizer, setup.device):
        torch.random.default_generator.manual_seed(seed)
        if setup.device.type == "cuda":
            with torch.cuda.device(setup.device):
                torch.cuda.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed)
        if reinit:
            for module in setup.model.modules():
                reset = getattr(module, "reset_parameters", None)
                if callable(reset):
                    reset()
        return RangeTestResult.build(**run_once(setup), **settings)


def _median_rows(rows: list[np.ndarray | None], n: int) -> np.ndarray | None:
    """Per-step median of several runs' curves (nan where any run has nan), or None."""
    if any(row is None for row in rows):
        return None
    stack = np.stack([row[:n] for row in rows])
    out = np.full(n, np.nan)
    ok = np.isfinite(stack).all(axis=0)
    if ok.any():
        out[ok] = np.median(stack[:, ok], axis=0)
    return out


def _combine(runs: list[RangeTestResult], seeds: list[int], settings: dict) -> RangeTestResult:
    """The median curve of several runs, over the steps every run reached, with its readings."""
    n = min(len(run.lrs) for run in runs)
    losses = _median_rows([run.losses for run in runs], n)
    why = "; ".join(f"seed {seed}: {run.reason}" for seed, run in zip(seeds, runs))
    return RangeTestResult.build(
        runs[0].lrs[:n], losses, val_accuracy=_median_rows([r.val_accuracy for r in runs], n),
        val_loss=_median_rows([r.val_loss for r in runs], n),
        stopped_early=any(run.stopped_early for run in runs),
        reason=f"median of {len(runs)} runs over the {n} steps all reached ({why})",
        runs=tuple(runs), seeds=tuple(seeds), **settings)

"""The range test on a task: its model, its loss, its data, one seed's weights and order.

:func:`range_test` is what ``lrlab find`` and :func:`~lrlab.search.auto` run: it builds the
task's model from ``seed``, trains it with lrlab's own update rule (the one a population
would use, so the test and the populations agree) while the rate rises, and reads the curve
with :func:`~lrlab.search.find_lr`. Tensor data runs several seeds as one vectorised
population with plain SGD; a Dataset or DataLoader task feeds its batches as they come
(dict batches, own-loss models included).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from lrlab._checks import is_number, whole
from lrlab._errors import LrlabError
from lrlab._once import warn_once
from lrlab._rng import seeded_rng
from lrlab.data import ModelLoss
from lrlab.search._below import SPAN, Below, below
from lrlab.search._range_test import MAX_STEPS, Mode, find_lr, refuse_multiplier
from lrlab.search._readings import (
    ADAPTIVE_RULES,
    BOUNDED_RULES,
    DEFAULT_RULES,
    LOSS_RULES,
    MIN_POINTS,
    Reading,
    Rules,
    describe,
    heavy_ball,
    rules_for,
)
from lrlab.search._result import RangeTestResult, _diverged
from lrlab.search._steady import WINDOW, Steady, steady
from lrlab.search._suggest import NOISY, broke_at, dip, fell
from lrlab.tasks import Split, Task

if TYPE_CHECKING:
    from lrlab.train import Untrained

__all__ = ["prior_loss", "range_test", "task_rules"]

#: Rates a flat curve's stability check trains at most, half a decade apart from its reading
#: down (see :func:`_checked`).
TRIES = 3

#: A flat curve's reading that catapulted (:func:`~lrlab.search._steady.catapult`) is tried
#: this many times higher: halfway (in log rate) from the zoom's quarter of the break to half
#: of it. A catapult says the rate is stable once the first steps are past, not how close to
#: the break the network trains best: at half the break (2x) a 3 x 128 sigmoid network lost
#: 42 points and a GRU with a large output layer 12; at 1.41x, at most 3 (11 runs).
RAISE = 2 ** 0.5


def _loss(task: Task) -> Any:
    """The task's loss as ``find_lr`` takes it: a batch mean of ``(outputs, targets)``, the
    model's own (``None``) or a :func:`~lrlab.data.model_loss`."""
    if task.loss is None or isinstance(task.loss, ModelLoss):
        return task.loss

    def loss(outputs, targets):  # the per-sample loss over one member, averaged
        return task.loss(outputs.unsqueeze(0), targets).mean()
    return loss


def _data(task: Task, split: Any) -> Any:
    return (split.x, split.y) if isinstance(split, Split) else split


@warn_once()
def range_test(task: Task, *, optimizer: str = "sgd", hparams: Mapping[str, float] | None = None,
               seeds: int | Sequence[int] = 1, seed: int = 0, start: float = 1e-7, end: float = 10.0,
               steps: int = 100, mode: Mode = "exp", batch_size: int | None = None,
               validate: bool = True, extend: bool = False,
               steady: bool = True, device: str | None = None,
               full: Task | None = None, accumulate: int = 1,
               clip_grad_norm: float | None = None,
               untrained: Untrained | None = None) -> RangeTestResult:
    """Leslie Smith's range test on ``task`` (see :func:`~lrlab.search.find_lr`).

    Args:
        task: any task (tensors, or a Dataset / DataLoader).
        optimizer, hparams: lrlab's update rule and its hyperparameters (``"sgd"``,
            ``"momentum"``, ``"adam"``, ...).
        seeds: tests to run, read on their median: a count (seeds ``seed .. seed + seeds -
            1``) or the seeds themselves.
        seed: the initial weights (and, with one test, the data order).
        start, end, steps, mode: the rate ramp.
        batch_size: default: the task's (a DataLoader keeps its own).
        validate: also evaluate the validation data along the way (Smith's readings).
        extend: a second look when the curve cannot be read well (``mode="exp"``): when
            the loss diverged within the first tenth of the steps, run the test again from
            ``start / 1000`` with the same steps per decade; when it neither fell clearly,
            nor rose, nor diverged (no suggestion: the descent has not started), run it
            again up to ``1000 x end``; then, when it stayed flat and broke upwards or
            diverged at a rate ``B``, run it from ``B / 1000`` to ``min(end, 10 B)`` with
            twice the steps (the zoom): a clear descent there is read as any clear curve,
            unless it is a shallow dip back to the starting level
            (:func:`~lrlab.search._suggest.dip`); a zoom still without one that broke at
            ``B'`` gives ``B' / rules.flat`` (``B / rules.flat`` when it did not break up
            to ``B``), unless its loss is noisy (noise over
            :data:`~lrlab.search._suggest.NOISY` of its level): then the first test's
            reading stands. The result's ``first`` is the test before it, and its advice
            (:func:`~lrlab.search.next_step`) knows it.
        steady: with ``extend``, check a flat zoom's reading by training it for about a
            hundred steps, then, while the loss rose, the rate half a decade lower, up to
            three rates (:func:`~lrlab.search._steady.steady`; ``result.steady``): the first
            whose loss stayed within 5% of where it started is the suggestion (a tanh RNN's quarter
            of the break explodes; a GRU's or LSTM's trains). A reading whose loss catapulted
            (shot up in its first steps, then settled back and stayed:
            :func:`~lrlab.search._steady.catapult`) is tried at 1.41x the rate, and raised
            there when that catapults and settles too (deep sigmoid layers: best at a third
            to half of the break).
        device: where the tests train, as ``sweep``'s (``"cpu"``, ``"cuda"``, ``"cuda:N"``;
            default: CUDA when available, else the CPU); a device this machine lacks is one
            error line, before any step.
        full: the task the suggestion is for when ``task`` is part of it
            (``full.subset(...)``, ``lrlab find --subset``): the training whose length
            decides a short training's warning is ``full``'s, not the part's.
        accumulate: batches per optimizer step (gradient accumulation, as
            :func:`~lrlab.search.find_lr` takes them): the training it reads steps over
            ``accumulate`` batches, so its steps are that many times fewer, and a flat
            curve's stability check trains batches that many times larger.
        clip_grad_norm: clip the gradient to this global L2 norm before each step, as a
            sweep's ``clip_grad_norm`` (``torch.nn.utils.clip_grad_norm_``): the stability
            check clips too; ``None``: no clipping.
        untrained: ``task``'s untrained model from ``seed`` as a fit scores it
            (:func:`~lrlab.train.untrained`), where the caller has it (``auto``'s race
            scores it too): the classes' shares and the chance level are counted from it
            instead of from an evaluation of the validation set of the test's own.

    The result keeps the metric the task's rates are ranked by (``result.monitor``) and the
    length of the task's training (``result.training_steps``): on a task ranked by its loss
    (a regression), or one trained for fewer than
    :data:`~lrlab.search._result.SHORT` steps, its warnings name the suggestion, twice and
    four times it to train for the full epochs (:func:`~lrlab.search._result.loss_warning`,
    :func:`~lrlab.search._result.short_warning`; a short training under heavy-ball momentum ``m``:
    the suggestion times ``1 - m``, it and twice it, ``result.momentum``). With a validated
    accuracy it keeps what a model that learned nothing scores (``result.chance``): a clear
    reading on a training that, at the pace the test learned, ends far from done
    (``result.pace`` under :data:`~lrlab.search._result.SLOW`) names the same rates
    (:func:`~lrlab.search._result.slow_warning`).

    Example:
        >>> from lrlab.tasks import get_task
        >>> result = range_test(get_task("blobs"), steps=20, validate=False)
        >>> len(result.lrs) <= 20
        True
    """
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise LrlabError(f"seeds must be a count of at least 1, got {seeds!r}")
        seeds = list(range(seed, seed + seeds))
    seeds = list(seeds)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise LrlabError(f"seeds must be a count or a non-empty list of int seeds, got {seeds!r}")
    seed = seeds[0] if len(seeds) == 1 else seed
    from lrlab.train import resolve_device

    refuse_multiplier(optimizer)  # before any step: Prodigy's lr is no rate
    here = resolve_device(device)
    whole("accumulate", accumulate)
    if clip_grad_norm is not None and not (is_number(clip_grad_norm) and clip_grad_norm > 0):
        raise LrlabError(f"clip_grad_norm={clip_grad_norm!r} must be a finite norm > 0 "
                         "(e.g. 1.0), or None for no clipping")
    monitor, training, momentum, batch, scores = _check(task, optimizer, hparams, seed,
                                                        batch_size, full, accumulate)
    scored = ((lambda: untrained) if untrained is not None  # the caller's, or one of its own
              else functools.cache(functools.partial(_untrained, task, seed)))
    args = {"optimizer": optimizer, "hparams": hparams, "seeds": seeds, "seed": seed,
            "prior": _shares(task, seed, scored),
            "start": start, "mode": mode, "batch_size": batch_size, "validate": validate,
            "device": here, "accumulate": accumulate, "clip_grad_norm": clip_grad_norm,
            "rules": task_rules(optimizer, monitor), "scores": scores,
            "check_batch": (min(batch * accumulate, task.train_size or batch * accumulate)
                            if accumulate > 1 else batch_size)}
    result = _looks(task, args, end=end, steps=steps, extend=extend, steady=steady)
    if (extend and steady and rules_for(optimizer) is ADAPTIVE_RULES
            and math.isfinite(result.suggestion.lr)):
        result = _lowered(task, result, args, training)
    chance = _chance(task, seed, scored) if result.val_accuracy is not None else math.nan
    return replace(result, monitor=monitor, training_steps=training, momentum=momentum,
                   chance=chance)


def task_rules(optimizer: str, monitor: str | None) -> Rules:
    """The readings' rules of a range test on a task: :func:`~lrlab.search.rules_for` the
    update rule, except an adaptive rule on a task ranked by its loss (a regression), read
    nearer its bottom (:data:`~lrlab.search.LOSS_RULES`)."""
    rules = rules_for(optimizer)
    return LOSS_RULES if rules is ADAPTIVE_RULES and monitor == "loss" else rules


def _plain_cross_entropy(loss: Any) -> bool:
    """Whether a task's loss is plain cross-entropy: lrlab's own, or ``nn.CrossEntropyLoss``
    without class weights or label smoothing (whose loss at the classes' shares is no
    entropy of them)."""
    from lrlab.metrics import cross_entropy

    fn = getattr(loss, "fn", loss)  # a member loss wraps the user's
    if fn is cross_entropy:
        return True
    return (isinstance(fn, torch.nn.CrossEntropyLoss) and fn.weight is None
            and fn.label_smoothing == 0 and fn.reduction == "mean")


def _shares(task: Task, seed: int, scored: Callable[[], Untrained] | None = None
            ) -> tuple[float, int]:
    """:func:`prior_loss` and the number of classes ``K`` (``(nan, 0)``: none); ``scored``:
    the untrained model's evaluation when the caller has it (:func:`_untrained`)."""
    if not _plain_cross_entropy(task.loss):
        return math.nan, 0
    counts = np.array((scored or functools.partial(_untrained, task, seed))().labels.counts,
                      dtype=np.float64)
    if np.count_nonzero(counts) < 2:
        return math.nan, 0
    share = counts[counts > 0] / counts.sum()
    return float(-(share * np.log(share)).sum()), len(counts)


def prior_loss(task: Task, seed: int = 0) -> float:
    """The loss of a classifier that predicts only its classes' shares, under plain
    cross-entropy (:func:`_plain_cross_entropy`): the entropy of the class shares of the
    validation labels, ``-sum_c p_c ln p_c`` (``ln K`` for ``K`` balanced classes), padding
    left out as accuracy leaves it; ``nan`` for any other loss (a model's own, a weighted
    or smoothed one, a regression) or fewer than two classes.

    A range test whose loss falls only to there has learned how common the classes are (an
    output bias), not the inputs (:func:`~lrlab.search._readings.describe`; the range test
    reads it so where :func:`_near_uniform`).

    Example:
        >>> from lrlab.tasks import get_task
        >>> round(prior_loss(get_task("blobs")), 3)   # three classes, nearly balanced
        1.098
    """
    return _shares(task, seed)[0]


#: A range test is read against its classes' shares (:func:`prior_loss`) only where its
#: loss starts within this factor of the loss of uniform predictions, ``ln K``: the untrained
#: outputs are near uniform, so a fall to the shares' loss is the output bias learning them.
#: A loss that starts far above it (large first logits: the built-in blobs at 4.3 against
#: ln 3) falls first as those logits shrink, and a curve at the shares' loss may already
#: classify well. The new-user classifiers start at 1.0-1.1 x ln K (a ConvNeXt with layer
#: scale 1.06-1.09, a ViT 1.10), large-logit ones at 4-9x.
NEAR = 1.25


def against(result: RangeTestResult, prior: tuple[float, int]) -> RangeTestResult:
    """``result`` read against the loss of its classes' shares (``prior``: that loss and
    ``K``, :func:`_shares`) where its loss starts near uniform predictions
    (:func:`_near_uniform`); else as it is."""
    loss, classes = prior
    if math.isnan(loss) or not _near_uniform(result, classes):
        return result
    return result.after(None, loss)


def _near_uniform(result: RangeTestResult, classes: int) -> bool:
    """Whether a test's loss starts within :data:`NEAR` x ``ln K`` of uniform predictions and
    is not noisy (noise within :data:`~lrlab.search._suggest.NOISY` of its level: a noisy
    curve places its bottom to a factor 2-3 only)."""
    d = describe(result.lrs, result.losses, result.rules) if len(result.lrs) else None
    return (d is not None and classes >= 2 and d.level <= NEAR * math.log(classes)
            and d.noise <= NOISY * abs(d.level))


def _chance(task: Task, seed: int, scored: Callable[[], Untrained] | None = None) -> float:
    """The validation accuracy of a model that learned nothing: the untrained model's from
    ``seed``, or always answering the majority class when that is higher
    (:func:`~lrlab.search.chance_score`); ``nan`` when the task scores no accuracy."""
    from lrlab.search._confidence import chance_score

    model = (scored or functools.partial(_untrained, task, seed))()
    return chance_score("accuracy", model.metrics.get("accuracy", math.nan), model.labels)


def _untrained(task: Task, seed: int) -> Untrained:
    """:func:`~lrlab.train.untrained` on ``task`` as fit reads it
    (:func:`~lrlab.train.resolve_task`: a tensor task whose classes sit on the outputs' axis
    1, per token or pixel, is scored on the data path; unresolved, its evaluation refused
    the outputs' shape)."""
    from lrlab.train import resolve_task, untrained, validated

    config = validated(lrs=[1.0], epochs=1, seed=seed)
    return untrained(resolve_task(task, config, config.members()), seed)


def _looks(task: Task, args: dict[str, Any], *, end: float, steps: int, extend: bool,
           steady: bool) -> RangeTestResult:
    """The range test and, with ``extend``, its second looks (see :func:`range_test`)."""
    start, mode = args["start"], args["mode"]
    result = _once(task, end=end, steps=steps, **args)
    if not (extend and mode == "exp"):
        return result
    more = min(steps + round(3 * steps / math.log10(end / start)),  # 3 decades, same density
               MAX_STEPS)
    if (_diverged(result.stopped_early, result.reason)
            and len(result.lrs) < max(MIN_POINTS, steps // 10)):
        # diverged at once: the descent lies below the first rate
        start = args["start"] = start / 1000
        result = _once(task, end=end, steps=more, **args).after(result)
    elif math.isnan(result.suggestion.lr) and not result.stopped_early:
        result = _bounded(_once(task, end=end * 1000, steps=more, **args).after(result))
    broke = flat_break(result)
    if broke is None or broke / 1000 <= start:
        return result
    # A flat curve that broke: its only evidence is where it broke, read with a wide margin
    # (a tenth) because at the test's density that point is known to a factor of 2-3. A
    # network that needs more steps at each rate to show its descent (deep tanh layers)
    # shows it when the zoom spends twice the test's steps on the decades below the break.
    args["start"] = broke / 1000
    zoom = _once(task, end=min(float(result.lrs[-1]), 10 * broke),
                 steps=min(2 * steps, MAX_STEPS), **args).after(result)
    d = describe(zoom.lrs, zoom.losses, zoom.rules, zoom.prior) if len(zoom.lrs) else None
    if d is not None and d.clear and not dip(d, zoom.rules):
        return zoom
    # A second look at rates the first test found flat: a shallow descent that came back
    # to the starting level long before the break is a dip (three sigmoid layers: 3.3
    # noise units at 0.057, two decades below the rates that train, 55 points lost), and
    # the zoom is read as flat.
    i = None if d is None else broke_at(d, zoom.rules, _diverged(zoom.stopped_early, zoom.reason))
    quiet = d is not None and d.noise <= NOISY * abs(d.level)
    if quiet and (i is not None or zoom.lrs[-1] >= broke):
        # Still flat at four times the density (a fall within a few noise units is noise,
        # by the descent test's own bar): lower rates do nothing in a short run (a GRU, an
        # LSTM, deep sigmoid layers). The break is now sharp (seeds agree within ~30%), so
        # it is read much as a clear curve's turn-up is, with one step more margin
        # (rules.flat = margin + 1): the break for good (three noise units, to stay) comes
        # later than a clear curve's turn-up (5% of the drop). A zoom that did not break
        # up to where the first test broke confirms that break.
        k = zoom.rules.flat
        steps = f"a second test of {len(zoom.lrs)} steps from {zoom.lrs[0]:.3g}"
        if i is not None:
            again, where = float(zoom.lrs[i]), f"broke upwards at {zoom.lrs[i]:.3g} in {steps}"
            room = Reading(again, "where the loss broke upwards")
        else:
            again, where = broke, (f"did not break up to {zoom.lrs[-1]:.3g} in {steps}; the "
                                   f"first test broke at {broke:.3g}")
            room = Reading(again, "where the first test's loss broke upwards")
        why = (f"suggestion: the loss stayed flat (it {fell(d)}, {d.drop / d.noise:.1f}x its "
               f"noise {d.noise:.3g}, no descent that leads into the rise) and {where}, "
               f"/ {k:g}")
        lr, check = again / k, None
        if steady:  # how far below its break a network trains stably, no curve tells: try it
            lr, check, how = _checked(task, lr, args)
            why += how
        return replace(zoom, suggestion=Reading(lr, why + ": weak evidence"), steady=check,
                       broke=room)
    # a noisy curve (an MSE regression's batches) places its break to a factor 2-3 only:
    # the first test's reading (a tenth of its break, or its weak descent) stands
    return result


def _bounded(result: RangeTestResult) -> RangeTestResult:
    """A test run on to 1000x its end that fell clearly and reached that end without
    diverging, read with :data:`~lrlab.search._readings.BOUNDED_RULES` (halfway down its
    descent) under an SGD-like rule; any other test as it is."""
    if result.stopped_early or result.rules is not DEFAULT_RULES or not len(result.lrs):
        return result
    d = describe(result.lrs, result.losses, result.rules, result.prior)
    return result.after(result.first, rules=BOUNDED_RULES) if d is not None and d.clear \
        else result


def _check(task: Task, optimizer: str, hparams: Mapping[str, float] | None, seed: int,
           batch_size: int | None, full: Task | None = None, accumulate: int = 1
           ) -> tuple[str | None, int | None, float, int, bool]:
    """Refuse a task as a sweep would, before any step (:func:`~lrlab.train.check_fit`: the
    model and loss on a first batch; labels beyond the classes, a loss of the wrong shape,
    ...: one line each). Every random state is left as it was. Returns the metric a sweep
    would rank the task's rates by (a DataLoader task's read off its first batch) and the
    optimizer steps of the task's full training (``full``'s when given, each over
    ``accumulate`` batches; None when an epoch's length is unknown), the batch size and
    the rule's heavy-ball momentum (:func:`~lrlab.search._readings.heavy_ball`: ``"momentum"``,
    ``"nesterov"``; 0 for any other rule), and whether a sweep scores the task's classes (its
    accuracy; not a causal LM's logits against unshifted labels, nor an ordinal model's
    thresholds: :func:`~lrlab.train.resolve_task`'s reading of the first batch)."""
    from lrlab.train import check_fit, plan_run, resolve_task, validated

    extra: dict[str, Any] = {"hparams": dict(hparams)} if hparams else {}
    if batch_size is not None:
        extra["batch_size"] = batch_size
    config = validated(lrs=[1.0], epochs=1, optimizer=optimizer, seed=seed, **extra)
    members = config.members()
    resolved = resolve_task(task, config, members)
    check_fit(resolved, members, config)  # as fit checks it
    if full is not None:
        resolved = resolve_task(full, config, members)
    run = plan_run(resolved, config, members)
    per_epoch = run.steps_per_epoch and math.ceil(run.steps_per_epoch / accumulate)
    return (resolved.monitor, (per_epoch * resolved.epochs if per_epoch else None),
            heavy_ball(config.optimizer, hparams), run.batch_size,
            resolved.num_classes is not None)


def _training(args: dict[str, Any]) -> dict[str, Any]:
    """How a check after the test trains its rates: with the test's rule and settings, in
    batches of ``check_batch`` (:class:`~lrlab.search._steady.Training`, and the rule)."""
    return {"optimizer": args["optimizer"], "hparams": args["hparams"], "seed": args["seed"],
            "batch_size": args["check_batch"], "device": str(args["device"]),
            "clip_grad_norm": args["clip_grad_norm"]}


def _checked(task: Task, lr: float,
             args: dict[str, Any]) -> tuple[float, Steady | None, str]:
    """A flat curve's reading checked by training (:func:`~lrlab.search._steady.steady`):
    ``lr`` for :data:`~lrlab.search._steady.HORIZON` steps, then, while the last one's loss
    rose, the rate half a decade lower, up to :data:`TRIES` rates (one member each: most
    readings pass at once, so one population of all would cost more). The first stable one
    is the suggestion; none: half a decade below the last. A stable reading that catapulted
    is tried at :data:`RAISE` x, and that rate is the suggestion when it catapulted and
    settled too. Returns the rate, the check and a clause for the reason (``""`` when the
    data has no length: no check)."""
    opts = _training(args)
    check = None
    for i in range(TRIES):
        one = steady(task, [lr / 10 ** (i / 2)], **opts)
        if one is None:
            return lr, None, ""
        check = one if check is None else check.then(one)
        if one.stable[0]:
            break
    if len(check.lrs) == 1 and check.stable[0] and check.catapults[:1] == (True,):
        # The reading catapulted: its loss shot up in the first steps and settled back, the
        # network moving where the rate is stable (deep sigmoid layers, best at a third to
        # half of the break). RAISE x is tried; it stands if it does the same.
        up = steady(task, [lr * RAISE], **opts)
        if up is not None:
            check = replace(up, raised=True).then(check)
            each = f"; trained for {check.steps} steps each: "
            if check.stable[0]:
                return check.lrs[0], check, (
                    f"{each}{check.text()}: the reading's loss shot up in its first steps and "
                    f"settled back (a catapult), so {RAISE:.3g}x it was tried, and it settled too: "
                    f"{check.lrs[0]:.3g}")
            return lr, check, (f"{each}{check.text()}: the reading catapulted, {RAISE:.3g}x it "
                               f"did not catapult and settle the same way: {lr:.3g}")
    each = f"; trained for {check.steps} steps{' each' if len(check.lrs) > 1 else ''}: "
    if len(check.lrs) == 1:
        return lr, check, f"{each}{check.text()}"
    if math.isfinite(check.lr):
        return check.lr, check, f"{each}{check.text()}: the first stable one, {check.lr:.3g}"
    lowest = check.lrs[-1] / 10 ** 0.5
    return lowest, check, (f"{each}{check.text()}: none stayed stable, so half a decade "
                           f"below the last, {lowest:.3g}")


def _lowered(task: Task, result: RangeTestResult, args: dict[str, Any],
             training: int | None) -> RangeTestResult:
    """An adaptive rule's reading checked against lower rates (:func:`~lrlab.search._below.below`):
    the reading and half a decade below it trained for :data:`~lrlab.search._below.SPAN` steps
    (at most the task's own training); while the lower one ended lower by more than
    :data:`~lrlab.search._below.FASTER` of where the higher one started, the reading moves down
    to it and half a decade lower is trained, :data:`TRIES` rates at most. The result keeps
    the check (``below``); a reading moved down says why in its reason."""
    horizon = SPAN if training is None else min(SPAN, training)
    if horizon < 2 * WINDOW:  # too short to tell a start from an end
        return result
    opts = {**_training(args), "horizon": horizon}
    lr = result.suggestion.lr
    check: Below | None = below(task, [lr, lr / 10 ** 0.5], **opts)
    while check is not None and check.lr == check.lrs[-1] and len(check.lrs) < TRIES:
        more = below(task, [check.lrs[-1] / 10 ** 0.5], **opts)
        check = None if more is None else check.then(more)
    if check is None:
        return result
    if not check.lowered:
        return replace(result, below=check)
    why = (f"{result.suggestion.why}; trained for {check.steps} steps each: {check.text()}: "
           f"a lower rate trained faster, so the reading is past the fastest rate for "
           f"{check.steps} steps and too high for a longer training: {check.lr:.3g}")
    return replace(result, suggestion=Reading(check.lr, why), below=check)


def flat_break(result: RangeTestResult) -> float | None:
    """The rate where a curve without a clear descent broke upwards or diverged, or None
    (a clear descent, or a curve that never moved)."""
    d = describe(result.lrs, result.losses, result.rules, result.prior) if len(result.lrs) \
        else None
    if d is None or d.clear:
        return None
    i = broke_at(d, result.rules, _diverged(result.stopped_early, result.reason))
    return None if i is None else float(result.lrs[i])


def _once(task: Task, *, optimizer: str, hparams: Mapping[str, float] | None,
          seeds: list[int], seed: int, start: float, end: float, steps: int, mode: Mode,
          batch_size: int | None, validate: bool, device: torch.device, accumulate: int,
          clip_grad_norm: float | None, check_batch: int | None, rules: Rules,
          prior: tuple[float, int], scores: bool = True) -> RangeTestResult:
    """One test on ``task`` (:func:`find_lr` on its model, loss and data), read against
    ``prior``; without ``scores`` (a task whose classes a sweep does not score) its
    validation accuracy is dropped, as a sweep records none: ``find_lr`` scores any
    outputs that look like class scores, and Smith's readings would follow them."""
    from lrlab.optim import Optimizer, get_rule
    from lrlab.population import dense_gradients

    hparams = dict(hparams or {})
    keys = None if task.in_memory else (None, task.target_key)
    with seeded_rng(seed, device):  # weights, order, augmentations from seed, not chance
        # a sparse embedding trained dense, as the population trains it
        model = dense_gradients(task.init_model(seed).to(device), get_rule(optimizer))
        own_sgd = optimizer == "sgd" and not hparams  # vectorised seeds on tensors
        opt = None if own_sgd else Optimizer(model.parameters(), optimizer, lr=start, **hparams)
        result = find_lr(model, _loss(task), _data(task, task.train), optimizer=opt,
                         start=start, end=end, steps=steps, mode=mode,
                         val_data=_data(task, task.val) if validate else None,
                         batch_size=batch_size or task.batch_size, batch_keys=keys,
                         seeds=seeds if len(seeds) > 1 else None, device=device,
                         accumulate=accumulate, clip_grad_norm=clip_grad_norm, rules=rules)
    if not scores and result.val_accuracy is not None:
        result = replace(result, val_accuracy=None,
                         runs=tuple(replace(r, val_accuracy=None) for r in result.runs)
                         ).after(None)
    return against(result, prior)

"""What a range test returns: the curve, Smith's readings, lrlab's suggestion, the evidence."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lrlab.search._below import Below
from lrlab.search._findings import Finding, by_kind, kinds_of, one_advice, split_advice
from lrlab.search._readings import (
    BOUNDED_RULES,
    DEFAULT_RULES,
    CycleRange,
    Reading,
    Rules,
    describe,
    smith_readings,
)
from lrlab.search._smooth import Array, ema, trend
from lrlab.search._steady import Steady
from lrlab.search._suggest import (
    COMPARISONS,
    FIRM,
    NOISY,
    broke_at,
    deep,
    early_rise,
    fell,
    fell_back,
    next_step,
    ragged_bottom,
    rose_only,
    scatter,
    shallow,
    suggest,
    trend_bottom,
    turn_up,
)

__all__ = ["RangeTestResult"]

#: A training of fewer optimizer steps than this is short for the range test's reading
#: (:func:`short_warning`): the tasks its rules were calibrated on train 240-1280 steps.
SHORT = 200

#: A training that covers less than this share of the way from chance to a perfect validation
#: accuracy at the pace its range test learned (:attr:`RangeTestResult.pace`) ends still
#: learning: its best rate sits above the test's reading (:func:`slow_warning`). The clear
#: readings of both finder-quality tables' tasks measure 0.89-6 (a zoomed deep-tanh test the
#: lowest); an ``nn.Transformer`` seq2seq trained 200-400 steps 0.1-0.36.
SLOW = 0.5


def _diverged(stopped_early: bool, reason: str) -> bool:
    """Whether a test stopped because its loss diverged (not because the data ran out)."""
    return bool(stopped_early) and ("diverged" in reason or "the loss is" in reason)


def _advice(lrs: Array, losses: Array, rules: Rules, diverged: bool, reason: str,
            first: RangeTestResult | None, prior: float = math.nan) -> str:
    """:func:`next_step` of a curve, given the earlier test that made this one run."""
    earlier = float(first.lrs[0]) if first is not None and len(first.lrs) else None
    return next_step(lrs, losses, rules=rules, diverged=diverged, reason=reason,
                     earlier=earlier, prior=prior)


def _frozen(values) -> Array | None:
    if values is None:
        return None
    out = np.array(values, dtype=np.float64).reshape(-1)
    out.setflags(write=False)
    return out


#: Smith's readings use the validation accuracy when it was evaluated at least this often;
#: a sparser curve cannot show where it turns ragged (a flat stretch followed by a jump reads
#: as noise), so they fall back to the training loss, recorded at every step.
MIN_VAL_POINTS = 20


@dataclass(frozen=True, eq=False)
class RangeTestResult:
    """The curve of one learning-rate range test (or the median of several) and its readings.

    Attributes:
        lrs: the rate of each recorded step (the first param group's).
        losses: the raw training loss of each step (mean over its micro-batches).
        smoothed: the debiased EMA of ``losses`` (``smooth``), as the divergence stop saw it.
        val_accuracy: validation accuracy after each step (``nan`` where not evaluated), or
            None without ``val_data`` or when accuracy does not apply.
        val_loss: validation loss after each step (``nan`` where not evaluated), or None.
        stopped_early: whether the test stopped before ``end`` (divergence, nan, no data).
        reason: why the test stopped, one line.
        min_lr, max_lr, recommended, cycle: Smith's readings (see ``lrlab.search._readings``),
            off validation accuracy when there is one, else off the training loss.
        suggestion: lrlab's own rule (:func:`lrlab.search.suggest`) on the training loss.
        read_on: the curve Smith's readings were taken from.
        mode, smooth, rules: the settings the readings used.
        runs, seeds: the single runs behind a multi-seed result (else empty).
        first: the earlier test when :func:`~lrlab.search.range_test` (``extend=True``) ran
            this one as a second look (further up, lower down, or zoomed below a break).
        steady: the stability check behind a flat curve's suggestion
            (:class:`~lrlab.search._steady.Steady`: rates below the break trained for a
            hundred steps), or None when none ran.
        below: the check against lower rates behind an adaptive rule's suggestion
            (:class:`~lrlab.search._below.Below`: the reading and rates half a decade below it
            trained for two hundred steps, the reading lowered while a lower one ended
            lower), or None when none ran.
        broke: where a flat curve's suggestion was read from when it was not read off this
            curve's own shape (:func:`~lrlab.search.range_test` reads a shallow zoom that
            came back to its start as flat, from where it broke), or None.
        monitor: the metric a sweep ranks the task's rates by, when
            :func:`~lrlab.search.range_test` ran on a task (``"loss"``: :attr:`warnings`
            says how to use the suggestion, :func:`loss_warning`); None from
            :func:`~lrlab.search.find_lr`.
        training_steps: the optimizer steps of the task's full training, when
            :func:`~lrlab.search.range_test` ran on a task whose epochs have a length (under
            :data:`SHORT`: :attr:`warnings` says how to use the suggestion, :func:`short_warning`);
            else None.
        momentum: the heavy-ball momentum of the rule the test ran (``"momentum"``,
            ``"nesterov"``; 0 for any other), when :func:`~lrlab.search.range_test` ran on a
            task: a short training's warning names lower rates under it (:func:`short_warning`).
        chance: the validation accuracy of a model that learned nothing (the untrained
            model's, or always answering the majority class when that is higher), when
            :func:`~lrlab.search.range_test` validated a classifier; else ``nan``
            (:attr:`pace`).
        prior: the loss of predicting the classes' shares, when
            :func:`~lrlab.search.range_test` ran a classifier under plain cross-entropy
            (:func:`~lrlab.search._task_range.prior_loss`); else ``nan``. A descent that does
            not fall clearly below it is read as flat there
            (:func:`~lrlab.search._readings.describe`).
    """

    lrs: Array
    losses: Array
    smoothed: Array
    val_accuracy: Array | None
    val_loss: Array | None
    stopped_early: bool
    reason: str
    min_lr: Reading
    max_lr: Reading
    recommended: Reading
    cycle: CycleRange
    suggestion: Reading
    read_on: str
    mode: str = "exp"
    smooth: float = 0.98
    rules: Rules = field(default=DEFAULT_RULES, repr=False)
    runs: tuple[RangeTestResult, ...] = field(default=(), repr=False)
    seeds: tuple[int, ...] = ()
    first: RangeTestResult | None = field(default=None, repr=False)
    steady: Steady | None = field(default=None, repr=False)
    below: Below | None = field(default=None, repr=False)
    broke: Reading | None = field(default=None, repr=False)
    monitor: str | None = field(default=None, repr=False)
    training_steps: int | None = field(default=None, repr=False)
    momentum: float = field(default=0.0, repr=False)
    chance: float = field(default=math.nan, repr=False)
    prior: float = field(default=math.nan, repr=False)

    @classmethod
    def build(cls, lrs, losses, *, val_accuracy=None, val_loss=None, stopped_early=False,
              reason="", mode="exp", smooth=0.98, rules: Rules = DEFAULT_RULES,
              runs: tuple = (), seeds: tuple = (),
              first: RangeTestResult | None = None, prior: float = math.nan) -> RangeTestResult:
        """Take the readings of a recorded curve and freeze it into a result.

        Every reading that cannot be read names the same next step (:meth:`advice`).
        """
        lrs, losses = _frozen(lrs), _frozen(losses)
        acc = _frozen(val_accuracy)
        finite = np.isfinite(acc) if acc is not None else None
        diverged = _diverged(stopped_early, reason)
        advice = _advice(lrs, losses, rules, diverged, reason, first, prior)
        if acc is not None and finite.sum() >= MIN_VAL_POINTS:
            read_on = "validation accuracy"
            d = describe(lrs, losses, rules, prior) if len(lrs) else None
            clear = d is not None and d.clear  # then the loss is read, not the accuracy
            smith = smith_readings(lrs[finite], acc[finite], higher_is_better=True,
                                   what=read_on, rules=rules,
                                   advice=("the training loss fell clearly: read lrlab's "
                                           "suggestion" if clear else advice))
        else:
            read_on = "training loss"
            smith = smith_readings(lrs, losses, what="loss", rules=rules, advice=advice)
        suggestion = suggest(lrs, losses, rules=rules, diverged=diverged, advice=advice,
                             prior=prior)
        return cls(lrs, losses, _frozen(ema(losses, smooth)), acc, _frozen(val_loss),
                   stopped_early, reason, *smith, suggestion, read_on, mode, smooth, rules,
                   tuple(runs), tuple(seeds), first, prior=prior)

    def after(self, first: RangeTestResult | None, prior: float | None = None,
              rules: Rules | None = None) -> RangeTestResult:
        """This curve read again as the second look after ``first`` (its advice knows it;
        None: no earlier test), against ``prior`` and with ``rules`` (default: its own
        :attr:`prior` and :attr:`rules`)."""
        return RangeTestResult.build(
            self.lrs, self.losses, val_accuracy=self.val_accuracy, val_loss=self.val_loss,
            stopped_early=self.stopped_early, reason=self.reason, mode=self.mode,
            smooth=self.smooth, rules=self.rules if rules is None else rules, runs=self.runs,
            seeds=self.seeds, first=first, prior=self.prior if prior is None else prior)

    @property
    def advice(self) -> str:
        """What to do so that this test reads better, one line (``""``: nothing); see
        :func:`~lrlab.search.next_step`. It takes the earlier test into account
        (:attr:`first`): a range already run further is not widened again."""
        return _advice(self.lrs, self.losses, self.rules,
                       _diverged(self.stopped_early, self.reason), self.reason, self.first,
                       self.prior)

    def __repr__(self) -> str:
        span = f"{self.lrs[0]:.3g}..{self.lrs[-1]:.3g}" if len(self.lrs) else "empty"
        return (f"RangeTestResult(steps={len(self.lrs)}, lrs={span}, stopped_early="
                f"{self.stopped_early}, suggestion={self.suggestion.lr:.3g}, "
                f"max_lr={self.max_lr.lr:.3g}, min_lr={self.min_lr.lr:.3g})")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        """One line per weakness of the evidence behind the suggestion (:meth:`_lines`), each
        its fact alone where two or more said what to do (:attr:`next_step` says it once)."""
        return one_advice(self._lines(), _find_rank, it="the suggestion")[0]

    @property
    def next_step(self) -> str:
        """Where two or more of :attr:`warnings` each said what to do, the one thing to do:
        the advice of the first by :func:`_find_rank`; ``""`` otherwise (none advises, or the
        one that does says it)."""
        return one_advice(self._lines(), _find_rank, it="the suggestion")[1]

    def said(self) -> tuple[str, ...]:
        """:attr:`warnings`, then ``"next: "`` and :attr:`next_step` where there is one: the
        lines a caller prints."""
        step = self.next_step
        return (*self.warnings, *((f"next: {step}",) if step else ()))

    def _lines(self) -> tuple[Finding, ...]:
        """One line per weakness of the evidence behind the suggestion (empty: none), each a
        :class:`~lrlab.search.Finding` (its ``kind``: :attr:`kinds`):
        no clear descent, a descent that starts at the first rates or still runs at the
        last, a dip read as flat (:attr:`broke`: the suggestion read from where the loss
        broke), a shallow or noisy one (:func:`~lrlab.search._suggest.shallow`,
        :data:`~lrlab.search._suggest.NOISY`), a zoom run because the first test's loss
        fell only to the loss of the classes' shares (:attr:`prior`), a loss that rose above
        its starting level and fell again later (:func:`~lrlab.search._suggest.early_rise`),
        several seeds whose own suggestions disagree by more than a decade, a flat curve's
        reading that was unstable when trained, or raised because it catapulted
        (:attr:`steady`), and under an SGD-like rule that such a curve's rate may be the
        seed's luck (:data:`PLATEAU`); and on a task ranked by its loss or trained for few steps, what
        to train (:func:`loss_warning`, :func:`short_warning`), and on a clear reading whose
        training ends still learning at the test's pace (:func:`slow_warning`)."""
        out = []
        d = describe(self.lrs, self.losses, self.rules, self.prior) if len(self.lrs) else None
        advice = self.advice
        if d is None:
            return (Finding(f"too few steps to read the curve: {advice}", "too_few_steps"),)
        if not d.clear:
            out.append(Finding(f"no clear descent: the loss {fell(d)}, within "
                               f"{self.rules.clear:g}x its noise ({d.noise:.3g})"
                               + (f"; {advice}" if advice else ""), "no_clear_descent"))
        elif advice:
            out.append(Finding(advice, "next_step"))
        rose = early_rise(d, self.rules)
        first = self.first
        shares = (describe(first.lrs, first.losses, first.rules, first.prior)
                  if first is not None and len(first.lrs) else None)
        if shares is not None and math.isfinite(shares.prior):
            # the zoom of range_test(extend=True) below a first test that learned the shares
            out.append(Finding(
                f"the first test's loss fell only to {shares.prior:.3g}, the loss of "
                "predicting each class's share (it learned how common the classes are, not "
                f"the inputs), so a denser test from {self.lrs[0]:.3g} was read: a rate the "
                "first test placed nowhere; check the suggestion against rates trained for "
                "epochs (lrlab auto)", "class_shares"))
        if self.rules is BOUNDED_RULES:
            out.append(Finding(
                f"the loss never blew up, up to {self.lrs[-1]:.3g} (a bounded loss, such as "
                "a sigmoid's outputs under MSE): it fell to a floor and kept it, so no edge "
                "gives a margin and the floor's lowest point is noise; the suggestion is "
                "halfway down the descent, where it falls fastest: check it against rates "
                "trained for epochs (lrlab auto)", "bounded_loss"))
        if d.clear and self.broke is not None:
            # a zoom read as flat (range_test: a dip, back at its start before it broke): its
            # suggestion is no reading of this descent, so the line says what it is read from
            out.append(Finding(f"no descent to read: the loss dipped by {d.drop:.3g} "
                               f"({d.drop / d.noise:.1f}x its noise) and came back to its "
                               "starting level before it broke, so the suggestion is read "
                               f"from {self.broke.why} ({self.broke.lr:.3g}): weak "
                               "evidence; check it against rates trained for epochs "
                               "(lrlab auto)", "dip_read_flat"))
        elif rose is not None:
            out.append(Finding(
                f"the loss rose above its starting level at {self.lrs[rose]:.3g} and fell "
                f"again at higher rates (to its lowest at {self.lrs[d.best]:.3g}): a fall "
                "that comes only after many steps is the steps' doing, so the suggestion "
                f"reads the descent below {self.lrs[rose]:.3g}; to see how rates train for "
                "epochs, run lrlab auto", "early_rise"))
        elif (back := fell_back(d, self.rules)) is not None:
            low = trend_bottom(self.lrs[:back], self.losses[:back], rules=self.rules)
            out.append(Finding(
                f"the loss fell to its low at {low:.3g}, rose past it from "
                f"{self.lrs[back]:.3g} and fell back to about it at higher rates (to "
                f"{self.lrs[d.best]:.3g}): a network whose outputs do not change with its "
                "weights' scale (normalised features or weights, layers before a "
                "normalisation) falls so, each step growing the weights and moving it less; "
                "that later fall says nothing about a rate, so the suggestion reads the "
                f"descent below {self.lrs[back]:.3g}, and such a network may train best well "
                f"below it: train rates from {self.suggestion.lr / 100:.3g} up to "
                f"{self.suggestion.lr:.3g} for the full epochs (lrlab auto)", "fell_back"))
        elif shallow(d, self.rules) and not deep(d, self.rules):
            out.append(Finding(
                f"a shallow descent for its noise: the loss fell by {d.drop:.3g}, "
                f"{d.drop / d.noise:.1f}x its noise (clear from {self.rules.clear:g}x, firm "
                f"from {FIRM * self.rules.clear:g}x): too little to place a rate firmly; check "
                "the suggestion against rates trained for epochs (lrlab auto)",
                "shallow_descent"))
        elif d.clear and d.noise > NOISY * abs(d.level):
            out.append(Finding(
                f"a noisy loss: its noise ({d.noise:.3g}) is {d.noise / abs(d.level):.0%} of "
                "its starting level, so the descent's bottom and turn are placed to a factor "
                "2-3 only: check the suggestion against rates trained for epochs (lrlab auto)",
                "noisy_loss"))
        if ragged_bottom(d, self.rules):
            out.append(Finding(
                f"a ragged bottom: the loss scatters by {scatter(d, self.rules):.3g} about its "
                f"trend where it bottoms out ({self.lrs[d.best]:.3g}), more than the "
                f"{d.drop:.3g} it fell (each step's loss is one batch's; a small batch "
                "scatters it), so the bottom and the suggestion read from it are placed by "
                "chance: check the suggestion against rates trained for epochs (lrlab auto), "
                "or run the test with larger batches", "ragged_bottom"))
        check = self.steady
        if check is not None and check.raised and check.stable[0]:
            out.append(Finding(
                f"the flat curve's reading, {check.lrs[1]:.3g}, catapulted when trained for "
                f"{check.steps} steps (its loss shot up in the first steps and settled back), "
                f"and so did {check.lrs[0]:.3g}, the suggestion: how close below its break a "
                "network trains best, a short training does not tell; check it against rates "
                "trained for epochs (lrlab auto)", "catapult_raised"))
        elif check is not None and len(check.lrs) > 1 and not check.raised:
            what = (f"the first that stayed stable, {check.lr:.3g}" if math.isfinite(check.lr)
                    else "below the last tried, none of which stayed stable")
            rose = (f"its loss rose {check.rises[0]:.0%} above its start"
                    if math.isfinite(check.rises[0]) else "it diverged")
            out.append(Finding(
                f"the flat curve's reading, {check.lrs[0]:.3g}, was unstable when trained for "
                f"{check.steps} steps ({rose}), so the suggestion is {what}: a rate stable for "
                f"{check.steps} steps is not known to train best; check it against rates "
                "trained for epochs (lrlab auto)", "unstable_reading"))
        if check is not None and self.rules == DEFAULT_RULES:
            # a rise that never blew up may be a spike a training recovers from: the rates
            # to train reach past the break (see the advice)
            rose = rose_only(d, self.rules, _diverged(self.stopped_early, self.reason))
            out.append(Finding(PLATEAU.format(ROSE_ONLY if rose else BELOW), "plateau"))
        if self.to_try and self.monitor == "loss":
            out.append(Finding(loss_warning(self.suggestion.lr), "ranked_by_loss"))
        elif self.to_try and self._short:
            out.append(Finding(short_warning(self.suggestion.lr, self.training_steps,
                                             self.momentum), "short_training"))
        elif self.to_try and self._slow:
            out.append(Finding(slow_warning(self.suggestion.lr, self.pace, self.training_steps,
                                            self.momentum), "slow_learner"))
        elif self.to_try:
            out.append(Finding(momentum_warning(self.suggestion.lr, self.momentum),
                               "heavy_ball"))
        own = [run.suggestion.lr for run in self.runs if math.isfinite(run.suggestion.lr)]
        if len(own) > 1 and max(own) / min(own) > 10:
            out.append(Finding(f"the seeds' own suggestions span {min(own):.3g}.."
                               f"{max(own):.3g}, more than a decade", "seeds_disagree"))
        return tuple(out)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kind of each of :attr:`warnings` (a key of :data:`~lrlab.search.KINDS`), in
        order: what a program reads, the text being for people.

        Example:
            >>> r = RangeTestResult.build(np.geomspace(1e-4, 1.0, 50), np.ones(50))
            >>> r.kinds
            ('no_clear_descent',)
        """
        return kinds_of(self.warnings)

    @property
    def to_try(self) -> tuple[float, ...]:
        """The rates to train for the full epochs and compare, where the suggestion alone is
        known to sit low (:attr:`warnings` says why): on a task ranked by its loss, one
        trained for fewer than :data:`SHORT` optimizer steps, or a clear reading whose
        training paces under :data:`SLOW` (:attr:`pace`), or any task's training under
        heavy-ball momentum (:func:`momentum_warning`; :func:`rates_to_try`); empty
        otherwise, and without a suggestion or a task (:func:`~lrlab.search.find_lr`).

        Example:
            >>> r = RangeTestResult.build(np.geomspace(1e-4, 1.0, 50), np.ones(50))
            >>> r.to_try
            ()
        """
        lr = self.suggestion.lr
        if not math.isfinite(lr):
            return ()
        if self.monitor == "loss":
            return rates_to_try(lr)
        if self._short or self._slow or (self.momentum > 0 and self.training_steps is not None):
            return rates_to_try(lr, self.momentum)
        return ()

    @property
    def _short(self) -> bool:
        return self.training_steps is not None and self.training_steps < SHORT

    @property
    def _slow(self) -> bool:
        """A clear reading (no flat curve's) whose training covers under :data:`SLOW` of
        the way to a perfect accuracy at the test's pace."""
        if not self.pace < SLOW or self.broke is not None:
            return False
        d = describe(self.lrs, self.losses, self.rules, self.prior) if len(self.lrs) else None
        return d is not None and bool(d.clear)

    @property
    def pace(self) -> float:
        """The share of the way from chance to a perfect validation accuracy that the task's
        full training covers at the pace its range test learned: the test's best validation
        accuracy ``a`` over :attr:`chance` ``c``, per step of the test, times the training's
        optimizer steps ``T``:

            ``pace = (a - c) / (1 - c) * T / len(lrs)``

        ``a`` counts the steps up to the reading's :attr:`headroom` (where the loss turns
        up; all of them when it never does): the reading says the rates above it do not
        train stably, so what the test's accuracy did there is no pace of a training below
        it. (A bag-of-embeddings text classifier whose loss fell only to the loss of its
        classes' shares, 0.69 to 0.60 for a 70/30 split, sat at chance, 0.70, up to its turn
        and touched 0.75 once past it: counted there, pace 0.53 and no warning, and its
        suggestion lost 7.3 points.)

        ``nan`` without a validated accuracy, a chance or a training length. A rough
        measure (the test learns mostly in its last steps, at its highest rates), but the
        budget's share matters: under :data:`SLOW` the training ends still learning, and
        the rate that gets furthest in it sits above the test's reading
        (:func:`slow_warning`).

        Example:
            >>> import dataclasses
            >>> lrs = np.geomspace(1e-5, 10.0, 100)
            >>> r = RangeTestResult.build(lrs, np.abs(np.log10(lrs)),
            ...                           val_accuracy=np.linspace(0.1, 0.19, 100))
            >>> r = dataclasses.replace(r, chance=0.1, training_steps=200)
            >>> round(r.headroom.lr, 2), round(r.pace, 2)   # 0.181 at 2.48: (0.181 - 0.1) / 0.9 * 2
            (2.48, 0.18)
        """
        acc = self.val_accuracy
        if (acc is None or not np.isfinite(acc).any() or not math.isfinite(self.chance)
                or self.training_steps is None or not len(self.lrs) or self.chance >= 1):
            return math.nan
        up = self.headroom.lr
        if math.isfinite(up):
            acc = acc[self.lrs <= up]
        if not np.isfinite(acc).any():  # no evaluation up to the turn
            return math.nan
        share = (float(np.nanmax(acc)) - self.chance) / (1 - self.chance)
        return share * self.training_steps / len(self.lrs)

    @property
    def headroom(self) -> Reading:
        """Where the suggestion's margin is measured from: the rate where the loss trend turns
        up (a clear descent), or where a flat curve broke upwards or the test diverged;
        ``nan`` when the curve never rose (the why says which).

        Example:
            >>> lrs = np.geomspace(1e-5, 10.0, 61)
            >>> r = RangeTestResult.build(lrs, np.abs(np.log10(lrs)))
            >>> 1.0 < r.headroom.lr < 4.0 and r.headroom.lr / r.suggestion.lr >= 3
            True
        """
        if self.broke is not None:  # a flat curve's reading, not this curve's shape
            return self.broke
        d = describe(self.lrs, self.losses, self.rules, self.prior) if len(self.lrs) else None
        if d is None:
            return Reading(math.nan, "too few steps to read the curve")
        if d.clear and early_rise(d, self.rules) is not None:
            return Reading(float(self.lrs[early_rise(d, self.rules)]),
                           "where the loss first rose above its starting level")
        if (back := fell_back(d, self.rules)) is not None:
            return Reading(float(self.lrs[back]), "where the loss rose past its low before "
                           "it fell back to about it")
        if d.clear:
            i = turn_up(d, self.rules)
            if i == len(self.lrs) - 1 and not self.stopped_early:
                return Reading(math.nan, "the loss never turned up: the test ended first")
            return Reading(float(self.lrs[i]), "where the loss turns up")
        i = broke_at(d, self.rules, _diverged(self.stopped_early, self.reason))
        if i is None:
            return Reading(math.nan, "the loss never rose")
        return Reading(float(self.lrs[i]), "where the loss broke upwards")

    def comparisons(self) -> dict[str, Reading]:
        """The popular tools' rules (valley, steepest, min_div10) on this curve, as those
        tools read it; on a curve with no clear descent each reason says its rate was read
        off noise (the tools would print it all the same)."""
        if len(self.lrs) == 0:
            return {name: Reading(math.nan, f"{name}: no points") for name in COMPARISONS}
        readings = {name: rule(self.lrs, self.losses, smooth=self.smooth)
                    for name, rule in COMPARISONS.items()}
        d = describe(self.lrs, self.losses, self.rules, self.prior)
        if d is not None and not d.clear:
            readings = {name: r if not math.isfinite(r.lr) else Reading(
                r.lr, f"{r.why}; read off noise: the curve has no clear descent")
                for name, r in readings.items()}
        return readings

    def suggestions(self) -> dict[str, Reading]:
        """Every reading by name: Smith's, the cycle's lower bound, lrlab's, the tools'."""
        return {
            "min_lr": self.min_lr, "max_lr": self.max_lr, "recommended": self.recommended,
            "cycle_lower": Reading(self.cycle.lower, self.cycle.why),
            "suggestion": self.suggestion, **self.comparisons(),
        }

    def explain(self) -> str:
        """A few lines: how the test went, then each reading with its rate and reason."""
        span = (f"{len(self.lrs)} steps, lr {self.lrs[0]:.3g} to {self.lrs[-1]:.3g} ({self.mode})"
                if len(self.lrs) else "no steps recorded")
        lines = [f"Range test: {span}; {self.reason}",
                 f"Smith's readings are taken from the {self.read_on}."]
        if self.runs:
            each = [run.suggestion.lr for run in self.runs]
            lines.append(f"Median of {len(self.runs)} runs (seeds {list(self.seeds)}); "
                         f"their own suggestions span {np.nanmin(each):.3g}..{np.nanmax(each):.3g}"
                         if np.isfinite(each).any() else
                         f"Median of {len(self.runs)} runs (seeds {list(self.seeds)}).")
        for name, reading in self.suggestions().items():
            lines.append(f"  {name:<12} {reading.lr:<10.3g} {reading.why}")
        c = self.cycle
        lines.append(f"  {'cycle':<12} {c.lower:.3g}..{c.upper:.3g}  {c.why}")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """The curve as a DataFrame indexed by step: lr, loss, smoothed, trend, val columns.

        ``trend`` is the zero-phase robust trend lrlab's readings use.
        """
        frame = pd.DataFrame({"lr": self.lrs, "loss": self.losses, "smoothed": self.smoothed,
                              "trend": trend(self.losses, window=self.rules.window)})
        if self.val_loss is not None:
            frame["val_loss"] = self.val_loss
        if self.val_accuracy is not None:
            frame["val_accuracy"] = self.val_accuracy
        frame.index.name = "step"
        return frame

    def band(self) -> pd.DataFrame:
        """Per step, the lowest, median and highest smoothed loss across the runs.

        For a single run the three columns equal ``smoothed``. Steps are those every run
        reached.
        """
        runs = self.runs or (self,)
        n = min(len(run.lrs) for run in runs)
        curves = np.stack([run.smoothed[:n] for run in runs]) if n else np.zeros((len(runs), 0))
        frame = pd.DataFrame({"lr": self.lrs[:n], "low": curves.min(axis=0),
                              "median": np.median(curves, axis=0), "high": curves.max(axis=0)})
        frame.index.name = "step"
        return frame


#: The widest step between two rates :func:`rates_to_try` names below a suggestion under
#: heavy-ball momentum: half a decade (a decade between ``lr (1 - m)`` and ``lr`` at
#: ``m = 0.9`` left the best rates of two models tried unnamed, see :func:`momentum_warning`).
GAP = math.sqrt(10.0)


def rates_to_try(lr: float, momentum: float = 0.0) -> tuple[float, ...]:
    """The rates to train for the full epochs around a suggestion ``lr`` that is known to
    sit low: ``lr``, ``2 lr`` and ``4 lr``; under heavy-ball momentum ``0 < m < 1``, from
    ``lr (1 - m)`` up to ``lr`` in even steps of at most :data:`GAP` (half a decade), then
    ``2 lr``: ``lr (1 - m)``, ``lr`` and ``2 lr`` up to ``m = 1 - 1/sqrt(10)`` (0.68), four
    rates at ``m = 0.9`` (:func:`loss_warning`, :func:`short_warning`,
    :func:`momentum_warning` say why).

    Example:
        >>> rates_to_try(0.01)
        (0.01, 0.02, 0.04)
        >>> [round(v, 6) for v in rates_to_try(0.1, momentum=0.5)]
        [0.05, 0.1, 0.2]
        >>> [round(v, 6) for v in rates_to_try(0.1, momentum=0.9)]
        [0.01, 0.031623, 0.1, 0.2]
    """
    if momentum <= 0:
        return (lr, 2 * lr, 4 * lr)
    low = lr * (1 - momentum)
    # steps of equal ratio, the fewest that keep each within GAP (a hair of slack: 0.9's
    # decade is two steps, not three)
    steps = max(1, math.ceil(math.log(lr / low) / math.log(GAP) - 1e-9))
    return (*(low * (lr / low) ** (k / steps) for k in range(steps)), lr, 2 * lr)


def _listed(rates: tuple[float, ...]) -> str:
    """``0.01, 0.02 and 0.04``: rates as a warning names them."""
    said = [f"{lr:.3g}" for lr in rates]
    return f"{', '.join(said[:-1])} and {said[-1]}"


#: The warning of a flat curve's reading checked by training under an SGD-like rule
#: (:attr:`RangeTestResult.steady`: a quiet zoom that stayed flat until it broke). The
#: finder-quality LSTM with SGD, 10 seeds each (``benchmarks/seed_lottery.py lstm``): every
#: rate from 0.56 to 1.8 scored 100% on some seeds and 34-81% (chance 34%) on others; with
#: Adam the oracle reached 100% on all 5 of the table's seeds; the GRU and the deep sigmoid
#: layers, both flat under SGD, also train further with Adam (0.98-0.99 against 0.87-0.90,
#: 0.86 against 0.65-0.83).
PLATEAU = ("flat until it broke under an SGD-like rule: often a net waiting on a plateau (a "
           "recurrent memory, saturated units), where which rate leaves it in a full "
           "training can be the seed's luck; train {} from two seeds, or try an adaptive "
           "rule (optimizer='adam'), which often leaves such a plateau where SGD waits")
#: Whose advice :attr:`RangeTestResult.next_step` keeps when several lines advise, first
#: first: a curve that fell back after a rise (a scale-invariant network: rates down to a
#: hundredth of the suggestion; the rates above it, which a short or heavy-ball training's
#: line names, are the way its range test misleads, :func:`fell_back`); a flat curve under
#: an SGD-like rule (the rates below its break from two seeds, or
#: an adaptive rule: measured on a small LSTM, :data:`PLATEAU`); the rates to train for the
#: full epochs (:attr:`RangeTestResult.to_try`: a loss, a short or slow training, heavy-ball
#: momentum; measured as the finder-quality tables' best-of-find's-rates column,
#: docs/benchmarks.md) over the generic check against rates trained for epochs; then the
#: rest, in order (advice to run the test again comes before them all: :func:`_find_rank`).
FIND_ORDER = ("fell_back", "plateau", "ranked_by_loss", "short_training", "slow_learner",
              "heavy_ball")


def _find_rank(line: str) -> int:
    """A line's place for :attr:`RangeTestResult.next_step`: advice to run the test again
    (start lower, end higher, run it further: the reading itself is incomplete, and the rates
    named are read from it) first, then :data:`FIND_ORDER`, then the rest."""
    if split_advice(line)[1].startswith(("start lower", "end higher", "run the test")):
        return -1
    return by_kind(FIND_ORDER)(line)
#: the rates :data:`PLATEAU` says to train: below the break, or past it where the loss rose
#: but never blew up (:func:`~lrlab.search._suggest.rose_only`: a spike a training may
#: recover from)
BELOW, ROSE_ONLY = ("the rates below the break",
                    "rates from below the break up to where the loss blows up")


def loss_warning(lr: float) -> str:
    """The warning for a suggestion on a task ranked by its loss (an MSE regression): train
    ``lr``, ``2 lr`` and ``4 lr`` for the full epochs and keep the lowest validation loss.

    Why: a loss keeps falling through a training, so the rate that ends lowest after the
    full epochs often sits above a short test's reading, and a little higher the loss blows
    up (a regression trains best close below its stability edge). On the 20 regression runs
    of ``benchmarks/finder_quality.py`` (Friedman's and a wide noisy regression, SGD and
    Adam, 5 seeds each) a 16-rate grid's best rate lay above the suggestion on 17 (1.2-13x)
    and the suggestion left 11% more validation loss than that best on average, 30% at
    worst, over 5% on 14 runs; no feature of the curves told those runs apart from the
    others, and no single higher rate serves them all (twice the suggestion left 154% on
    one, 57% and 98% on two others). The best of the three trained for the full epochs left
    0.5% on average, 19% at worst, over 5% on 4 runs; so it did on scratch regressions of
    other shapes (``docs/benchmarks.md``). Since Adam's reading there moved to the bottom / 2
    (:data:`~lrlab.search.LOSS_RULES`) the suggestion alone leaves 8.7% on average, 30% at
    worst (10 runs over 5%), the best of the three 0.0% and 18% (3 runs;
    ``benchmarks/loss_reading.py --tables``).

    Example:
        >>> loss_warning(0.01).split(": ")[1]
        'train 0.01, 0.02 and 0.04 for the full epochs and keep the lowest validation loss'
    """
    return (f"ranked by a loss: train {_listed(rates_to_try(lr))} for the full "
            "epochs and keep the lowest validation loss: a loss keeps falling through a "
            "training, so the best rate of a task ranked by its loss (a regression, a "
            "multi-label model) often sits above a short test's reading, "
            "close below where its loss blows up")


def short_warning(lr: float, steps: int, momentum: float = 0.0) -> str:
    """The warning for a suggestion on a task trained for fewer than :data:`SHORT` optimizer
    steps: train ``lr``, ``2 lr`` and ``4 lr`` for the full epochs and keep the best; under
    heavy-ball momentum ``m`` (``momentum > 0``), ``lr (1 - m)`` up to ``lr`` in steps of at
    most half a decade, and ``2 lr`` (:func:`rates_to_try`).

    Why: a short training rewards the rate that gets furthest in its few steps, and that
    sits above what a range test reads; the rules were calibrated on trainings of 240-1280
    steps. On the 12 classification tasks of ``benchmarks/new_user.py`` that train 30-141
    steps (DataLoader CNNs, MLPs, an ``nn.LSTM``; SGD, momentum and Adam) an 8-rate grid's
    best lay at least 1.4x above the suggestion on 9, and the suggestion lost 2.4 points of
    validation accuracy to it on average, 13.4 at worst (a four-convolution CNN 6.6, the
    LSTM 13.4: neither warned otherwise). The best of the suggestion, twice it and four
    times it lost 0.2 on average, 6.4 at worst; so short a training makes three of them
    cheap. No single higher rate serves: twice it lost 4.5 points on one, four times 12.2.

    Heavy ball (``b <- m b + g``, ``p <- p - lr b``) moves ``lr / (1 - m)`` per step once
    its buffer is full, ten times plain SGD's at ``m = 0.9``, but the range test's turn is
    its stability edge, which momentum moves only ``1 + m`` times: on a narrow ResNet-18
    with BatchNorm (80 steps, momentum 0.9, weight decay 5e-4, seeds 0-2) the momentum
    test turned up at 1.0, 4.4 and 0.67 times plain SGD's turn, its suggestions (0.121,
    0.445, 0.205) lost 4.3, 43.8 and 18.0 points (on seed 1 every rate from 0.1 to 0.46 stopped
    near 0.54 accuracy), 2x and 4x did worse, and ``lr (1 - m)`` lost 1.2, 0.0 and 0.4. On the
    three short momentum tasks of ``new_user.py`` the best of ``lr`` and ``2 lr`` was
    already the best of the three, so trading ``4 lr`` for ``lr (1 - m)`` loses nothing
    there.

    Example:
        >>> short_warning(0.1, 120).split(": ")[1]
        'train 0.1, 0.2 and 0.4 for the full epochs and keep the best'
        >>> short_warning(0.1, 120, momentum=0.9).split(": ")[1]
        'train 0.01, 0.0316, 0.1 and 0.2 for the full epochs and keep the best'
    """
    rates = _listed(rates_to_try(lr, momentum))
    if momentum > 0:
        return (f"a short training ({steps} optimizer steps): train {rates} for the full "
                "epochs and keep the best: under "
                f"momentum {momentum:g} a step moves {1 / (1 - momentum):.3g}x the rate once "
                "the momentum has built up, but the range test reads where the loss turns up "
                "at once, which momentum moves far less: the best rate can sit up to "
                f"{1 / (1 - momentum):.3g}x below the suggestion")
    return (f"a short training ({steps} optimizer steps): train {rates} for the full "
            "epochs and keep the best: a training this short "
            "rewards the rate that gets furthest in few steps, often above a range test's "
            "reading (its rules were calibrated on trainings of 240-1280 steps)")


def slow_warning(lr: float, pace: float, steps: int, momentum: float = 0.0) -> str:
    """The warning for a clear reading on a task whose training, at the pace its range test
    learned, covers under :data:`SLOW` of the way from chance to a perfect validation
    accuracy (:attr:`RangeTestResult.pace`): train the rates of :func:`rates_to_try` for the
    full epochs and keep the best.

    Why: such a training ends still learning, so its score keeps rising with the rate up to
    close below where the loss blows up, above the test's reading, which places the rate
    where the loss falls within the test's own steps. An ``nn.Transformer`` seq2seq (teacher
    forcing, per-token accuracy, SGD, 200 steps, seeds 0-2: pace 0.10-0.13) lost 22.7,
    9.2 and 25.7 points at the suggestion; trained 400 and 800 steps 13.4-14.4 and 7.6
    (pace 0.2-0.5); with Adam (pace 0.28-0.36) 7.8, 5.7, 15.2. The best of the suggestion,
    twice and four times it lost 0-7.8 (SGD) and 0-0.8 (Adam). The clear readings of both
    finder-quality tables' tasks, which train to the end, pace 0.62-6: none warned. A
    text classifier whose accuracy stayed at chance up to the turn (pace 0, 304 steps) lost
    7.3 points at the suggestion, 0 with the best of the three.

    Example:
        >>> slow_warning(0.1, 0.12, 200).split(": ")[1]
        'train 0.1, 0.2 and 0.4 for the full epochs and keep the best'
    """
    how = (f"at the pace the test's validation accuracy rose, the training covers about "
           f"{pace:.2g} of the way from chance to a perfect score" if pace >= 0.01 else
           "up to where the loss turns up the test's validation accuracy did not rise above "
           "chance (what a model that learned nothing scores)")
    return (f"a slow learner for its training ({steps} optimizer steps): train "
            f"{_listed(rates_to_try(lr, momentum))} for the full epochs and keep the best: "
            f"{how}, "
            "so the training ends still learning and its best rate sits "
            "above the test's reading, close below where the loss blows up")


def momentum_warning(lr: float, momentum: float) -> str:
    """The warning for a suggestion on a task trained under heavy-ball momentum ``m`` (any
    length; a short training's own line says the same, :func:`short_warning`): train
    ``lr (1 - m)`` up to ``lr`` in steps of at most half a decade, and ``2 lr``
    (:func:`rates_to_try`), for the full epochs and keep the best.

    Why: once its buffer has built up (about ``1 / (1 - m)`` steps) heavy ball moves
    ``lr / (1 - m)`` per step, while the range test reads where the loss turns up at once,
    its stability edge, which momentum moves far less; so the best rate for a training can
    sit up to ``1 / (1 - m)`` below the reading, however long the training. A GroupNorm CNN
    trained 246 steps with momentum 0.9 (seeds 0-1): the suggestion lost 20.9 and 3.0
    points, the grid rate nearest ``lr (1 - m)`` 0.0 and 1.8; a text classifier trained 252
    steps with momentum lost 0.0 at the suggestion (so ``lr`` stays among the three); the
    80-step ResNet of :func:`short_warning` 4.3-43.8 against 0.0-1.2. The best rate can
    sit anywhere between: the GroupNorm CNN's seeds 0-2 trained best at 0.0464-0.215
    against readings of 0.27-0.45 (0.0477 scored 0.73 where 0.0464 scored 0.90), the
    finder-quality deep-tanh seed 1 at 0.0464 against a reading of 0.182 (0.0182 scored
    0.819, 0.182 0.833, 0.0464 0.870): with ``lr (1 - m)`` a decade below ``lr``, the
    rates named step half a decade at most (:data:`GAP`).

    Example:
        >>> momentum_warning(0.1, 0.9).split(": ")[1]
        'train 0.01, 0.0316, 0.1 and 0.2 for the full epochs and keep the best'
    """
    return (f"heavy-ball momentum {momentum:g}: train {_listed(rates_to_try(lr, momentum))} "
            "for the full epochs and keep the best: once built up a step moves "
            f"{1 / (1 - momentum):.3g}x "
            "the rate, but the range test reads where the loss turns up at once, which "
            "momentum moves far less: the best rate can sit up to "
            f"{1 / (1 - momentum):.3g}x below the suggestion, however long the training")

"""The command-line form of a schedule: ``NAME[:key=value,...]``.

Grammar (spaces around tokens are ignored)::

    spec  := NAME [":" pair ("," pair)*]
    pair  := KEY "=" value
    value := number | number ("/" number)+ | word

The member's own rate ``lr0`` is not part of the spec: :meth:`ScheduleSpec.build` takes it
(a number, or a ``(K,)`` tensor so K members with different rates share one schedule). All
times in a spec are in **epochs** (fractions allowed) and rates such as ``k`` are **per
epoch**; ``build`` converts them to optimizer steps and returns a schedule with
``unit="step"``, to be evaluated at the global step index (``sched(step)``). So
``step:every=5`` drops exactly at epoch boundaries, while cosine, exponential, cyclic and
one-cycle schedules move every step (``OneCycleLR`` / ``CyclicLR`` stepped per batch in
torch); with ``steps_per_epoch=1`` a step is an epoch.

A length may also be given in steps or as a fraction of training where a key has those
forms (``warmup_steps=200``, ``warmup_frac=0.05``; ``wsd:cooldown_frac=0.2``).

One kind is not a function of time: ``plateau`` (:class:`ReduceOnPlateau`) cuts the rate
when a validation metric stops improving, so it has no ``build`` but ``on_metric`` (the
stateful rule the trainer feeds each epoch's metric), takes no warm-up, and its values are
checked when it is parsed (they do not depend on the length of training).

Every other name also takes ``warmup=N`` (epochs; or ``warmup_steps``, ``warmup_frac``) and
``warmup_start=F`` (fraction of the rate at step 0, default 0): a linear warm-up in front,
with the schedule starting when it ends (``clock="restart"``, torch's ``SequentialLR``).
Schedules that end somewhere (``poly``, ``cosine``, ``onecycle``, ``wsd``, and a ``decay=``
total) then fit in the training left after it.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import torch

from lrlab._checks import whole
from lrlab._errors import LrlabError
from lrlab.schedules._anneal import cosine, cosine_restarts, cyclical, one_cycle
from lrlab.schedules._base import Schedule, Value
from lrlab.schedules._compose import warmup
from lrlab.schedules._decay import (
    constant,
    decay_over,
    exponential,
    inverse_time,
    multistep,
    polynomial,
    step_decay,
)
from lrlab.schedules._plateau import ReduceOnPlateau
from lrlab.schedules._wsd import wsd

__all__ = ["MONITORS", "SCHEDULES", "Key", "ScheduleKind", "ScheduleSpec", "parse_schedule"]

KeyKind = Literal["epochs", "steps", "fraction", "epoch_list", "per_epoch", "factor_per_epoch",
                  "number", "whole", "choice", "flag", "name"]


@dataclass(frozen=True)
class Key:
    """One ``key=value`` of a spec: how to read it and convert it from epochs to steps.

    ``kind``: ``"epochs"`` (a time, times ``P``), ``"steps"`` (a time in steps, as given),
    ``"fraction"`` (of the whole training, times ``epochs * P``), ``"epoch_list"`` (``a/b/c``,
    times ``P``),
    ``"per_epoch"`` (a rate constant, divided by ``P``), ``"factor_per_epoch"`` (a factor
    per epoch, to the power ``1/P``), ``"number"``, ``"whole"`` (a whole number),
    ``"choice"``, ``"flag"`` or ``"name"`` (a word, such as a metric's name; as given). ``of``
    names what the choices are, for messages.
    """

    kind: KeyKind
    help: str
    default: Any = None
    choices: tuple[str, ...] = ()
    of: str = ""


@dataclass(frozen=True)
class ScheduleKind:
    """A registry entry: a schedule name, its keys, and how to build it in steps.

    ``make(lr0, options, steps)`` gets the options converted to steps (defaults filled in)
    and the number of steps the schedule has (training after any warm-up). A kind that
    follows a validation metric instead of time has no ``make`` but ``on_metric(lr0,
    options)``, which returns the stateful rule the trainer feeds each epoch's metric.
    ``one_of`` lists groups of keys of which exactly one must be given, ``at_most_one``
    groups of which no more than one may be.
    """

    name: str
    summary: str
    keys: Mapping[str, Key]
    make: Callable[[Value, dict[str, Any], float], Schedule] | None
    one_of: tuple[tuple[str, ...], ...] = ()
    at_most_one: tuple[tuple[str, ...], ...] = ()
    on_metric: Callable[[Value, dict[str, Any]], ReduceOnPlateau] | None = None

    @property
    def follows_metric(self) -> bool:
        """Whether the rate follows a validation metric (``plateau``) rather than time."""
        return self.on_metric is not None


_COMMON = {
    "warmup": Key("epochs", "epochs of linear warm-up in front"),
    "warmup_steps": Key("steps", "steps of linear warm-up in front"),
    "warmup_frac": Key("fraction", "fraction of training spent warming up"),
    "warmup_start": Key("number", "fraction of the rate at the warm-up's first step", 0.0),
}
_WARMUPS = ("warmup", "warmup_steps", "warmup_frac")
#: A run longer, and a rate higher, than any real one: a spec that does not build for them
#: builds for no run, so :func:`parse_schedule` refuses it (the factories say why).
_ANY_RUN, _ANY_RATE = 10**9, 1e300
_DECAY = Key("number", "total decay factor over training (100: 100x lower at the end)")


def _last(n: float) -> float:
    """The time of the last step of ``n``: ``decay=F`` means the rate there is lr0 / F."""
    return max(n - 1, 1)


def _step(lr0: Value, o: dict[str, Any], n: float) -> Schedule:
    factor = (decay_over(o["decay"], _last(n), kind="step", every=o["every"]) if "decay" in o
              else o["factor"])
    return step_decay(lr0, factor=factor, every=o["every"], unit="step")


def _wsd(lr0: Value, o: dict[str, Any], n: float) -> Schedule:
    cooldown = next(o[k] for k in ("cooldown", "cooldown_steps", "cooldown_frac") if k in o)
    return wsd(lr0, total=n, cooldown=cooldown, shape=o["shape"], min_lr=o["min_lr"],
               unit="step")


def _rate(kind: Literal["exponential", "inverse_time"], o: dict[str, Any], n: float) -> Any:
    return decay_over(o["decay"], _last(n), kind=kind) if "decay" in o else o["k"]


#: lrlab's own validation metrics a plateau can follow, and whether lower or higher is better
#: (it can also follow a task's own metric: the fit gives its direction, or ``mode=``).
MONITORS: dict[str, Literal["min", "max"]] = {"loss": "min", "accuracy": "max", "error": "min",
                                                "sse": "min", "auc": "max"}
_PLATEAU = inspect.signature(ReduceOnPlateau).parameters  # its defaults, written once


def _below_lr0(name: str, value: float, lr0: Value, why: str) -> None:
    """One line when a spec's absolute rate ``name`` lies above a member's ``lr0``."""
    rates = torch.as_tensor(lr0, dtype=torch.float64).reshape(-1)
    above = (rates < value).nonzero()
    if len(above):
        i = int(above[0, 0])
        where = f" (member {i})" if len(rates) > 1 else ""
        raise LrlabError(f"{name}={value:g} must be <= lr0, the member's rate, {why}; got "
                         f"lr0={float(rates[i]):g}{where}: give a lower {name} (an absolute "
                         "rate, not a fraction of lr0)")


def _cyclic(lr0: Value, o: dict[str, Any], n: int) -> Schedule:
    _below_lr0("lo", o["lo"], lr0, "the peak of the cycle")
    return cyclical(o["lo"], lr0, half_period=o["half_period"], mode=o["mode"],
                    gamma=o["gamma"], unit="step")


def _poly(lr0: Value, o: dict[str, Any], n: int) -> Schedule:
    _below_lr0("end", o["end"], lr0, "where the decay starts")
    return polynomial(lr0, total=n, end=o["end"], power=o["power"], unit="step")


def _plateau(lr0: Value, o: dict[str, Any]) -> ReduceOnPlateau:
    mode = o["mode"] if o["mode"] != "auto" else MONITORS.get(o["monitor"], "min")
    return ReduceOnPlateau(lr0, mode=mode, factor=o["factor"],
                           patience=o["patience"], threshold=o["threshold"],
                           cooldown=o["cooldown"], min_lr=o["min_lr"])


_KINDS = [
    ScheduleKind("constant", "the same rate throughout", {}, lambda lr0, o, n: constant(
        lr0, unit="step")),
    ScheduleKind("step", "x factor every N epochs",
                 {"every": Key("epochs", "epochs between drops"),
                  "factor": Key("number", "multiplier at each drop", 0.1), "decay": _DECAY},
                 _step, one_of=(("every",),), at_most_one=(("factor", "decay"),)),
    ScheduleKind("multistep", "x factor at each milestone",
                 {"milestones": Key("epoch_list", "epochs of the drops, a/b/c"),
                  "factor": Key("number", "multiplier at each milestone", 0.1)},
                 lambda lr0, o, n: multistep(lr0, milestones=o["milestones"],
                                             factor=o["factor"], unit="step"),
                 one_of=(("milestones",),)),
    ScheduleKind("exp", "lr0 * exp(-k t)",
                 {"k": Key("per_epoch", "decay constant per epoch"), "decay": _DECAY},
                 lambda lr0, o, n: exponential(lr0, k=_rate("exponential", o, n), unit="step"),
                 one_of=(("k", "decay"),)),
    ScheduleKind("inv", "lr0 / (1 + k t)",
                 {"k": Key("per_epoch", "decay constant per epoch"), "decay": _DECAY},
                 lambda lr0, o, n: inverse_time(lr0, k=_rate("inverse_time", o, n),
                                                unit="step"),
                 one_of=(("k", "decay"),)),
    ScheduleKind("poly", "polynomial decay to end over training",
                 {"power": Key("number", "exponent (1: linear)", 1.0),
                  "end": Key("number", "final rate", 0.0)},
                 _poly),
    ScheduleKind("cosine", "cosine anneal to min_lr over training",
                 {"min_lr": Key("number", "final rate", 0.0)},
                 lambda lr0, o, n: cosine(lr0, total=n, min_lr=o["min_lr"], unit="step")),
    ScheduleKind("sgdr", "cosine with warm restarts",
                 {"first": Key("epochs", "epochs of the first cycle"),
                  "mult": Key("number", "growth of each next cycle", 1.0),
                  "min_lr": Key("number", "rate at the end of each cycle", 0.0)},
                 lambda lr0, o, n: cosine_restarts(lr0, first=o["first"], mult=o["mult"],
                                                   min_lr=o["min_lr"], unit="step"),
                 one_of=(("first",),)),
    ScheduleKind("cyclic", "triangle wave between lo and lr0 (Smith)",
                 {"lo": Key("number", "lowest rate"),
                  "half_period": Key("epochs", "epochs from lo up to lr0"),
                  "mode": Key("choice", "amplitude policy", "triangular",
                              ("triangular", "triangular2", "exp_range")),
                  "gamma": Key("factor_per_epoch", "amplitude factor per epoch (exp_range)",
                               1.0)},
                 _cyclic,
                 one_of=(("lo",), ("half_period",))),
    ScheduleKind("onecycle", "one cycle peaking at lr0 (Smith & Topin)",
                 {"pct_start": Key("number", "fraction of training going up", 0.3),
                  "div_factor": Key("number", "lr0 / starting rate", 25.0),
                  "final_div_factor": Key("number", "starting rate / final rate", 1e4),
                  "anneal": Key("choice", "shape of each phase", "cos", ("cos", "linear")),
                  "three_phase": Key("flag", "come back down before the final fall", False)},
                 lambda lr0, o, n: one_cycle(lr0, total=n, pct_start=o["pct_start"],
                                             div_factor=o["div_factor"],
                                             final_div_factor=o["final_div_factor"],
                                             anneal=o["anneal"], three_phase=o["three_phase"],
                                             unit="step")),
    ScheduleKind("wsd", "warmup-stable-decay: lr0, then a cooldown at the end (Hägele et al.)",
                 {"cooldown": Key("epochs", "epochs of cooldown at the end"),
                  "cooldown_steps": Key("steps", "steps of cooldown at the end"),
                  "cooldown_frac": Key("fraction", "fraction of training spent cooling down"),
                  "shape": Key("choice", "the cooldown's shape", "linear",
                               ("linear", "cosine", "1-sqrt")),
                  "min_lr": Key("number", "final rate", 0.0)},
                 _wsd, one_of=(("cooldown", "cooldown_steps", "cooldown_frac"),)),
    ScheduleKind("plateau", "x factor when a validation metric stops improving (torch's "
                            "ReduceLROnPlateau, per member)",
                 {"factor": Key("number", "multiplier at each cut", _PLATEAU["factor"].default),
                  "patience": Key("whole", "epochs without improvement before a cut",
                                  _PLATEAU["patience"].default),
                  "threshold": Key("number", "relative improvement that counts",
                                   _PLATEAU["threshold"].default),
                  "cooldown": Key("whole", "epochs after a cut before counting again",
                                  _PLATEAU["cooldown"].default),
                  "min_lr": Key("number", "the floor of the rate", _PLATEAU["min_lr"].default),
                  "monitor": Key("name", "the validation metric it follows (lrlab's or the "
                                         "task's own)", "loss"),
                  "mode": Key("choice", "whether the metric improves downward (min) or "
                                        "upward (max); auto: lrlab's metrics as they are, a "
                                        "task's own as the task ranks it, else by its name",
                              "auto", ("auto", "min", "max"))},
                 None, on_metric=_plateau),
]

#: Every schedule name the command line knows, with its keys (the warm-up keys on every
#: kind that follows time).
SCHEDULES: dict[str, ScheduleKind] = {
    kind.name: kind if kind.follows_metric else replace(
        kind, keys={**kind.keys, **_COMMON}, at_most_one=(*kind.at_most_one, _WARMUPS))
    for kind in _KINDS
}


@dataclass(frozen=True)
class ScheduleSpec:
    """A parsed ``NAME[:key=value,...]``: the name and its options in epochs.

    A frozen value: members hold it, and it is stored as its :attr:`text`, which reads back
    to an equal spec. Two specs are the same schedule when their texts are.

    Attributes:
        name: a key of :data:`SCHEDULES`.
        options: the keys given, with values read but not converted (times in epochs).
        text: the spec as written (a spec made in Python without one gets its spelling).
    """

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)
    text: str = ""

    def __post_init__(self) -> None:
        if not self.text:
            pairs = ",".join(f"{k}={_spell(v)}" for k, v in self.options.items())
            object.__setattr__(self, "text", f"{self.name}:{pairs}" if pairs else self.name)

    def __hash__(self) -> int:
        return hash((self.name, self.text))

    def __str__(self) -> str:
        return self.text.strip()

    @property
    def kind(self) -> ScheduleKind:
        """Its registry entry."""
        return SCHEDULES[self.name]

    @property
    def follows_metric(self) -> bool:
        """Whether the rate follows a validation metric (``plateau``) rather than time."""
        return self.kind.follows_metric

    @property
    def monitor(self) -> str | None:
        """The validation metric a metric-driven schedule follows; ``None`` for time."""
        return self.values["monitor"] if self.follows_metric else None

    @property
    def values(self) -> dict[str, Any]:
        """Every key in effect: the options given, over the kind's defaults (in epochs). A
        default that a given key of its group replaces is not in effect (``step``'s
        ``factor`` where ``decay`` is given, which sets the factor).

        Example:
            >>> parse_schedule("plateau:patience=3").values["factor"]
            0.1
            >>> "factor" in parse_schedule("step:every=5,decay=100").values
            False
        """
        replaced = {key for group in self.kind.at_most_one if set(group) & set(self.options)
                    for key in group}
        return {key: self.options.get(key, k.default) for key, k in self.kind.keys.items()
                if key in self.options or (k.default is not None and key not in replaced)}

    def on_metric(self, lr0: Value, *, mode: Literal["min", "max"] | None = None
                  ) -> ReduceOnPlateau:
        """The stateful rule of a metric-driven schedule (``plateau``), starting at ``lr0``:
        feed it each epoch's validation metric (:attr:`monitor`) per member.

        ``mode``: the direction of a metric not in :data:`MONITORS` (a task's own), unless
        the spec gives ``mode=min`` or ``max`` itself.

        Example:
            >>> parse_schedule("plateau:patience=0").on_metric([0.1]).update(1.0)
            tensor([0.1000], dtype=torch.float64)
        """
        if not self.follows_metric:
            raise LrlabError(f"{self}: {self.name} is a function of time; build it with "
                             ".build(lr0, epochs=...)")
        try:
            given = {"mode": mode} if mode is not None and self.values["mode"] == "auto" else {}
            return self.kind.on_metric(lr0, self.values | given)
        except LrlabError as err:
            raise LrlabError(f"{self}: {err}") from None

    def build(self, lr0: Value, *, epochs: int, steps_per_epoch: int = 1) -> Schedule:
        """The schedule for a run of ``epochs`` x ``steps_per_epoch`` steps, ``unit="step"``.

        Args:
            lr0: the member's own rate (the peak of ``cyclic`` and ``onecycle``): a number
                or one per member.
            epochs: the length of training, an integer ``>= 1``.
            steps_per_epoch: optimizer steps per epoch, an integer ``>= 1``.

        Returns:
            the schedule, evaluated at global step indices.

        Raises:
            LrlabError: for a metric-driven kind (``plateau``), which has no curve of time.

        Example:
            >>> parse_schedule("cosine:warmup=2").build(0.1, epochs=10, steps_per_epoch=5)(10)
            tensor([0.1000], dtype=torch.float64)
        """
        if self.follows_metric:
            raise LrlabError(f"{self}: the rate follows the validation metric, not time, so "
                             f"it has no curve of its own; train with it (--schedule {self})")
        for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
            whole(name, value, low=1)
        kind = self.kind
        options = self.values
        if "decay" in options and not options["decay"] >= 1:  # said as the user wrote it
            raise LrlabError(f"{self}: decay={options['decay']:g} must be >= 1 (the total "
                             "decay over training: 100 means a 100x lower rate at the end)")
        given = next((k for k in _WARMUPS if k in options), "warmup")
        length = _to_steps(kind.keys[given].kind, options.get(given, 0.0), steps_per_epoch,
                           epochs * steps_per_epoch)
        if not 0 <= length < epochs * steps_per_epoch:
            within = ("a finite length >= 0" if not (math.isfinite(length) and length >= 0)
                      else "below 1 (a fraction of training)" if kind.keys[given].kind == "fraction"
                      else f"shorter than training ({epochs} epochs of {steps_per_epoch} "
                           "steps); shorten the warm-up")
            raise LrlabError(f"{self}: {given}={options[given]:g} must be {within}")
        try:
            return self._make(kind, lr0, options, epochs, steps_per_epoch)
        except LrlabError as err:
            if steps_per_epoch == 1:
                raise
            try:  # one step per epoch converts nothing: its message quotes what was written
                self._make(kind, lr0, options, epochs, 1)
            except LrlabError as as_written:
                raise as_written from None
            raise err from None

    def _make(self, kind: ScheduleKind, lr0: Value, options: dict, epochs: int,
              per: int) -> Schedule:
        total = epochs * per
        steps = {key: _to_steps(kind.keys[key].kind, v, per, total)
                 for key, v in options.items()}
        length = sum(steps.pop(k, 0.0) for k in _WARMUPS)
        start = steps.pop("warmup_start")
        try:
            sched = kind.make(lr0, steps, total - length)
        except LrlabError as err:
            raise LrlabError(f"{self}: {err}") from None
        try:
            return warmup(sched, length=length, start=start) if length > 0 else sched
        except LrlabError as err:  # warmup's start is the spec's warmup_start
            raise LrlabError(f"{self}: warmup_{err}" if str(err).startswith("start ")
                             else f"{self}: {err}") from None


def _spell(value: Any) -> str:
    """A value as ``parse_schedule`` reads it back: ``30/60``, ``true``, ``0.5``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "/".join(_spell(v) for v in value)
    return repr(value) if isinstance(value, float) else str(value)


def _to_steps(kind: KeyKind, value: Any, per: int, total: int) -> Any:
    if kind == "epochs":
        return value * per
    if kind == "fraction":
        return value * total
    if kind == "epoch_list":
        return [v * per for v in value]
    if kind == "per_epoch":
        return value / per
    if kind == "factor_per_epoch":
        return value ** (1 / per)
    return value


def parse_schedule(text: str) -> ScheduleSpec:
    """Read ``NAME[:key=value,...]`` (see the module docstring) into a :class:`ScheduleSpec`.

    The form is checked here (name, keys, value types, required keys), and so is every
    value wrong whatever the run (``poly:power=-2``, ``onecycle:pct_start=2``,
    ``cosine:warmup=-1``): the spec is built once for a run longer, and a rate higher, than
    any real one, so each factory's own check says what is wrong. What depends on the run
    (a warm-up longer than training, ``min_lr`` above the rate) is checked by
    :meth:`ScheduleSpec.build`. The spec keeps ``text`` exactly as given, so it is stored as
    it was written.

    Example:
        >>> parse_schedule("step:factor=0.5,every=5").options
        {'factor': 0.5, 'every': 5.0}
    """
    if not isinstance(text, str) or not text.strip():
        raise LrlabError("empty schedule; give NAME[:key=value,...], e.g. cosine or "
                         "step:factor=0.5,every=5")
    written, text = text, text.strip()
    name, _, rest = text.partition(":")
    name = name.strip().lower()
    if name not in SCHEDULES:
        raise LrlabError(f"unknown schedule {name!r}; known: {', '.join(SCHEDULES)}")
    kind = SCHEDULES[name]
    options: dict[str, Any] = {}
    for pair in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = (s.strip() for s in pair.partition("="))
        if not eq or not key or not value:
            raise LrlabError(f"{text}: {pair!r} must look like key=value, e.g. "
                             f"{name}:{next(iter(kind.keys))}=...")
        if key not in kind.keys:
            raise LrlabError(f"schedule {text!r} has no key {key!r}; {name}'s keys: "
                             f"{', '.join(kind.keys)}")
        if key in options:
            raise LrlabError(f"{text}: {key} is given twice; keep one")
        options[key] = _read(text, key, kind.keys[key], value)
    for group in kind.one_of:
        given = [k for k in group if k in options]
        if len(given) > 1:  # it said "needs ... (one of them)" of a spec that gave two
            raise LrlabError(f"{text}: give one of {', '.join(given)}, not {len(given)}; see "
                             "lrlab list schedules")
        if not given:
            need = " or ".join(f"{k}=..." for k in group)
            # the spec quoted whole ("step: step needs every=..." said the name twice)
            raise LrlabError(f"schedule {text!r} needs {need}"
                             f"{' (one of them)' * (len(group) > 1)}; see lrlab list schedules")
    for group in kind.at_most_one:
        if sum(k in options for k in group) > 1:
            raise LrlabError(f"{text}: give {' or '.join(group)}, not both")
    if "warmup_start" in options and not any(k in options for k in _WARMUPS):
        raise LrlabError(f"{text}: warmup_start sets where a warm-up starts, and there is "
                         f"none; give warmup=N too (or warmup_steps, warmup_frac)")
    spec = ScheduleSpec(name, options, written)
    if kind.follows_metric:
        spec.on_metric(1.0)  # its values, checked now: they do not depend on the run
    else:  # values wrong for every run (a negative warm-up, pct_start=2), refused now
        spec.build(_ANY_RATE, epochs=_ANY_RUN)
    return spec


def _read(text: str, key: str, spec: Key, value: str) -> Any:
    if spec.kind == "choice":
        if value not in spec.choices:
            choices = ", ".join(spec.choices)
            must = f"{spec.of} ({choices})" if spec.of else f"one of {choices}"
            raise LrlabError(f"{text}: {key} must be {must}, got {value!r}")
        return value
    if spec.kind == "name":
        if not value.isidentifier():
            raise LrlabError(f"{text}: {key} must be a metric's name, got {value!r}")
        return value
    if spec.kind == "flag":
        words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
        if value.lower() not in words:
            raise LrlabError(f"{text}: {key} must be true or false, got {value!r}")
        return words[value.lower()]
    if spec.kind == "whole":
        try:
            return int(value)
        except ValueError:
            raise LrlabError(f"{text}: {key} must be a whole number, got {value!r}") from None
    try:
        if spec.kind == "epoch_list":
            return [float(v) for v in value.split("/")]
        number = float(value)
    except ValueError:
        form = "numbers separated by /, e.g. 30/60" if spec.kind == "epoch_list" else "a number"
        raise LrlabError(f"{text}: {key}={value!r} must be {form}") from None
    if spec.kind == "fraction" and not 0 <= number <= 1:
        raise LrlabError(f"{text}: {key}={value} must be a fraction of training, from 0 to 1")
    return number

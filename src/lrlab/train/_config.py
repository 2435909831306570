"""Validated settings of a sweep (pydantic), and the members they expand to."""

from __future__ import annotations

import difflib
import itertools
from typing import Annotated, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from lrlab._checks import is_rate, positive_rates, repeated
from lrlab._errors import LrlabError
from lrlab.optim import RULES, check_ranges
from lrlab.schedules import ScheduleSpec, parse_schedule

__all__ = ["MAX_EPOCHS", "MAX_MEMBERS", "MAX_RATES", "Member", "SweepConfig", "check_distinct",
           "parse_lrs", "validated"]


def _positive_rate(v: float) -> float:
    if not is_rate(v):  # said as "every value of lrs must be positive and finite, got -1"
        raise PydanticCustomError("positive_rate", "must be positive and finite")
    return v


Rate = Annotated[float, AfterValidator(_positive_rate)]


def _schedule(value: object) -> ScheduleSpec:
    """A spec as it is, or text parsed (once: a spec stays a spec when settings are copied)."""
    if isinstance(value, ScheduleSpec):
        return value
    if not isinstance(value, str):  # a ValueError: the one pydantic reports as a bad value
        raise ValueError(f"a schedule is text, NAME[:key=value,...], got {value!r}")  # noqa: TRY004
    try:
        return parse_schedule(value)
    except LrlabError as err:  # said as the parser says it, wherever the spec stands
        raise PydanticCustomError("schedule", "{message}", {"message": str(err)}) from None


#: A schedule held parsed, stored (JSON, SQLite, checkpoints) as the text it was read from.
Schedule = Annotated[ScheduleSpec, PlainValidator(_schedule),
                     PlainSerializer(lambda spec: spec.text, return_type=str),
                     WithJsonSchema({"type": "string"})]
def _not_a_bool(value: object) -> object:
    """A bool where a count is asked for, refused: Python takes ``True`` for 1, so
    ``norm_batches=True`` (meant as "yes") would run as one batch."""
    if isinstance(value, bool):
        raise PydanticCustomError("whole_bool", "must be a whole number, not a bool")
    return value


#: A whole number that is not a bool (pydantic takes ``True`` for 1).
Whole = Annotated[int, BeforeValidator(_not_a_bool)]
Seed = Annotated[Whole, Field(ge=0, le=2**63 - 1)]

#: The most rates ``logspace:``/``linspace:`` expand to, and the most members one study
#: trains (rates x schedules x seeds x layer-wise variants).
MAX_RATES = 10_000
MAX_MEMBERS = 100_000
#: The most epochs one fit trains (a count the store and the schedules hold exactly).
MAX_EPOCHS = 1_000_000


def _device_name(name: str | None) -> str | None:
    """``cpu``, ``cuda`` or ``cuda:N``: the devices lrlab trains on."""
    import torch

    if name is None:
        return None
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise ValueError(f"unknown device {name!r}; use cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device {name!r} is not one lrlab trains on; use cpu, cuda or cuda:N")
    return name


def _rule_name(name: object) -> object:
    """Rule names as people write them: ``sgd-hd``, ``Adam`` -> ``sgd_hd``, ``adam``; a torch
    optimizer (its class, or one built) is refused naming the rule to give instead."""
    if isinstance(name, str):
        return name.strip().lower().replace("-", "_")
    kind = name if isinstance(name, type) else type(name)
    if isinstance(kind, type) and kind.__module__.startswith("torch.optim"):
        rule = kind.__name__.lower()
        instead = (f": give optimizer={rule!r}" if rule in RULES
                   else f" (one of: {', '.join(sorted(RULES))})")
        raise ValueError(f"torch.optim.{kind.__name__} where lrlab takes its update rule's name"
                         f"{instead}; lrlab trains each member with its own copy of the rule")
    return name


def check_distinct(config: SweepConfig) -> None:
    """Refuse settings listed twice (``--lrs 0.1,0.1``, ``--seeds 0,0``): their members
    would train identically under one label. (Python callers may want such twins, to
    compare them; the command line never does.)"""
    for what, values, show in (("--lrs", config.lrs, lambda v: f"{v:g}"),
                               ("--seeds", config.seeds or [], str),
                               ("--schedule", config.schedules, str),
                               ("--lr-mult", config.lr_mults or [], mult_label)):
        try:
            _once(what, values, show)
        except ValueError as err:
            raise LrlabError(str(err)) from None


def _once(what: str, values: list, show=str) -> None:
    twice = repeated(values, lambda v: repr(sorted(v.items())) if isinstance(v, dict) else v)
    if twice is not None:
        raise ValueError(f"{what} lists {show(twice)} twice; members with the same settings "
                         "train identically, give each once")


def _known_backend(v: bool | str) -> bool | str:
    if isinstance(v, str):
        import torch

        known = torch.compiler.list_backends(exclude_tags=())
        if v not in known:
            raise ValueError(f"unknown torch.compile backend {v!r}; use true (inductor) or one "
                             f"of: {', '.join(known)}")
    return v


Backend = Annotated[bool | str, AfterValidator(_known_backend)]


class Member(BaseModel):
    """One member's settings: its rate, seed and other hyperparameters, and (``optimizer``,
    empty for the sweep's) its own update rule, so different rules race in one population."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    lr: Rate
    seed: Seed = 0
    hparams: dict[str, float] = Field(default_factory=dict)
    lr_mult: dict[str, float] = Field(default_factory=dict)
    schedule: Schedule = Field(default="constant", validate_default=True)
    label: str = ""
    optimizer: str = ""

    @model_validator(mode="after")
    def _own_rule(self) -> Member:
        if self.optimizer:
            _check_rule(self.optimizer, self.hparams)
        return self

    def name(self) -> str:
        """A short label: ``lr=0.01`` (plus the seed when it matters)."""
        return self.label or f"lr={self.lr:g}"


class SweepConfig(BaseModel):
    """What to train: rates x seeds with one update rule, for some epochs.

    ``seeds=None`` gives every member the same initial weights and example order (``seed``);
    a list of seeds crosses every rate with every seed. ``compile`` runs the population's
    step through ``torch.compile`` (``True``: inductor; or a backend's name), off by default
    (see :class:`~lrlab.population.Population`); like ``device``, it changes how the numbers
    are computed, not what they are (up to rounding), so a checkpoint resumes either way.
    ``clip_grad_norm`` clips each member's gradient by its global norm before every step (as
    ``torch.nn.utils.clip_grad_norm_``; off by default). ``schedule_over`` lays the
    schedules over a longer training, ``(epochs, steps per epoch)``, of which this run trains
    the first steps (``auto``'s race trains the start of the schedule the full training will
    follow; a step past its end keeps its last rate); ``None``: over this run.
    ``norm_batches`` scores every evaluation with BatchNorm's statistics recomputed from
    the first this many training batches of the epoch at the weights evaluated
    (:meth:`~lrlab.population.Population.recomputed_norms`; a short race of ``auto``'s
    that learned nothing on running statistics that lag weights that move fast), restored
    before training goes on; ``None`` (the default): the running statistics, as a PyTorch
    evaluation reads them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    lrs: list[Rate] = Field(min_length=1)
    optimizer: Annotated[str, BeforeValidator(_rule_name)] = "sgd"
    hparams: dict[str, float] = Field(default_factory=dict)
    epochs: Whole | None = Field(default=None, ge=1, le=MAX_EPOCHS)
    batch_size: Whole | None = Field(default=None, ge=1, le=2**31 - 1)
    seed: Seed = 0
    seeds: list[Seed] | None = Field(default=None, min_length=1)
    lr_mults: list[dict[str, float]] | None = Field(default=None, min_length=1)
    schedules: list[Schedule] = Field(default=["constant"], min_length=1,
                                      validate_default=True)
    device: Annotated[str | None, AfterValidator(_device_name)] = None
    dtype: Literal["float32", "float64"] = "float32"
    path: Literal["auto", "batched", "vmap", "loop"] = "auto"
    divergence_factor: float | None = Field(default=1e3, gt=1)
    record_steps: bool = False
    eval_batch_size: Whole = Field(default=4096, ge=1)
    compile: Backend = False
    clip_grad_norm: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    schedule_over: tuple[Annotated[Whole, Field(ge=1, le=MAX_EPOCHS)],
                         Annotated[Whole, Field(ge=1)]] | None = None
    norm_batches: Whole | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _known_rule(self) -> SweepConfig:
        _check_rule(self.optimizer, self.hparams)
        return self

    @model_validator(mode="after")
    def _not_too_many(self) -> SweepConfig:
        count = (len(self.lrs) * len(self.schedules) * len(self.seeds or [0])
                 * len(self.lr_mults or [{}]))
        if count > MAX_MEMBERS:
            raise ValueError(f"{count:,} members (rates x schedules x seeds x layer-wise "
                             f"variants) are more than one study trains, {MAX_MEMBERS:,}; "
                             "give fewer")
        return self

    @model_validator(mode="after")
    def _representable_rates(self) -> SweepConfig:
        import torch

        info = torch.finfo(getattr(torch, self.dtype))
        for lr in self.lrs:
            if not info.tiny <= lr <= info.max:
                raise ValueError(f"learning rate {lr:g} is not a normal {self.dtype} number "
                                 f"(from {info.tiny:.3g} to {info.max:.3g}); give a rate in "
                                 "that range" + (" or --dtype float64"
                                                 if self.dtype == "float32" else ""))
        return self

    def members(self) -> list[Member]:
        """Every member: each rate, crossed with each seed when ``seeds`` is given and with
        each layer-wise variant when ``lr_mults`` is given (``{}`` is the uniform rate)."""
        seeds = self.seeds or [self.seed]
        mults = self.lr_mults or [{}]
        return [
            Member(lr=lr, seed=s, hparams=self.hparams, lr_mult=mult, schedule=sched,
                   label=" ".join([f"lr={lr:g}"]
                                  + ([sched.text] if len(self.schedules) > 1 else [])
                                  + ([f"seed={s}"] if len(seeds) > 1 else [])
                                  + ([mult_label(mult)] if len(mults) > 1 else [])))
            for lr, sched, s, mult in itertools.product(self.lrs, self.schedules, seeds, mults)
        ]


def _check_rule(optimizer: str, hparams: dict[str, float]) -> None:
    """A known rule and hyperparameters it takes, in range (ValueError for pydantic)."""
    if optimizer not in RULES:
        raise ValueError(f"unknown update rule {optimizer!r}; choose one of: "
                         f"{', '.join(sorted(RULES))}")
    unknown = set(hparams) - set(RULES[optimizer].defaults)
    if unknown:
        raise ValueError(f"{optimizer} takes no {min(unknown)!r}; it takes: "
                         f"{', '.join(RULES[optimizer].defaults) or 'only lr'}")
    try:
        check_ranges(optimizer, hparams)
    except LrlabError as err:
        raise ValueError(str(err)) from None


def mult_label(mult: dict[str, float]) -> str:
    """A member's layer-wise multipliers as written on the command line, or "uniform"."""
    return ",".join(f"{k}={v:g}" for k, v in mult.items()) if mult else "uniform"


def _one_line(err: ValidationError) -> str:
    errors = err.errors()
    # settings are checked field by field, then as a whole; a schedule's own line comes
    # after the fields' (the settings' checks read the parsed specs)
    first = next((e for e in errors if e["type"] != "schedule"), errors[0])
    if first["type"] == "schedule":
        return first["msg"]
    loc = first["loc"]
    where = ".".join(str(p) for p in loc)
    if first["type"] == "extra_forbidden" and len(loc) == 1:
        return _unknown_setting(where, first.get("input"))
    msg = first["msg"].removeprefix("Value error, ")
    allowed = _ALLOWED.get(first["type"])
    if first["type"] == "too_short" and first.get("ctx", {}).get("min_length") == 1:
        allowed = "a non-empty list"
    if allowed is not None and where:  # the validation library's wording, said plainly
        what = f"{allowed.format(**first.get('ctx', {}))}, got {first.get('input')!r}"
        if len(loc) > 2 and isinstance(loc[1], int):  # a value of a dict in a list
            index = "".join(f"[{p!r}]" for p in loc[1:])
            return f"{loc[0]}{index} must be {what}"
        if any(isinstance(part, int) for part in loc):  # one value of a list
            name = ".".join(str(p) for p in loc if not isinstance(p, int))
            example = _example(name, first) if name in _DICTS else ""
            return f"every value of {name} must be {what}{example}"
        return f"{where} must be {what}{_example(where, first)}"
    if first["type"] != "value_error" and isinstance(first.get("input"), int | float | str):
        msg += f", got {first['input']!r}"
    return f"{where}: {msg}" if where else msg


def _task_fields() -> set[str]:
    """A Task's fields that are no setting of a sweep (the command line's --monitor is one)."""
    import dataclasses

    from lrlab.tasks import Task

    return {f.name for f in dataclasses.fields(Task)} - set(SweepConfig.model_fields)


def _unknown_setting(name: str, value: object) -> str:
    """The line for a keyword no setting takes: an update rule's hyperparameter goes in
    ``hparams``; another name is most likely a misspelt setting."""
    if any(name in rule.defaults for rule in RULES.values()):
        return (f"{name} is an update rule's hyperparameter, not a setting: give "
                f"hparams={{{name!r}: {value!r}}}")
    if name in _task_fields():  # the CLI's --monitor is the task's, from Python too
        return (f"{name} is the task's, not a setting: give task.replace({name}={value!r}) "
                f"(or Task(..., {name}=...))")
    names = list(SweepConfig.model_fields)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"the settings: {', '.join(names)}"
    return f"no setting {name!r}; {hint}"


#: What a setting must be, by the validation library's error type (its ``ctx`` filled in).
_ALLOWED = {"greater_than_equal": "at least {ge}", "greater_than": "greater than {gt}",
            "less_than_equal": "at most {le}", "less_than": "less than {lt}",
            "list_type": "a list", "int_type": "a whole number",
            "int_parsing": "a whole number", "int_from_float": "a whole number",
            "whole_bool": "a whole number, not a bool",
            "float_type": "a number", "float_parsing": "a number",
            "finite_number": "a finite number", "bool_type": "True or False",
            "bool_parsing": "True or False", "string_type": "a string", "dict_type": "a dict",
            "literal_error": "{expected}", "positive_rate": "positive and finite"}

#: A dict setting as it is written: hparams, and each of lr_mults' layer-wise variants.
_DICTS = {"hparams": "hparams={'momentum': 0.9}",
          "lr_mults": "lr_mults=[{}, {'head.*': 10}] ({} is the uniform rate)"}


def _example(where: str, error: dict) -> str:
    """``; e.g. NAME=VALUE`` for a setting refused by :func:`_one_line`: the list a
    comma-separated text of numbers meant (``lrs='0.1,0.01'``: ``[0.1, 0.01]``) or one number
    meant (``lrs=0.1``: ``[0.1]``), else the bound itself (``epochs=0`` under ``>= 1``: ``1``)."""
    given, ctx = error.get("input"), error.get("ctx", {})
    if where in _DICTS and error["type"] in ("dict_type", "too_short", "list_type"):
        return f"; e.g. {_DICTS[where]}"
    if error["type"] == "list_type" and isinstance(given, str):
        try:
            return f"; e.g. {where}={[float(part) for part in given.split(',')]}"
        except ValueError:
            return f"; e.g. {where}=[...]"
    if error["type"] == "list_type" and where == "seeds" and isinstance(given, int) \
            and 0 < given <= 10:  # a count, as find_lr's seeds=K
        return f"; e.g. seeds={list(range(given))} for {given} seeds, or seed={given} for one"
    if error["type"] == "list_type" and isinstance(given, int | float):  # one rate: a list of it
        return f"; e.g. {where}=[{given!r}]"
    bound = next((ctx[k] for k in ("ge", "le") if k in ctx), None)
    return "" if bound is None else f"; e.g. {where}={bound}"


def validated(**settings: object) -> SweepConfig:
    """A :class:`SweepConfig`, or one :class:`LrlabError` line saying what is wrong."""
    try:
        return SweepConfig(**settings)
    except ValidationError as err:
        raise LrlabError(_one_line(err)) from None


def parse_lrs(text: str) -> list[float]:
    """Rates from the command line: ``"1,0.1,0.01"``, ``"logspace:1e-4:1:9"`` (even in log
    space) or ``"linspace:0.1:1:10"``; at most :data:`MAX_RATES` from a range.

    Example:
        >>> parse_lrs("logspace:1e-2:1:3")
        [0.01, 0.1, 1.0]
    """
    text = text.strip()
    try:
        kind, sep, rest = text.partition(":")
        if sep and kind in ("logspace", "linspace"):
            lo, hi, n = rest.split(":")
            lo_f, hi_f, count = float(lo), float(hi), int(n)
            if lo_f <= 0 or hi_f <= 0 or count < 1:
                raise ValueError
            if count > MAX_RATES:
                raise LrlabError(f"{text!r} asks for {count:,} rates; a range gives at most "
                                 f"{MAX_RATES:,} (each is a network trained at once)")
            values = (np.logspace(np.log10(lo_f), np.log10(hi_f), count) if kind == "logspace"
                      else np.linspace(lo_f, hi_f, count))
            return [float(f"{v:.6g}") for v in values]
        rates = [float(part) for part in text.split(",")]
    except LrlabError:
        raise
    except ValueError:
        raise LrlabError(f"cannot read rates {text!r}; give a comma list like 1,0.1,0.01 or "
                         "logspace:LO:HI:N (linspace:LO:HI:N) with positive LO and HI") from None
    return positive_rates("learning rates", rates, hint=f" in {text!r}")

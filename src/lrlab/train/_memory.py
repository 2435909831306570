"""How much memory a population needs, before it is allocated, and how many members fit.

One member of a population costs, in the training dtype's bytes:

* its parameters, their gradient (autograd's and the flat copy the update rule reads), the
  update, and the update rule's state (``rule.init`` counted on a small tensor: momentum 1
  slot, Adam 2, ...): ``(4 + slots) x P`` values;
* the activations autograd keeps for the backward pass of one batch, measured by running the
  first batch through one model with ``torch.autograd.graph.saved_tensors_hooks`` (which sees
  every tensor saved for backward), counted twice for the backward's temporaries.

The data a tensor task moves to the device is counted once for the whole population. A
population fits when all of it stays under a share (80%) of the memory the device has free:
CUDA's ``mem_get_info``, or the operating system's available memory on a CPU.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from lrlab._errors import LrlabError
from lrlab.data import to_device
from lrlab.optim import get_rule
from lrlab.tasks import Split, Task
from lrlab.train._config import Member, SweepConfig

__all__ = ["MemoryEstimate", "available_memory", "estimate_memory", "parse_bytes", "size_text"]

#: The share of the free memory a population may plan to use.
SHARE = 0.8


@dataclass(frozen=True)
class MemoryEstimate:
    """A population's memory, in bytes.

    Attributes:
        per_member: what each member adds (weights, gradients, rule state, activations).
        shared: what the population needs once (tensor data on the device).
        limit: the bytes a population may use (a share of the free memory, or the limit
            the user gave).
    """

    per_member: int
    shared: int
    limit: int

    def total(self, members: int) -> int:
        """The bytes a population of ``members`` needs."""
        return self.shared + members * self.per_member

    def members_that_fit(self) -> int:
        """The most members one population can hold under ``limit`` (0: not even one)."""
        return max(0, (self.limit - self.shared) // max(1, self.per_member))


def available_memory(device: torch.device) -> int:
    """Bytes free on ``device``: CUDA's free memory, or the system's available memory."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 40  # cannot tell: no limit in practice


def size_text(count: float, *, limit: bool = False) -> str:
    """``count`` bytes as people read them, in the largest binary unit it fills (a memory
    message said "0.00 GiB" for a few KiB); ``limit=True`` writes it as a memory limit to
    give (``memory_limit=``, ``--memory-limit``; :func:`parse_bytes` reads it), rounded up to
    two significant figures so that it holds ``count``.

    Example:
        >>> size_text(1536), size_text(3 * 2**30), size_text(200), size_text(1023.9 * 2**10)
        ('1.5 KiB', '3 GiB', '200 B', '1024 KiB')
        >>> size_text(1.234 * 2**20, limit=True)
        '1.3MiB'
    """
    unit, scale = next(((u, s) for u, s in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20),
                                            ("KiB", 2**10)) if count >= s), ("B", 1))
    value = count / scale
    if limit:
        step = 10.0 ** (math.floor(math.log10(value)) - 1) if value > 0 else 1.0
        return f"{math.ceil(value / step - 1e-9) * step:.4g}{unit}"
    return f"{value:.0f} {unit}" if value >= 100 else f"{value:.3g} {unit}"


def parse_bytes(text: str | float) -> int:
    """``"4GB"``, ``"512MiB"``, ``"2e9"`` or a number of bytes, as bytes.

    Example:
        >>> parse_bytes("1.5GB"), parse_bytes("512MiB"), parse_bytes(1000)
        (1500000000, 536870912, 1000)
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        units = {"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "kib": 2**10,
                 "mib": 2**20, "gib": 2**30, "tib": 2**40}
        raw = str(text).strip().lower().replace(" ", "")
        number = raw.rstrip("abcdefghijklmnopqrstuvwxyz")
        unit = raw[len(number):]
        try:
            value = float(number) * units[unit]
        except (ValueError, KeyError):
            raise LrlabError(f"cannot read the memory size {text!r}; write it like 4GB, "
                             "512MiB or 2e9 (bytes)") from None
    if not math.isfinite(value) or value <= 0:
        raise LrlabError(f"a memory size must be positive, got {text!r}")
    return int(value)


def _rule_slots(optimizer: str) -> int:
    """Per-parameter tensors an update rule keeps (momentum 1, Adam 2, ...)."""
    probe = torch.zeros(1, 8)
    state = get_rule(optimizer).init([probe])
    count = 0

    def walk(value) -> None:
        nonlocal count
        if isinstance(value, torch.Tensor):
            count += value.numel() // probe.numel()
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
    walk(state)
    return count


def estimate_memory(task: Task, config: SweepConfig, members: Sequence[Member], *,
                    limit: int | None = None) -> MemoryEstimate:
    """What a population of ``members`` on ``task`` would need (see the module docstring).

    Args:
        task, config, members: what would train.
        limit: bytes a population may use; default 80% of the device's free memory.
    """
    from lrlab.train._fit import resolve_device, resolve_task
    from lrlab.train._loader import probe
    from lrlab.train._plan import plan_run

    task = resolve_task(task, config, members)  # a task from loaders: its kind, checked
    device = resolve_device(config.device)
    dtype = getattr(torch, config.dtype)
    size = torch.finfo(dtype).bits // 8
    seed = members[0].seed if members else config.seed
    model = task.init_model(seed)
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    buffers = sum(b.numel() for b in model.buffers())
    plan = plan_run(task, config, members)
    if isinstance(task.train, Split):
        activations = _split_activations(task, model.to(device, dtype), plan.batch_size,
                                         device, dtype)
        shared = sum(t.numel() * t.element_size()
                     for split in (task.train, task.val) for t in (split.x, split.y))
    else:
        activations = probe(task, batch_size=plan.batch_size, seed=seed, device=device,
                            dtype=dtype).activation_bytes
        shared = 0
    per_member = (4 + _rule_slots(config.optimizer)) * params * size + buffers * size \
        + 2 * activations
    budget = limit if limit is not None else int(SHARE * available_memory(device))
    return MemoryEstimate(per_member=int(per_member), shared=int(shared), limit=budget)


def _split_activations(task: Task, model: torch.nn.Module, batch_size: int,
                       device: torch.device, dtype: torch.dtype) -> int:
    """Bytes saved for backward by one model on one batch of a tensor task."""
    from lrlab.train._loader import first_loss, loss_fails, one_model_loss

    x = to_device(task.train.x[:batch_size], device, dtype)  # token ids stay integers
    y = task.train.y[:batch_size].to(device)
    saved = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved[0] += t.numel() * t.element_size()
        return t

    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), \
            torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x)
        try:
            first_loss(task.loss, out.unsqueeze(0), y)
        except LrlabError as err:
            raise LrlabError(f"task {task.name!r}: {one_model_loss(task, out, y) or err}") \
                from None
        except Exception as err:  # noqa: BLE001 - the user's loss: one line, as the probe's
            raise LrlabError(f"task {task.name!r}: " + (
                one_model_loss(task, out, y) or loss_fails(out, y, err, task.loss))) from None
    return saved[0]

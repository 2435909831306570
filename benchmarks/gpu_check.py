"""The GPU check: the CUDA tests, then the population against separate runs, in one call.

Made for a GPU machine lent for a few minutes (``docs/benchmarks.md``, "GPU check" gives the
exact command); it also runs on a CPU at tiny sizes (``--tiny``; the suite does that).

1. **CUDA tests**: ``pytest tests/cuda`` and the other CUDA tests of the suite, in a
   subprocess; its log goes to ``OUT/cuda_tests.txt``. Skipped with a note when pytest is
   missing.
2. **Population against separate runs**, side by side in one process, on two workloads:

   * ``mnist-cnn``: lrlab's small CNN (two conv blocks) on MNIST-shaped data, batch 100:
     real MNIST with ``--data-dir``, else synthetic images (normal noise, random labels);
   * ``resnet18``: ResNet-18 (torchvision's, or the same network in ``torch.nn`` when
     torchvision is missing, see ``_resnet.py``) on CIFAR-shaped synthetic data, batch 128.

   For each K, in interleaved repetitions: the **population** is ``lrlab.train.fit`` of K
   members (SGD, rates log-spaced 0.01..0.1, the same initial weights and batches), and the
   **plain run** is the loop a user writes for one of them (the same model, batches, steps,
   ``torch.optim.SGD``; the training loss summed on the device). Both evaluate the same small
   validation split after each epoch and read their epoch's numbers back then. The first
   epoch warms up (cuDNN, vmap, compilation) and is reported apart; the step time is the
   mean over the later epochs. K separate runs cost K plain runs: one is timed per
   repetition and scaled by K. With ``compile`` the population's step runs through
   ``torch.compile`` (``SweepConfig.compile``): its row shows what that buys.

Reported per workload and K: step time (min and median over repetitions), examples per
second per member, peak GPU memory, population / one plain run, throughput against K
separate runs, and the compiled step. The goals (issue 15) are checked after the eager rows;
a missed goal gets a ``torch.profiler`` table of the population's step (``OUT/profiles.txt``)
before the compiled rows, whose compilation may take minutes.
Everything is written under ``--out``: ``gpu_check.md``, ``gpu_check.json``, the test log.
A time budget (``--budget-s``, from the start) skips what would not fit, saying so.

Usage::

    python benchmarks/gpu_check.py --out DIR [--tiny] [--device cuda] [--data-dir MNIST]
        [--ks 1,8,32,64,128] [--resnet-ks 1,8] [--reps 3] [--budget-s 420] [--no-tests]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from _common import markdown_table, now, ratio
from _resnet import resnet18

from lrlab.tasks import Split, Task, get_task, small_cnn
from lrlab.train import EpochReport, fit, validated

ROOT = Path(__file__).resolve().parent.parent
CUDA_TESTS = ["tests/cuda", "tests/metrics/test_epoch.py", "tests/search/test_lr_amp.py"]
#: Seconds set aside for compiling a workload's step (ResNet-18 under vmap takes minutes).
COMPILE_ALLOWANCE_S = {"mnist-cnn": 45.0, "resnet18": 150.0}
GOALS = [  # (workload, K, measure, comparison, bound, text)
    ("mnist-cnn", 64, "throughput", ">=", 12.0,
     "mnist-cnn K=64: throughput >= 12x of 64 separate runs"),
    ("mnist-cnn", 8, "cost", "<=", 1.5, "mnist-cnn K=8: costs <= 1.5x one plain run"),
    ("resnet18", 8, "throughput", ">=", 2.5,
     "ResNet-18 K=8: throughput >= 2.5x of 8 separate runs"),
]


@dataclass
class Workload:
    """One model and its data, sized for the run."""

    name: str
    model: Callable[[], torch.nn.Module]
    train: Split
    val: Split
    batch: int
    data: str  # what the data is, for the report
    model_source: str = "lrlab"


@dataclass
class Timing:
    """One timed fit or plain run: its warm-up epoch, its step time and its peak memory."""

    first_epoch_s: float
    step_s: float
    cpu_s: float
    peak_mib: float | None
    path: str = ""


@dataclass
class Row:
    """Everything measured for one workload and K."""

    workload: str
    k: int
    plain: list[Timing] = field(default_factory=list)
    population: list[Timing] = field(default_factory=list)
    compiled: list[Timing] = field(default_factory=list)
    note: str = ""

    def step(self, which: str, how: Callable = min) -> float | None:
        timings = getattr(self, which)
        return how([t.step_s for t in timings]) if timings else None

    def summary(self) -> dict:
        plain, pop, comp = self.step("plain"), self.step("population"), self.step("compiled")
        return {"cost": None if not (plain and pop) else pop / plain,
                "throughput": None if not (plain and pop) else self.k * plain / pop,
                "compiled_vs_eager": None if not (pop and comp) else pop / comp}


# -- data and models ------------------------------------------------------------------------


def _synthetic(n: int, shape: tuple[int, ...], seed: int) -> Split:
    g = torch.Generator().manual_seed(seed)
    return Split(torch.randn(n, *shape, generator=g), torch.randint(0, 10, (n,), generator=g))


def workloads(args: argparse.Namespace) -> list[Workload]:
    steps, tiny = args.steps, args.tiny
    b_mnist, b_resnet = (8, 2) if tiny else (100, 128)
    side = 16 if tiny else 32  # tiny: smaller images, the same network
    if args.data_dir:
        task = get_task("mnist-cnn", data_dir=args.data_dir, download=False)
        train = Split(task.train.x[:steps * b_mnist], task.train.y[:steps * b_mnist])
        val = Split(task.val.x[:b_mnist], task.val.y[:b_mnist])
        mnist_data = f"real MNIST ({args.data_dir}), the first {len(train)} training images"
    else:
        train, val = _synthetic(steps * b_mnist, (1, 28, 28), 0), _synthetic(b_mnist,
                                                                             (1, 28, 28), 1)
        mnist_data = "MNIST-shaped synthetic data (1x28x28 normal noise, 10 random labels)"
    _, source = resnet18()
    return [
        Workload("mnist-cnn", lambda: small_cnn(10), train, val, b_mnist, mnist_data),
        Workload("resnet18", lambda: resnet18()[0],
                 _synthetic(steps * b_resnet, (3, side, side), 2),
                 _synthetic(b_resnet, (3, side, side), 3), b_resnet,
                 f"CIFAR-shaped synthetic data (3x{side}x{side} normal noise, 10 random "
                 "labels), tensors on the device", source),
    ]


# -- timing ---------------------------------------------------------------------------------


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None


def _timing(marks: list[float], cpu: float, steps: int, device: torch.device, path: str) -> Timing:
    """Epoch-end times (from the start) -> the warm-up epoch and the later epochs' step."""
    later = (marks[-1] - marks[0]) / (steps * (len(marks) - 1))
    return Timing(marks[0], later, cpu, _peak(device), path)


def time_population(w: Workload, k: int, args, device: torch.device, compile_: bool) -> Timing:
    task = Task(name=w.name, train=w.train, val=w.val, model=w.model, num_classes=10,
                batch_size=w.batch, epochs=args.epochs)
    rates = [float(f"{r:.4g}") for r in torch.logspace(-2, -1, k).tolist()]
    config = validated(lrs=rates, optimizer="sgd", device=str(device), compile=compile_,
                       eval_batch_size=len(w.val))
    marks: list[float] = []
    _reset_memory(device)
    _sync(device)
    start, cpu = time.perf_counter(), time.process_time()

    def mark(report: EpochReport) -> None:  # the report's values were read back: in sync
        marks.append(time.perf_counter() - start)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch's own, importing inductor
        result = fit(task, config.members(), config, callbacks=[mark])
    pop = result.population
    path = pop.path + (" compiled" if pop._compiler.active else
                       f" (compile failed: {pop._compiler.failed})" if compile_ else "")
    return _timing(marks, time.process_time() - cpu, len(w.train) // w.batch, device, path)


def time_plain(w: Workload, args, device: torch.device) -> Timing:
    """One plain PyTorch run: the same model, batches, steps and per-epoch validation."""
    torch.manual_seed(0)
    model = w.model().to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = w.train.x.to(device), w.train.y.to(device)
    vx, vy = w.val.x.to(device), w.val.y.to(device)
    marks: list[float] = []
    _reset_memory(device)
    _sync(device)
    start, cpu = time.perf_counter(), time.process_time()
    for epoch in range(1, args.epochs + 1):
        g = torch.Generator().manual_seed(epoch)  # lrlab's order: seed * 1_000_003 + epoch
        order = torch.randperm(len(x), generator=g).to(device)
        total = torch.zeros((), device=device)
        model.train()
        for xb, yb in zip(x[order].split(w.batch), y[order].split(w.batch)):
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
        model.eval()
        with torch.no_grad():
            out = model(vx)
            val = (F.cross_entropy(out, vy), (out.argmax(1) == vy).float().mean())
        float(total), float(val[0]), float(val[1])  # the epoch's numbers, read back
        marks.append(time.perf_counter() - start)
    return _timing(marks, time.process_time() - cpu, len(x) // w.batch, device, "plain")


# -- the run --------------------------------------------------------------------------------


class Budget:
    """Seconds left of ``total`` since ``start``; ``fits(cost)`` keeps a safety margin."""

    def __init__(self, total: float) -> None:
        self.start, self.total = time.perf_counter(), total

    def left(self) -> float:
        return self.total - (time.perf_counter() - self.start)

    def fits(self, cost: float) -> bool:
        return cost * 1.5 + 5 < self.left()


def measure(w: Workload, k: int, args, device, budget: Budget, compile_: bool,
            row: Row) -> None:
    """Interleaved repetitions: a plain run, then the population (eager or compiled; the
    compiled one once: each new population compiles afresh)."""
    reps = 1 if compile_ else args.reps
    for rep in range(reps):
        began = time.perf_counter()
        plain = time_plain(w, args, device)
        pop = time_population(w, k, args, device, compile_)
        if not compile_:
            row.plain.append(plain)
        (row.compiled if compile_ else row.population).append(pop)
        took = time.perf_counter() - began
        print(f"  {w.name} K={k}{' compiled' if compile_ else ''} rep {rep + 1}: plain "
              f"{plain.step_s * 1e3:.2f} ms/step, population {pop.step_s * 1e3:.2f} ms/step "
              f"({pop.path}), {took:.1f} s", flush=True)
        if rep + 1 < reps and not budget.fits(took):
            row.note += f"{rep + 1} of {reps} repetitions (time budget). "
            return


def run_benchmarks(args, device: torch.device, budget: Budget, loads: dict[str, Workload],
                   save: Callable[[list[Row]], None],
                   between: Callable[[list[Row]], None]) -> list[Row]:
    """Every planned measurement that fits the budget; ``save(rows)`` after each, so a run
    cut short still leaves its tables. A measurement that fails is noted and skipped.
    ``between(rows)`` runs after the eager measurements, before the compiled ones (whose
    compilation may take minutes)."""
    plan = [("mnist-cnn", k, False) for k in args.ks] + \
           [("resnet18", k, False) for k in args.resnet_ks] + \
           [("mnist-cnn", k, True) for k in args.compile_ks] + \
           [("resnet18", k, True) for k in args.resnet_compile_ks]
    rows: dict[tuple[str, int], Row] = {}
    last: dict[str, tuple[int, float]] = {}  # per workload: the last eager K and its seconds
    took: dict[tuple[str, int], float] = {}
    eager_done = False
    for name, k, compile_ in plan:
        if compile_ and not eager_done:
            between(list(rows.values()))
            eager_done = True
        row = rows.setdefault((name, k), Row(name, k))
        what = f"{name} K={k}{' compiled' if compile_ else ''}"
        if compile_:  # one repetition, plus compilation
            guess = took.get((name, k), 0.0) / args.reps + COMPILE_ALLOWANCE_S[name]
        else:  # at most linear in K from the last measurement
            last_k, seconds = last.get(name, (k, 0.0))
            guess = seconds * max(1.0, k / last_k)
        if not budget.fits(guess):
            row.note += f"{'compiled: ' if compile_ else ''}skipped (time budget). "
            print(f"  {what}: skipped, {budget.left():.0f} s left (needs ~{guess:.0f} s)",
                  flush=True)
            continue
        began = time.perf_counter()
        try:
            measure(loads[name], k, args, device, budget, compile_, row)
        except Exception as err:  # noqa: BLE001 - one failed measurement must not end the run
            why = "out of GPU memory" if isinstance(err, torch.cuda.OutOfMemoryError) else \
                f"failed: {type(err).__name__}: {str(err).strip().splitlines()[0][:160]}" \
                if str(err).strip() else f"failed: {type(err).__name__}"
            row.note += f"{'compiled: ' if compile_ else ''}{why}. "
            print(f"  {what}: {why}", flush=True)
            traceback.print_exc()
            if device.type == "cuda":
                torch.cuda.empty_cache()
            continue
        finally:
            save(list(rows.values()))
        if not compile_:
            took[(name, k)] = time.perf_counter() - began
            last[name] = (k, took[(name, k)])
    if not eager_done:
        between(list(rows.values()))
    return list(rows.values())


def run_tests(out: Path, timeout: float) -> dict:
    """The CUDA tests in a subprocess (pytest), logged to ``OUT/cuda_tests.txt``."""
    log = out / "cuda_tests.txt"
    try:
        import pytest  # noqa: F401 - only whether it is there
    except ImportError:
        log.write_text("pytest is not installed: carry its wheels (docs/benchmarks.md)\n")
        return {"ran": False, "summary": "not run: pytest is not installed"}
    argv = [sys.executable, "-m", "pytest", *CUDA_TESTS, "-rs", "-p", "no:cacheprovider"]
    began = time.perf_counter()
    try:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              check=False)
        text, code = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as err:
        text = f"{err.stdout or ''}{err.stderr or ''}\ntimed out after {timeout:.0f} s"
        code = None
    log.write_text(f"$ {' '.join(argv)}\n{text}")
    lines = [line for line in text.splitlines() if line.strip()]
    summary = next((line for line in reversed(lines) if " in " in line and (
        "passed" in line or "failed" in line or "skipped" in line or "error" in line)),
        lines[-1] if lines else "no output")
    return {"ran": True, "returncode": code, "summary": summary.strip("= "),
            "seconds": round(time.perf_counter() - began, 1)}


# -- goals, profiles, report ----------------------------------------------------------------


def check_goals(rows: list[Row]) -> list[dict]:
    by_key = {(r.workload, r.k): r.summary() for r in rows}
    out = []
    for workload, k, measure_, op, bound, text in GOALS:
        value = by_key.get((workload, k), {}).get(measure_)
        met = None if value is None else (value >= bound if op == ">=" else value <= bound)
        out.append({"goal": text, "workload": workload, "k": k, "value": value, "met": met})
    return out


def profile_step(w: Workload, k: int, device: torch.device, steps: int = 10) -> str:
    """``torch.profiler``'s table of ``steps`` population steps (after warm-up steps)."""
    from lrlab.metrics import cross_entropy
    from lrlab.population import Population

    pop = Population(w.model(), "sgd", {"lr": torch.logspace(-2, -1, k).tolist()}, device=device)
    x, y = w.train.x[:w.batch].to(device), w.train.y[:w.batch].to(device)
    for _ in range(3):
        pop.step(x, y, cross_entropy)
    _sync(device)
    acts = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        acts.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=acts) as prof:
        for _ in range(steps):
            pop.step(x, y, cross_entropy)
        _sync(device)
    keys = ["device_time_total", "cuda_time_total"] if device.type == "cuda" else []
    averages, error = prof.key_averages(), None
    for key in [*keys, "cpu_time_total"]:  # torch renamed cuda_time to device_time
        try:
            table = averages.table(sort_by=key, row_limit=25, max_name_column_width=70)
        except (AttributeError, KeyError, ValueError, RuntimeError, TypeError) as err:
            error = err
            continue
        return f"## {w.name} K={k}: {steps} population steps ({pop.path} path), by {key}\n\n" \
            + table
    raise RuntimeError(f"no profiler table: {error!r}")


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value * 1e3:,.2f}"


def _cell(row: Row, which: str) -> str:
    lo, mid = row.step(which, min), row.step(which, statistics.median)
    if lo is None:
        return "—"
    return _ms(lo) if len(getattr(row, which)) == 1 else f"{_ms(lo)} ({_ms(mid)})"


def report(rows: list[Row], goals: list[dict], env: dict, tests: dict,
           loads: dict[str, Workload], args) -> str:
    head = ["workload", "K", "plain ms/step", "population ms/step", "population / 1 plain",
            "throughput vs K runs", "ex/s per member (pop / plain)", "peak MiB (pop / plain)",
            "compiled ms/step", "eager / compiled", "first epoch s (eager / compiled)", "path"]
    table = []
    for r in rows:
        s = r.summary()
        plain, pop = r.step("plain"), r.step("population")
        eps = "—" if not (plain and pop) else f"{loads[r.workload].batch / pop:,.0f} / " \
                                              f"{loads[r.workload].batch / plain:,.0f}"
        mem = [t.peak_mib for t in (r.population[:1] + r.plain[:1]) if t.peak_mib is not None]
        first = " / ".join(f"{t[0].first_epoch_s:.1f}" if t else "—"
                           for t in (r.population, r.compiled))
        paths = "; ".join(dict.fromkeys(t.path for t in r.population + r.compiled))
        table.append([r.workload, str(r.k), _cell(r, "plain"), _cell(r, "population"),
                      ratio(s["cost"]), ratio(s["throughput"]), eps,
                      " / ".join(f"{m:,.0f}" for m in mem) if len(mem) == 2 else "—",
                      _cell(r, "compiled"), ratio(s["compiled_vs_eager"]), first,
                      paths + (f" — {r.note.strip()}" if r.note else "")])
    goal_lines = [f"- {g['goal']}: " + ("**not measured**" if g["met"] is None else
                  f"**{'met' if g['met'] else 'not met'}** ({g['value']:.2f}x)") for g in goals]
    data = "\n".join(f"- {w.name}: {w.data}; batch {w.batch}, {len(w.train) // w.batch} steps "
                     f"per epoch; model: {w.model_source}" for w in loads.values())
    return "\n".join([
        f"## GPU check: population against separate runs ({env['device']})", "",
        f"Produced by `{env['command']}` on {env['date']} in {env['seconds']:.0f} s.", "",
        (f"Machine: {env['device']}, torch {env['torch']}, CUDA {env['cuda']}, Python "
         f"{env['python']}, {env['cpus']} CPU cores."), "",
        f"CUDA tests: {tests.get('summary', 'not run')} (log: `cuda_tests.txt`).", "",
        (f"Data: {args.epochs} epochs per run, the first a warm-up (reported apart), step "
         f"times from the others; min over {args.reps} interleaved repetitions (median in "
         "brackets); K separate runs = K x one timed plain run."), "", data, "",
        markdown_table(head, table), "", "Goals:", "", *goal_lines, ""])


def environment(device: torch.device) -> dict:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"CPU ({platform.machine()})"
    return {"device": name, "torch": torch.__version__, "cuda": torch.version.cuda or "none",
            "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
            "python": platform.python_version(), "cpus": os.cpu_count(), "date": now(),
            "command": " ".join(["python", *sys.argv])}


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="folder for the tables and logs")
    p.add_argument("--device", default=None, help="cuda (default when available) or cpu")
    p.add_argument("--tiny", action="store_true", help="tiny sizes: a CPU check in seconds")
    p.add_argument("--data-dir", help="real MNIST (IDX files) instead of synthetic images")
    p.add_argument("--ks", type=_ints, default=None, help="mnist-cnn K values")
    p.add_argument("--resnet-ks", type=_ints, default=None)
    p.add_argument("--compile-ks", type=_ints, default=None)
    p.add_argument("--resnet-compile-ks", type=_ints, default=None)
    p.add_argument("--steps", type=int, default=None, help="steps per epoch")
    p.add_argument("--epochs", type=int, default=None, help="epochs per run (1 warm-up)")
    p.add_argument("--reps", type=int, default=None, help="interleaved repetitions")
    p.add_argument("--budget-s", type=float, default=420.0, help="seconds for everything")
    p.add_argument("--tests-timeout-s", type=float, default=240.0)
    p.add_argument("--no-tests", dest="tests", action="store_false")
    p.add_argument("--no-profile", dest="profile", action="store_false")
    args = p.parse_args(argv)
    sizes = {"ks": [1, 2], "resnet_ks": [2], "compile_ks": [], "resnet_compile_ks": [],
             "steps": 2, "epochs": 2, "reps": 1} if args.tiny else \
        {"ks": [1, 8, 32, 64, 128], "resnet_ks": [1, 8], "compile_ks": [8, 64],
         "resnet_compile_ks": [8], "steps": 40, "epochs": 4, "reps": 3}
    for name, value in sizes.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.epochs < 2 or args.steps < 1 or args.reps < 1:
        p.error("--epochs must be at least 2 (one warm-up), --steps and --reps at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    budget = Budget(args.budget_s)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    args.out.mkdir(parents=True, exist_ok=True)
    env = environment(device)
    print(f"gpu_check on {env['device']}, torch {env['torch']}", flush=True)
    tests = run_tests(args.out, min(args.tests_timeout_s, budget.left() / 2)) if args.tests \
        else {"ran": False, "summary": "not run (--no-tests)"}
    print(f"CUDA tests: {tests['summary']}", flush=True)
    loads = {w.name: w for w in workloads(args)}

    def save(rows: list[Row]) -> None:
        env["seconds"] = args.budget_s - budget.left()
        write(args.out, rows, check_goals(rows), env, tests, loads, args)

    def profile(rows: list[Row]) -> None:
        """A profile of each missed goal's population step (``OUT/profiles.txt``)."""
        missed = [g for g in check_goals(rows) if g["met"] is False]
        texts = []
        for g in missed if args.profile else []:
            if budget.fits(20.0):
                try:
                    texts.append(profile_step(loads[g["workload"]], g["k"], device))
                except Exception as err:  # noqa: BLE001 - the tables matter more
                    texts.append(f"## {g['workload']} K={g['k']}: profiling failed: {err!r}")
        if texts:
            (args.out / "profiles.txt").write_text("\n\n".join(texts), encoding="utf-8")
            print(f"profiled {len(texts)} population step(s): profiles.txt", flush=True)

    rows = run_benchmarks(args, device, budget, loads, save, profile)
    save(rows)
    print((args.out / "gpu_check.md").read_text(encoding="utf-8"), flush=True)
    return 0


def write(out: Path, rows: list[Row], goals: list[dict], env: dict, tests: dict,
          loads: dict[str, Workload], args) -> None:
    """``gpu_check.md`` and ``gpu_check.json`` under ``out``, as they stand."""
    (out / "gpu_check.md").write_text(report(rows, goals, env, tests, loads, args),
                                      encoding="utf-8")
    payload = {"environment": env, "tests": tests, "goals": goals,
               "rows": [{**asdict(r), **r.summary()} for r in rows],
               "data": {w.name: {"data": w.data, "batch": w.batch, "model": w.model_source,
                                 "steps_per_epoch": len(w.train) // w.batch}
                        for w in loads.values()}}
    (out / "gpu_check.json").write_text(json.dumps(payload, indent=1, default=str),
                                        encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())

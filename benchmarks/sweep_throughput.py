"""How much faster one lrlab population of K members is than K separate training runs.

What is measured, all in one process, one after another (so the ratios are side by side):

* **population**: ``lrlab.sweep(task, lrs=<K rates>, epochs=E, device="cpu")``, K rates
  log-spaced from 1e-3 to 1, validation metrics (loss, accuracy, Keras ROC AUC, ...) every
  epoch, the :class:`~lrlab.train.SweepResult` built at the end.
* **plain PyTorch**: K sequential runs of the loop a user would write for the same model
  (``task.model()``), ``torch.optim.SGD``, the same batch size, a fresh shuffle each epoch,
  and after each epoch the validation loss, accuracy and ROC AUC (scikit-learn's
  ``roc_auc_score`` on the flattened one-hot targets, as Keras' default AUC flattens them).
  The training loss is summed as a tensor and read once per epoch, so this loop is a lean
  baseline. For K above ``--plain-runs``, that many runs are timed and the time scaled to K.
* **Keras** (blobs only): the brief's own Keras code, ``fit(..., validation_data=...,
  epochs=E, batch_size=50)`` with ``metrics=[keras.metrics.AUC()]`` on
  ``KERAS_BACKEND=torch``; ``--keras-runs`` runs are timed once and scaled to each K.
  Keras is optional (``pip install -e '.[bench]'``); without it that column says so.
* **JAX** (``pip install -e '.[bench]'``): the same K rates as a skilled JAX user would
  train them (``benchmarks/_jax_reference.py``): parameters stacked over K, the step
  ``vmap``-ped over the members, each epoch one ``jit``-compiled ``lax.scan`` over its steps
  followed by the validation loss, accuracy and Keras AUC; same data, initial weights,
  example order and rates. Its compile time is reported apart, not in its run time. It
  runs in a process of its own (:class:`JaxWorker`: JAX's runtime threads, loaded in the
  timed process, slowed the PyTorch runs beside them by 5-15%).
* **MNIST**: the ``mnist-mlp`` task (784-256-10) with K = 16, population against 16 plain
  runs and JAX, on a stratified subset of the training images for a few epochs (the
  validation set, 10,000 images, is evaluated in full every epoch by all). The same run
  measures the single-thread float32 GEMM ceiling (a 1024^3 ``torch.mm``) and reports what
  share of it each method reaches (its multiply-adds over its CPU seconds).

Every figure is timed ``--reps`` times, the methods interleaved (population, plain, JAX,
population, ...), and reported as minimum / median of the process's CPU seconds (beside
the wall seconds): the machine may be shared, and CPU seconds are disturbed far less.
Ratios use the minima.

Threads: one intra-op thread by default (``--threads``). On a shared machine whose cores
are busy with other work, intra-op threads that wait on each other time the scheduler rather
than the code: on the 2-core machine this was written on, with other jobs running, a 20-epoch
plain blobs run took 0.55 s on one thread and 18-27 s on two, and the population slowed as
much. ``--threads 0`` keeps torch's default, for a machine of one's own.

How to read it: the machine this runs on may be shared and slow, so absolute seconds mean
little; compare the ratios. ``population / 1 plain run`` is the population's cost in units of
one network trained alone (1.0x: K rates for the price of one); ``throughput`` is how many
times faster the population is than training the K networks one by one.

Usage::

    python benchmarks/sweep_throughput.py [--quick] [--ks 1,4,32,256] [--reps 3]
        [--keras-runs 2] [--plain-runs 3] [--threads 1] [--data-dir ../shared/data/mnist]
        [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import itertools
import math
import multiprocessing
import os
import sys
import warnings
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
import torch.nn.functional as F
from _common import (
    Sample,
    command_line,
    machine,
    markdown_table,
    min_median,
    now,
    ratio,
    timed_cpu,
    write_section,
)
from sklearn.metrics import roc_auc_score

from lrlab import LrlabError, sweep
from lrlab._malloc import keep_freed_memory
from lrlab.tasks import Task, get_task

SECTION = "sweep_throughput"
SEED = 0
TARGET_K = 32
MNIST_K = 16

# -- settings --------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What to run, from the command line."""

    ks: list[int]
    epochs: int
    plain_runs: int
    keras_runs: int
    data_dir: str
    mnist_k: int
    mnist_subset: int
    mnist_epochs: int
    threads: int
    reps: int
    jax: bool
    write: Path | None


def parse_args(argv: list[str] | None = None) -> Settings:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="smoke test: K in {1, 4}, 20 epochs, 1 Keras run, 2 plain runs, "
                   "MNIST with K=4 on 1000 images")
    p.add_argument("--ks", default=None, help="population sizes on blobs (default 1,4,32,256)")
    p.add_argument("--epochs", type=int, default=None, help="blobs epochs (default 200)")
    p.add_argument("--plain-runs", type=int, default=None,
                   help="plain PyTorch runs timed per K, scaled to K (default 3)")
    p.add_argument("--keras-runs", type=int, default=None,
                   help="Keras runs timed, scaled to each K (default 2; 0 skips Keras)")
    p.add_argument("--data-dir", default="../shared/data/mnist",
                   help="directory of the MNIST IDX files (nothing is downloaded)")
    p.add_argument("--mnist-subset", type=int, default=None,
                   help="training images used on mnist-mlp (default 10000)")
    p.add_argument("--mnist-epochs", type=int, default=None, help="mnist-mlp epochs (default 2)")
    p.add_argument("--reps", type=int, default=None,
                   help="interleaved repetitions of every timing (default 3; 1 with --quick)")
    p.add_argument("--no-jax", action="store_true", help="skip the JAX column")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads (default 1; 0 keeps torch's own default)")
    p.add_argument("--write", type=Path, default=None, metavar="MD",
                   help=f"replace the {SECTION} section of this Markdown file")
    a = p.parse_args(argv)
    quick = a.quick
    ks = a.ks or ("1,4" if quick else "1,4,32,256")
    settings = Settings(
        ks=[int(k) for k in ks.split(",")],
        epochs=a.epochs or (20 if quick else 200),
        plain_runs=a.plain_runs if a.plain_runs is not None else (2 if quick else 3),
        keras_runs=a.keras_runs if a.keras_runs is not None else (1 if quick else 2),
        data_dir=a.data_dir,
        mnist_k=4 if quick else MNIST_K,
        mnist_subset=a.mnist_subset or (1000 if quick else 10_000),
        mnist_epochs=a.mnist_epochs or (1 if quick else 2),
        threads=a.threads,
        reps=a.reps or (1 if quick else 3),
        jax=not a.no_jax,
        write=a.write,
    )
    if min(settings.ks) < 1 or settings.plain_runs < 1 or settings.reps < 1:
        p.error("--ks, --plain-runs and --reps must be at least 1")
    if min(settings.keras_runs, settings.threads) < 0:
        p.error("--keras-runs and --threads must be at least 0")
    return settings


def rates(k: int) -> list[float]:
    """K learning rates, log-spaced from 1e-3 to 1."""
    return [float(r) for r in np.geomspace(1e-3, 1.0, k)]


def spread(values: list[float], n: int) -> list[float]:
    """``n`` of ``values`` (n <= len), evenly spaced over the list, ends included."""
    idx = np.linspace(0, len(values) - 1, n).round().astype(int)
    return [values[i] for i in idx]


def plural(n: int, word: str) -> str:
    """``1 run``, ``3 runs``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- what is timed ---------------------------------------------------------------------


def population(task: Task, lrs: list[float], epochs: int) -> Sample:
    """One lrlab sweep of all ``lrs`` (validation metrics every epoch), timed."""
    return timed_cpu(lambda: sweep(task, lrs=lrs, epochs=epochs, device="cpu"))[0]


def _auc(onehot: np.ndarray, probs: np.ndarray) -> float:
    if not np.isfinite(probs).all():  # a diverged run: scikit-learn refuses NaN
        return math.nan
    return float(roc_auc_score(onehot, probs))


def plain_run(task: Task, lr: float, epochs: int, seed: int = SEED) -> list[dict[str, float]]:
    """One network trained the usual PyTorch way; returns its validation history."""
    torch.manual_seed(seed)
    model = task.model()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x, y, vx, vy = task.train.x, task.train.y, task.val.x, task.val.y
    onehot = F.one_hot(vy, task.num_classes).numpy().ravel()
    order = torch.Generator().manual_seed(seed)
    history = []
    for _ in range(epochs):
        model.train()
        train_loss = torch.zeros(())
        for idx in torch.randperm(len(x), generator=order).split(task.batch_size):
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            train_loss += loss.detach()
        model.eval()
        with torch.no_grad():
            logits = model(vx)
        history.append({
            "train_loss": train_loss.item() / math.ceil(len(x) / task.batch_size),
            "val_loss": F.cross_entropy(logits, vy).item(),
            "val_accuracy": (logits.argmax(1) == vy).float().mean().item(),
            "val_auc": _auc(onehot, logits.softmax(1).numpy().ravel()),
        })
    return history


def keras_module() -> ModuleType | None:
    """Keras 3 on the torch backend, or ``None`` when it is not installed."""
    os.environ["KERAS_BACKEND"] = "torch"
    try:
        import keras
    except ImportError:
        return None
    return keras


def keras_run(keras: ModuleType, task: Task, lr: float, epochs: int, seed: int = SEED) -> None:
    """The brief's Keras experiment, as written there, at one rate."""
    keras.utils.set_random_seed(seed)
    eye = np.eye(task.num_classes, dtype=np.float32)
    x_train, x_val = task.train.x.numpy(), task.val.x.numpy()
    y_train, y_val = eye[task.train.y.numpy()], eye[task.val.y.numpy()]
    model = keras.Sequential([
        keras.Input((x_train.shape[1],)),
        keras.layers.Dense(50, activation="relu", kernel_initializer="he_uniform"),
        keras.layers.Dense(task.num_classes, activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy",
                  optimizer=keras.optimizers.SGD(learning_rate=lr),
                  metrics=[keras.metrics.AUC()])
    model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=epochs,
              batch_size=task.batch_size, verbose=0)


# -- measurements ----------------------------------------------------------------------


@dataclass
class Timings:
    """Every timing of one population size, repetition by repetition."""

    k: int
    population: list[Sample] = field(default_factory=list)
    plain: list[Sample] = field(default_factory=list)  # per run
    plain_runs: int = 0  # runs timed per repetition
    jax: list[Sample] = field(default_factory=list)
    jax_compile: Sample | None = None
    keras_per_run: float | None = None  # wall seconds, timed once

    @staticmethod
    def best(samples: list[Sample]) -> float | None:
        return min(x.cpu for x in samples) if samples else None

    def cell(self, samples: list[Sample], scale: int = 1) -> str:
        if not samples:
            return "—"
        cpu = min_median([x.cpu * scale for x in samples])
        wall = min_median([x.wall * scale for x in samples])
        return f"{cpu} CPU ({wall} wall)"

    def per_plain(self, seconds: float | None) -> float | None:
        plain = self.best(self.plain)
        return None if seconds is None or not plain else seconds / plain

    @property
    def cost_of_k(self) -> float | None:
        """Population CPU seconds over one plain run's."""
        return self.per_plain(self.best(self.population))

    @property
    def throughput(self) -> float | None:
        pop, plain = self.best(self.population), self.best(self.plain)
        return None if not pop or plain is None else plain * self.k / pop

    @property
    def vs_jax(self) -> float | None:
        """Population CPU seconds over JAX's (compile apart)."""
        pop, jax = self.best(self.population), self.best(self.jax)
        return None if pop is None or not jax else pop / jax


def plain_sample(task: Task, lrs: list[float], n: int, epochs: int) -> Sample:
    """Seconds per plain run: ``n`` runs at rates spread over ``lrs``, timed together."""
    chosen = spread(lrs, min(n, len(lrs)))
    sample, _ = timed_cpu(lambda: [plain_run(task, lr, epochs) for lr in chosen])
    return Sample(sample.wall / len(chosen), sample.cpu / len(chosen))


class JaxWorker:
    """The JAX reference (``_jax_reference``) in a process of its own, timed there.

    JAX's runtime keeps about twenty threads that wake up now and then; in the timed
    process they preempted the PyTorch runs (30-50x the involuntary context switches) and
    inflated their CPU seconds by 5-15% (blobs K = 32: population 1.97-2.13 s alone, 2.17-2.56
    s with JAX loaded beside it). A user runs one or the other, so each gets its own
    process; the repetitions stay interleaved (the worker waits while PyTorch runs).
    """

    def __init__(self, data_dir: str, mnist_subset: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_jax_serve, args=(child, data_dir, mnist_subset),
                                   daemon=True)
        self.process.start()
        self.versions: tuple[str, str] | None = self.conn.recv()  # None: not installed

    def _ask(self, *message: object) -> Sample:
        self.conn.send(message)
        answer = self.conn.recv()
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def compile(self, name: str, lrs: list[float], batch_size: int) -> Sample:
        """Build the reference for task ``name`` at ``lrs`` and compile its epoch."""
        return self._ask("compile", name, lrs, batch_size)

    def run(self, epochs: int, batch_size: int) -> Sample:
        """Train the last compiled reference ``epochs`` epochs, timed in the worker."""
        return self._ask("run", epochs, batch_size)

    def close(self) -> None:
        self.conn.send(("stop",))
        self.process.join(timeout=30)


def _jax_task(name: str, data_dir: str, mnist_subset: int) -> Task:
    """The task the parent times, built the same way (deterministic)."""
    if name == "blobs":
        return get_task("blobs")
    task = get_task("mnist-mlp", data_dir=data_dir, download=False)
    return task.subset(mnist_subset, seed=SEED)


def _jax_serve(conn, data_dir: str, mnist_subset: int) -> None:
    """The worker's loop: answer ``compile`` and ``run`` with their timings."""
    torch.set_num_threads(1)
    try:
        import _jax_reference as jx
    except ImportError:
        conn.send(None)
        return
    conn.send((jx.jax.__version__, jx.optax.__version__))
    reference = None
    while True:
        message = conn.recv()
        try:
            if message[0] == "compile":
                _, name, lrs, batch_size = message
                reference = jx.JaxSweep(_jax_task(name, data_dir, mnist_subset), lrs, seed=SEED)
                answer = timed_cpu(partial(reference.compile, batch_size))[0]
            elif message[0] == "run":
                _, epochs, batch_size = message
                answer = timed_cpu(partial(reference.run, epochs, batch_size))[0]
            else:
                return
        except Exception as err:  # noqa: BLE001 - handed to the parent, which raises it
            answer = err
        conn.send(answer)


def measure(task: Task, k: int, epochs: int, s: Settings, jx: JaxWorker | None,
            name: str) -> Timings:
    """Population, plain runs and JAX at K rates, ``s.reps`` times, interleaved."""
    lrs, t = rates(k), Timings(k, plain_runs=min(s.plain_runs, k))
    if jx is not None:
        t.jax_compile = jx.compile(name, lrs, task.batch_size)
    for _ in range(s.reps):
        t.population.append(population(task, lrs, epochs))
        t.plain.append(plain_sample(task, lrs, t.plain_runs, epochs))
        if jx is not None:
            t.jax.append(jx.run(epochs, task.batch_size))
    log(f"{name} K={k}: population {min_median([x.cpu for x in t.population])} CPU, "
        f"plain {min_median([x.cpu for x in t.plain])} CPU per run, "
        f"JAX {min_median([x.cpu for x in t.jax])} CPU")
    return t


# -- the benchmark ---------------------------------------------------------------------


def warm_up(task: Task, keras: ModuleType | None) -> None:
    """Run every method briefly once, so no timing pays for first-call set-up."""
    population(task, rates(2), 2)
    plain_run(task, 0.1, 2)
    if keras is not None:
        keras_run(keras, task, 0.1, 1)


def blobs_rows(s: Settings, keras: ModuleType | None, jx: JaxWorker | None
               ) -> list[Timings]:
    task = get_task("blobs")
    warm_up(task, keras)
    keras_per_run = None
    if keras is not None and s.keras_runs > 0:
        log(f"blobs: timing {plural(s.keras_runs, 'Keras run')} of {s.epochs} epochs ...")
        chosen = rates(s.keras_runs)
        sample, _ = timed_cpu(lambda: [keras_run(keras, task, lr, s.epochs) for lr in chosen])
        keras_per_run = sample.wall / len(chosen)
    rows = []
    for k in s.ks:
        t = measure(task, k, s.epochs, s, jx, "blobs")
        t.keras_per_run = keras_per_run
        rows.append(t)
    return rows


@dataclass(frozen=True)
class MnistResult:
    timings: Timings
    train_examples: int
    epochs: int
    flops: float  # per member
    ceiling: float  # GFLOP/s

    def share(self, samples: list[Sample]) -> float | None:
        """The share of the GEMM ceiling a method reached (best repetition)."""
        best = Timings.best(samples)
        return None if not best else self.flops * self.timings.k / best / 1e9 / self.ceiling


def mnist_result(s: Settings, jx: JaxWorker | None) -> MnistResult | str:
    """The mnist-mlp comparison, or why it was skipped."""
    try:
        task = get_task("mnist-mlp", data_dir=s.data_dir, download=False)
    except LrlabError as err:
        return f"skipped: MNIST not found under {s.data_dir} ({err})"
    task = task.subset(s.mnist_subset, seed=SEED)
    population(task, rates(2), 1)  # warm-up on this model's shapes
    ceiling = max(gemm_ceiling() for _ in range(s.reps))
    t = measure(task, s.mnist_k, s.mnist_epochs, s, jx, "mnist-mlp")
    flops = flops_per_member([784, 256, 10], len(task.train), len(task.val), s.mnist_epochs)
    return MnistResult(t, len(task.train), s.mnist_epochs, flops, ceiling)


def gemm_ceiling(n: int = 1024, reps: int = 5) -> float:
    """Single-thread float32 GEMM throughput (GFLOP/s, the best of ``reps`` CPU-timed
    ``n x n x n`` products): the ceiling a compute-bound run can approach."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(timed_cpu(lambda: torch.mm(a, b))[0].cpu for _ in range(reps))
    return 2 * n**3 / best / 1e9


def flops_per_member(sizes: list[int], train: int, val: int, epochs: int) -> float:
    """Multiply-adds x 2 of an MLP run: forward, weight and input gradients (none for the
    input layer) on every training example, forward on every validation example."""
    weights = sum(a * b for a, b in itertools.pairwise(sizes))
    input_grads = weights - sizes[0] * sizes[1]
    return epochs * (2 * train * (2 * weights + input_grads) + 2 * val * weights)


# -- the report ------------------------------------------------------------------------


def blobs_table(rows: list[Timings], keras_note: str) -> str:
    headers = ["K", "population", "plain PyTorch, per run", "JAX (compile apart)",
               "JAX compile", "population / 1 plain run", "population / JAX",
               "throughput (K plain runs / population)", "Keras K runs / population (wall)"]
    body = []
    for r in rows:
        pop_wall = min((x.wall for x in r.population), default=None)
        keras = (keras_note if r.keras_per_run is None or not pop_wall
                 else ratio(r.keras_per_run * r.k / pop_wall))
        body.append([str(r.k), r.cell(r.population),
                     f"{r.cell(r.plain)} (mean of {plural(r.plain_runs, 'run')})",
                     r.cell(r.jax),
                     "—" if r.jax_compile is None else f"{r.jax_compile.cpu:.2f} s CPU",
                     ratio(r.cost_of_k), ratio(r.vs_jax), ratio(r.throughput), keras])
    return markdown_table(headers, body)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def mnist_table(m: MnistResult) -> str:
    t = m.timings
    headers = ["K", "train images", "epochs", "population", f"plain PyTorch, {t.k} runs",
               "JAX (compile apart)", "population / JAX", "GEMM ceiling",
               "population: share of ceiling", "JAX: share", "plain: share"]
    plain_share = m.share([Sample(x.wall * t.k, x.cpu * t.k) for x in t.plain])
    row = [str(t.k), f"{m.train_examples:,}", str(m.epochs), t.cell(t.population),
           t.cell(t.plain, t.k), t.cell(t.jax), ratio(t.vs_jax), f"{m.ceiling:.0f} GFLOP/s",
           percent(m.share(t.population)), percent(m.share(t.jax)), percent(plain_share)]
    return markdown_table(headers, [row])


def verdict(name: str, value: float | None, target: float, *, at_most: bool = False,
            unit: str = "x") -> str:
    sign = "<=" if at_most else ">="
    shown = f"{100 * target:g}%" if unit == "%" else f"{target:g}x"
    if value is None:
        return f"- {name} {sign} {shown}: not measured"
    met = value <= target if at_most else value >= target
    got = f"{100 * value:.0f}%" if unit == "%" else f"{value:.2f}x"
    return f"- {name} {sign} {shown}: **{'met' if met else 'not met'}** ({got})"


def targets(rows: list[Timings], mnist: MnistResult | str) -> list[str]:
    at = next((r for r in rows if r.k == TARGET_K), None)
    one = next((r for r in rows if r.k == 1), None)
    k = f"K={TARGET_K}"
    m = mnist if isinstance(mnist, MnistResult) and mnist.timings.k == MNIST_K else None
    return [
        verdict(f"blobs {k}, population / JAX", at and at.vs_jax, 1.5, at_most=True),
        verdict(f"blobs {k}, population / 1 plain run", at and at.cost_of_k, 1.5, at_most=True),
        verdict("blobs K=1, population / 1 plain run", one and one.cost_of_k, 1.0, at_most=True),
        verdict(f"mnist-mlp K={MNIST_K}, population / JAX", m and m.timings.vs_jax, 1.0,
                at_most=True),
        verdict(f"mnist-mlp K={MNIST_K}, share of the GEMM ceiling",
                m and m.share(m.timings.population), 0.7, unit="%"),
        verdict(f"blobs {k}, throughput", at and at.throughput, 20),
    ]


def threads_note(threads: int) -> str:
    if not threads:
        return "Threads: torch's default (`--threads 0`)."
    return (f"Threads: {plural(threads, 'intra-op thread')} (`--threads`, default 1; JAX's "
            "XLA is asked for one too): on a shared machine, threads waiting on each other "
            "time the scheduler rather than the code (see the script's docstring).")


def report(s: Settings, rows: list[Timings], keras_note: str, mnist: MnistResult | str,
           tuned: bool, jax_note: str) -> str:
    parts = [
        "## Sweep throughput: one population against K separate runs and JAX",
        f"Produced by `{command_line()}` on {now()}.",
        f"Machine: {machine()}; {jax_note}.",
        threads_note(s.threads),
        ("Allocator: glibc's mmap/trim thresholds raised to 64 MiB for the whole process "
         "(`lrlab._malloc.keep_freed_memory`, as the `lrlab` command does)." if tuned else
         "Allocator: the C library's defaults."),
        (f"Each cell: minimum / median of {plural(s.reps, 'interleaved repetition')}, CPU "
         "seconds of the process timing it (JAX: its worker; wall seconds in brackets). "
         "Ratios: of the minimum CPU "
         "seconds."),
        (f"**blobs** (the brief's experiment: 2-50-3 dense network, SGD, batch 50, "
         f"{s.epochs} epochs, validation loss, accuracy and ROC AUC every epoch; rates "
         "log-spaced 1e-3..1):"),
        blobs_table(rows, keras_note),
    ]
    if isinstance(mnist, MnistResult):
        epochs = plural(mnist.epochs, "epoch")
        parts += [(f"**mnist-mlp** (784-256-10, SGD, batch 100; trained on a stratified "
                   f"subset of {mnist.train_examples:,} images for {epochs} to keep the "
                   "benchmark short; all 10,000 validation images evaluated every epoch; "
                   "share of ceiling: the run's multiply-adds x 2 over its CPU seconds, "
                   "against a 1024^3 float32 `torch.mm` on one thread):"),
                  mnist_table(mnist)]
    else:
        parts.append(f"**mnist-mlp**: {mnist}.")
    parts += ["Targets:", "\n".join(targets(rows, mnist))]
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> None:
    s = parse_args(argv)
    if s.threads:
        torch.set_num_threads(s.threads)
    # the allocator setting the lrlab command line uses for its own process; process-wide,
    # so the plain and Keras baselines run under it too
    tuned = keep_freed_memory()
    warnings.filterwarnings("ignore", category=UserWarning, module="keras")
    keras = keras_module() if s.keras_runs > 0 else None
    keras_note = ("keras not installed" if keras is None and s.keras_runs > 0
                  else "skipped (--keras-runs 0)")
    jx = JaxWorker(s.data_dir, s.mnist_subset) if s.jax else None
    if jx is not None and jx.versions is None:
        jx.process.join()
        jx = None
        jax_note = "JAX not installed (pip install -e '.[bench]')"
    elif jx is None:
        jax_note = "JAX skipped (--no-jax)"
    else:
        jax_note = f"jax {jx.versions[0]}, optax {jx.versions[1]} (in a process of its own)"
    log(f"{machine()}; {jax_note}")
    try:
        rows = blobs_rows(s, keras, jx)
        mnist = mnist_result(s, jx)
    finally:
        if jx is not None:
            jx.close()
    text = report(s, rows, keras_note, mnist, tuned, jax_note)
    print(text)
    if s.write is not None:
        write_section(s.write, SECTION, text)
        log(f"wrote the {SECTION} section of {s.write}")


if __name__ == "__main__":
    main()

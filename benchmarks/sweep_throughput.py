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
* **MNIST**: the ``mnist-mlp`` task (784-256-10) with K = 16, population against 16 plain
  runs, on a stratified subset of the training images for a few epochs (the validation set,
  10,000 images, is evaluated in full every epoch by both).

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

    python benchmarks/sweep_throughput.py [--quick] [--ks 1,4,32,256] [--keras-runs 2]
        [--plain-runs 3] [--threads 1] [--data-dir ../shared/data/mnist]
        [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
import torch.nn.functional as F
from _common import (
    command_line,
    machine,
    markdown_table,
    now,
    ratio,
    seconds,
    timed,
    write_section,
)
from sklearn.metrics import roc_auc_score

from lrlab import LrlabError
from lrlab._malloc import keep_freed_memory
from lrlab.tasks import Task, get_task
from lrlab import sweep

SECTION = "sweep_throughput"
SEED = 0
TARGET_K = 32
MNIST_K = 16
FOOTNOTE = ("Ratios are what to compare: all timings come from the same run, one method after "
            "another. \"extrapolated from n runs\": n runs were timed and the time scaled "
            "linearly to K runs; \"mean of n runs\": the mean of n timed runs, times K.")


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
        write=a.write,
    )
    if min(settings.ks) < 1 or settings.plain_runs < 1:
        p.error("--ks and --plain-runs must be at least 1")
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


def population(task: Task, lrs: list[float], epochs: int) -> float:
    """Seconds for one lrlab sweep of all ``lrs`` (validation metrics every epoch)."""
    secs, _ = timed(lambda: sweep(task, lrs=lrs, epochs=epochs, device="cpu"))
    return secs


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


# -- estimates -------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """Seconds for K sequential runs, from ``timed`` runs actually timed."""

    k: int
    per_run: float
    timed: int

    @property
    def total(self) -> float:
        return self.per_run * self.k

    @property
    def note(self) -> str:
        if self.timed == self.k:
            return "measured"
        if self.timed > self.k:
            return f"mean of {plural(self.timed, 'run')}"
        return f"extrapolated from {plural(self.timed, 'run')}"


def sequential(run: Callable[[float], object], lrs: list[float], n: int) -> Estimate:
    """Time ``run(lr)`` for ``n`` of ``lrs`` (spread over them) and scale to all of them."""
    chosen = spread(lrs, min(n, len(lrs)))
    secs, _ = timed(lambda: [run(lr) for lr in chosen])
    return Estimate(k=len(lrs), per_run=secs / len(chosen), timed=len(chosen))


@dataclass(frozen=True)
class Row:
    """One population size: the population's seconds and the sequential estimates."""

    k: int
    population: float
    plain: Estimate
    keras: Estimate | None

    @property
    def cost_of_k(self) -> float:
        """Population seconds over one plain run's seconds."""
        return self.population / self.plain.per_run

    @property
    def throughput(self) -> float:
        return self.plain.total / self.population

    @property
    def keras_ratio(self) -> float | None:
        return None if self.keras is None else self.keras.total / self.population


# -- the benchmark ---------------------------------------------------------------------


def warm_up(task: Task, keras: ModuleType | None) -> None:
    """Run every method briefly once, so no timing pays for first-call set-up."""
    population(task, rates(2), 2)
    plain_run(task, 0.1, 2)
    if keras is not None:
        keras_run(keras, task, 0.1, 1)


def blobs_rows(s: Settings, keras: ModuleType | None) -> list[Row]:
    task = get_task("blobs")
    warm_up(task, keras)
    keras_per_run = None
    if keras is not None and s.keras_runs > 0:
        log(f"blobs: timing {plural(s.keras_runs, 'Keras run')} of {s.epochs} epochs ...")
        keras_per_run = sequential(lambda lr: keras_run(keras, task, lr, s.epochs),
                                   rates(s.keras_runs), s.keras_runs).per_run
        log(f"  Keras: {keras_per_run:.1f} s per run")
    rows = []
    for k in s.ks:
        lrs = rates(k)
        pop = population(task, lrs, s.epochs)
        plain = sequential(lambda lr: plain_run(task, lr, s.epochs), lrs, s.plain_runs)
        ker = (None if keras_per_run is None
               else Estimate(k=k, per_run=keras_per_run, timed=s.keras_runs))
        rows.append(Row(k, pop, plain, ker))
        log(f"blobs K={k}: population {pop:.1f} s, plain {plain.total:.1f} s "
            f"({plain.note}), throughput {rows[-1].throughput:.1f}x")
    return rows


@dataclass(frozen=True)
class MnistResult:
    k: int
    train_examples: int
    epochs: int
    population: float
    plain: Estimate

    @property
    def throughput(self) -> float:
        return self.plain.total / self.population


def mnist_result(s: Settings) -> MnistResult | str:
    """The mnist-mlp comparison, or why it was skipped."""
    try:
        task = get_task("mnist-mlp", data_dir=s.data_dir, download=False)
    except LrlabError as err:
        return f"skipped: MNIST not found under {s.data_dir} ({err})"
    task = task.subset(s.mnist_subset, seed=SEED)
    population(task, rates(2), 1)  # warm-up on this model's shapes
    lrs = rates(s.mnist_k)
    pop = population(task, lrs, s.mnist_epochs)
    plain = sequential(lambda lr: plain_run(task, lr, s.mnist_epochs), lrs, s.mnist_k)
    result = MnistResult(s.mnist_k, len(task.train), s.mnist_epochs, pop, plain)
    log(f"mnist-mlp K={s.mnist_k}: population {pop:.1f} s, plain {plain.total:.1f} s, "
        f"throughput {result.throughput:.1f}x")
    return result


# -- the report ------------------------------------------------------------------------


def blobs_table(rows: list[Row], keras_note: str) -> str:
    headers = ["K", "population", "plain PyTorch, K runs", "population / 1 plain run",
               "throughput (K plain runs / population)", "Keras, K runs",
               "Keras K runs / population"]
    body = []
    for r in rows:
        keras_cells = ([keras_note, "—"] if r.keras is None else
                       [f"{seconds(r.keras.total)} ({r.keras.note})", ratio(r.keras_ratio)])
        body.append([str(r.k), seconds(r.population),
                     f"{seconds(r.plain.total)} ({r.plain.note})", ratio(r.cost_of_k),
                     ratio(r.throughput), *keras_cells])
    return markdown_table(headers, body)


def mnist_table(m: MnistResult) -> str:
    headers = ["K", "train images", "epochs", "population", f"plain PyTorch, {m.k} runs",
               "throughput (K plain runs / population)"]
    row = [str(m.k), f"{m.train_examples:,}", str(m.epochs), seconds(m.population),
           f"{seconds(m.plain.total)} ({m.plain.note})", ratio(m.throughput)]
    return markdown_table(headers, [row])


def verdict(name: str, value: float | None, target: float, *, at_most: bool = False) -> str:
    sign = "<=" if at_most else ">="
    if value is None:
        return f"- {name} {sign} {target:g}x: not measured"
    met = value <= target if at_most else value >= target
    return f"- {name} {sign} {target:g}x: **{'met' if met else 'not met'}** ({value:.1f}x)"


def targets(rows: list[Row], mnist: MnistResult | str) -> list[str]:
    at = next((r for r in rows if r.k == TARGET_K), None)
    k = f"K={TARGET_K}"
    m = mnist if isinstance(mnist, MnistResult) and mnist.k == MNIST_K else None
    return [
        verdict(f"blobs {k}, population / 1 plain run", at and at.cost_of_k, 1.5, at_most=True),
        verdict(f"blobs {k}, throughput", at and at.throughput, 20),
        verdict(f"blobs {k}, Keras K runs / population", at and at.keras_ratio, 100),
        verdict(f"mnist-mlp K={MNIST_K}, throughput", m and m.throughput, 4),
    ]


def threads_note(threads: int) -> str:
    if not threads:
        return "Threads: torch's default (`--threads 0`)."
    return (f"Threads: {plural(threads, 'intra-op thread')} (`--threads`, default 1): on a "
            "shared machine, threads waiting on each other time the scheduler rather than the "
            "code (see the script's docstring).")


def report(s: Settings, rows: list[Row], keras_note: str, mnist: MnistResult | str,
           tuned: bool) -> str:
    parts = [
        "## Sweep throughput: one population against K separate runs",
        f"Produced by `{command_line()}` on {now()}.",
        f"Machine: {machine()}.",
        threads_note(s.threads),
        ("Allocator: glibc's mmap/trim thresholds raised to 64 MiB for the whole process "
         "(`lrlab._malloc.keep_freed_memory`, as the `lrlab` command does)." if tuned else
         "Allocator: the C library's defaults."),
        (f"**blobs** (the brief's experiment: 2-50-3 dense network, SGD, batch 50, "
         f"{s.epochs} epochs, validation loss, accuracy and ROC AUC every epoch; rates "
         "log-spaced 1e-3..1):"),
        blobs_table(rows, keras_note),
    ]
    if isinstance(mnist, MnistResult):
        epochs = plural(mnist.epochs, "epoch")
        parts += [(f"**mnist-mlp** (784-256-10, SGD, batch 100; trained on a stratified "
                   f"subset of {mnist.train_examples:,} images for {epochs} to keep the "
                   "benchmark short; all 10,000 validation images evaluated every epoch):"),
                  mnist_table(mnist)]
    else:
        parts.append(f"**mnist-mlp**: {mnist}.")
    parts += ["Targets:", "\n".join(targets(rows, mnist)), FOOTNOTE]
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
    log(f"{machine()}")
    rows = blobs_rows(s, keras)
    mnist = mnist_result(s)
    text = report(s, rows, keras_note, mnist, tuned)
    print(text)
    if s.write is not None:
        write_section(s.write, SECTION, text)
        log(f"wrote the {SECTION} section of {s.write}")


if __name__ == "__main__":
    main()

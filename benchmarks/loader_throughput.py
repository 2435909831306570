"""A DataLoader-fed population against K separate plain runs with the same loader.

The task is the own-data tests' kind (a): a small ResNet-style CNN with BatchNorm on
CIFAR-shaped images (3x32x32, synthetic) that a ``Dataset`` pads, crops at random and flips
in ``__getitem__``, read by a ``DataLoader`` with ``num_workers=2``. For each K, one epoch of

* **population**: ``lrlab.sweep`` of K rates, the loader iterated once for all K members;
* **separate**: K plain PyTorch loops (``torch.optim.SGD``), each iterating the loader itself,

is timed, interleaved over repetitions, reporting the minimum and median wall time and the
CPU seconds of the process and its reaped workers. Throughput is member-epochs per second;
the ratio population / separate is what the own-data issue's goal reads (K = 16 at >= 4x).

    python benchmarks/loader_throughput.py --write docs/benchmarks.md
    python benchmarks/loader_throughput.py --ks 1,2 --examples 128 --repeats 1   # a smoke run
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

import torch
from _common import command_line, machine, markdown_table, now, write_section
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

import lrlab
from lrlab.tasks import Task


class Cifarish(Dataset):
    """Synthetic 3x32x32 images in 10 classes; pad 4, random 32x32 crop, random flip."""

    def __init__(self, n: int, seed: int, *, augment: bool) -> None:
        g = torch.Generator().manual_seed(seed)
        self.targets = torch.randint(0, 10, (n,), generator=g)
        centres = torch.randn(10, 3, 1, 1, generator=g)
        self.x = centres[self.targets] + torch.randn(n, 3, 32, 32, generator=g)
        self.augment = augment

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        img = self.x[i]
        if self.augment:
            img = F.pad(img, (4, 4, 4, 4), mode="reflect")
            top, left = torch.randint(0, 9, (2,)).tolist()
            img = img[:, top:top + 32, left:left + 32]
            if torch.rand(()) < 0.5:
                img = img.flip(-1)
        return img, self.targets[i]


class Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


class SmallResNet(nn.Module):
    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, stride=2, padding=1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU())
        self.blocks = nn.Sequential(Block(width), Block(width))
        self.head = nn.Linear(width, 10)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.blocks(self.stem(x)).mean((2, 3)))


def make_task(examples: int, workers: int) -> Task:
    train = DataLoader(Cifarish(examples, 0, augment=True), batch_size=64, shuffle=True,
                       num_workers=workers)
    val = DataLoader(Cifarish(256, 1, augment=False), batch_size=256)
    return Task.from_loaders(SmallResNet, train, val, loss=nn.CrossEntropyLoss(),
                             name="cifarish", epochs=1)


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its reaped children (workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def population(task: Task, k: int) -> None:
    lrlab.sweep(task, lrs=[0.1 * 0.8 ** i for i in range(k)], epochs=1)


def separate(task: Task, k: int) -> None:
    for i in range(k):
        model = task.init_model(0)
        opt = torch.optim.SGD(model.parameters(), lr=0.1 * 0.8 ** i)
        model.train()
        for x, y in task.train:  # the user's own loop over the user's own loader
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            for x, y in task.val:
                model(x)


def measure(ks: list[int], examples: int, workers: int, repeats: int) -> list[dict]:
    task = make_task(examples, workers)
    times: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for _ in range(repeats):  # interleaved: every (method, K) once per repetition
        for k in ks:
            for name, fn in (("population", population), ("separate", separate)):
                wall0, cpu0 = time.perf_counter(), cpu_seconds()
                fn(task, k)
                times.setdefault((name, k), []).append(
                    (time.perf_counter() - wall0, cpu_seconds() - cpu0))
    rows = []
    for k in ks:
        row = {"k": k}
        for name in ("population", "separate"):
            walls = [w for w, _ in times[(name, k)]]
            cpus = [c for _, c in times[(name, k)]]
            row[name] = {"min": min(walls), "median": statistics.median(walls),
                         "cpu": statistics.median(cpus)}
        row["speedup"] = row["separate"]["min"] / row["population"]["min"]
        rows.append(row)
    return rows


def report(rows: list[dict], args: argparse.Namespace) -> str:
    table = markdown_table(
        ["K", "population: min / median wall", "CPU s", "K separate runs: min / median wall",
         "CPU s", "throughput vs separate (min wall)", "member-epochs/s (population)"],
        [[str(r["k"]),
          f"{r['population']['min']:.2f} / {r['population']['median']:.2f} s",
          f"{r['population']['cpu']:.1f}",
          f"{r['separate']['min']:.2f} / {r['separate']['median']:.2f} s",
          f"{r['separate']['cpu']:.1f}",
          f"{r['speedup']:.2f}x",
          f"{r['k'] / r['population']['min']:.2f}"] for r in rows])
    return (f"## DataLoader-fed population vs separate runs\n\n"
            f"`{command_line()}` ({now()}; {machine()}). One epoch of {args.examples} "
            f"CIFAR-shaped images (pad 4, random crop, flip in `__getitem__`), batch 64, "
            f"`num_workers={args.workers}`, a ResNet-style CNN with BatchNorm (width 8, two "
            f"residual blocks); {args.repeats} interleaved repetitions. CPU s: this process "
            f"and its reaped workers (median).\n\n{table}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", default="1,8,16")
    parser.add_argument("--examples", type=int, default=1024)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", type=Path, help="replace this section of the given file")
    args = parser.parse_args()
    torch.set_num_threads(1)  # one thread per process, as elsewhere in the benchmarks
    rows = measure([int(k) for k in args.ks.split(",")], args.examples, args.workers,
                   args.repeats)
    text = report(rows, args)
    print(text)
    if args.write:
        write_section(args.write, "loader-throughput", text)


if __name__ == "__main__":
    main()

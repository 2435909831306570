"""A sweep of rates, every member its own TensorBoard run; then the range test's curve.

    python examples/tensorboard_sweep.py --logdir runs/tb
    tensorboard --logdir runs/tb          # SCALARS per member, HPARAMS compares them

Needs ``pip install 'lrlab[tensorboard]'``.
"""

from __future__ import annotations

import argparse

import lrlab
from lrlab.integrations.tensorboard import write_tensorboard
from lrlab.search import find_lr
from lrlab.tasks import get_task


def main(logdir: str, tiny: bool = False) -> None:
    # every member written as each epoch ends: train/*, val/*, step/lr, and its settings
    lrlab.sweep("blobs", lrs=[1.0, 0.1, 0.01], seeds=[0, 1], epochs=2 if tiny else 50,
                record_steps=True, tensorboard_dir=f"{logdir}/sweep")
    # a range test on the same task: loss, smoothed loss and rate per step, figure, readings
    task = get_task("blobs")

    def loss(outputs, targets):  # the task's per-sample loss, averaged over the batch
        return task.loss(outputs.unsqueeze(0), targets).mean()

    result = find_lr(task.init_model(0), loss, (task.train.x, task.train.y),
                     start=1e-4, end=100.0, steps=30 if tiny else 100)
    write_tensorboard(result, f"{logdir}/range_test")
    print(f"runs written to {logdir}; suggested rate {result.suggestion.lr:.3g}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--logdir", default="runs/tb")
    parser.add_argument("--tiny", action="store_true", help="a few seconds")
    options = parser.parse_args()
    main(options.logdir, options.tiny)

"""The untrained model's training loss in training and in evaluation mode, per scenario.

``auto`` reads every race's training loss (each epoch's mean, taken in training mode) as a
share of the untrained model's (``_start_loss``). Where a model's training forward differs
from its evaluation one (dropout, BatchNorm's batch statistics, a loss term only a training
forward returns, such as an auxiliary head's), the two modes give different untrained losses;
this prints both for every ``new_user.py`` scenario (seed 0, the same at most 8,192 training
examples ``_start_loss`` reads) and the finder-quality tasks, and their ratio. A ratio of 1
means the reading does not depend on the mode.

    cd benchmarks && PYTHONPATH=../src:. python start_loss.py [--only "auxnet momentum,..."]
"""

from __future__ import annotations

import argparse
import warnings

from finder_quality import TASKS, load
from finder_tasks import UNSEEN_TASKS
from new_user import SCENARIOS

from lrlab.data import num_examples, subset_of
from lrlab.search._auto import _START_EXAMPLES
from lrlab.tasks import Split, Task
from lrlab.train import mean_loss


def losses(task: Task, seed: int = 0) -> tuple[float, float]:
    """The untrained model's mean training loss in training and in evaluation mode."""
    data = task.train
    n = len(data) if isinstance(data, Split) else num_examples(data)
    if n is not None and n > _START_EXAMPLES:
        data = (Split(data.x[:_START_EXAMPLES], data.y[:_START_EXAMPLES])
                if isinstance(data, Split) else subset_of(data, range(_START_EXAMPLES)))
    model = task.init_model(seed)
    return (mean_loss(model, task, data, seed=seed, training=True),
            mean_loss(model, task, data, seed=seed))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="", help="comma list of scenarios or finder-quality tasks")
    names = [n for n in p.parse_args().only.split(",") if n] or [
        *SCENARIOS, *TASKS, *UNSEEN_TASKS]
    print("| scenario / task | training mode | evaluation mode | ratio |\n| :-- | --: | --: | --: |")
    for name in names:
        task = SCENARIOS[name][0]() if name in SCENARIOS else load(name, None)[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            train, evaluation = losses(task)
        print(f"| {name} | {train:.4f} | {evaluation:.4f} | {train / evaluation:.3f} |",
              flush=True)


if __name__ == "__main__":
    main()

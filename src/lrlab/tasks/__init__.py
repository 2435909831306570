"""Tasks: datasets, model factories and the defaults to train them with.

Names are imported on first use (:mod:`lrlab._lazy`): ``DESCRIPTIONS`` needs no torch.
"""

from typing import TYPE_CHECKING

from lrlab._lazy import lazy_exports

__all__ = [
    "DATASETS", "DESCRIPTIONS", "TASKS", "Split", "Task", "as_task", "blobs", "dense", "digits",
    "get_task",
    "load_idx_dataset", "lower_is_better", "member_loss", "mlp", "mnist", "read_idx", "small_cnn",
    "softmax_regression",
]

lazy_exports(__name__, {
    "DESCRIPTIONS": "lrlab.tasks._names",
    **dict.fromkeys(["TASKS", "as_task", "blobs", "digits", "get_task", "mnist"],
                    "lrlab.tasks._builtin"),
    **dict.fromkeys(["DATASETS", "load_idx_dataset"], "lrlab.tasks._download"),
    "read_idx": "lrlab.tasks._idx",
    **dict.fromkeys(["dense", "mlp", "small_cnn", "softmax_regression"], "lrlab.tasks._models"),
    **dict.fromkeys(["Split", "Task", "lower_is_better", "member_loss"], "lrlab.tasks._task"),
})

if TYPE_CHECKING:  # what type checkers and IDEs see
    from lrlab.tasks._builtin import (  # noqa: TC004
        TASKS,
        as_task,
        blobs,
        digits,
        get_task,
        mnist,
    )
    from lrlab.tasks._download import DATASETS, load_idx_dataset  # noqa: TC004
    from lrlab.tasks._idx import read_idx  # noqa: TC004
    from lrlab.tasks._models import dense, mlp, small_cnn, softmax_regression  # noqa: TC004
    from lrlab.tasks._names import DESCRIPTIONS  # noqa: TC004
    from lrlab.tasks._task import Split, Task, lower_is_better, member_loss  # noqa: TC004

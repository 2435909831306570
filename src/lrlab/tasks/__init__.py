"""Tasks: datasets, model factories and the defaults to train them with."""

from lrlab.tasks._builtin import DESCRIPTIONS, TASKS, blobs, digits, get_task, mnist
from lrlab.tasks._download import DATASETS, load_idx_dataset
from lrlab.tasks._idx import read_idx
from lrlab.tasks._models import dense, mlp, small_cnn, softmax_regression
from lrlab.tasks._task import Split, Task, member_loss

__all__ = [
    "DATASETS", "DESCRIPTIONS", "TASKS", "Split", "Task", "blobs", "dense", "digits", "get_task",
    "load_idx_dataset", "member_loss", "mlp", "mnist", "read_idx", "small_cnn", "softmax_regression",
]

"""The built-in tasks, and ``get_task`` which also loads a user's ``module:function``."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import PurePath

import numpy as np
import torch

from lrlab._errors import LrlabError
from lrlab.tasks._download import load_idx_dataset
from lrlab.tasks._models import mlp, small_cnn, softmax_regression
from lrlab.tasks._names import DESCRIPTIONS, MNIST_MODELS
from lrlab.tasks._task import Split, Task

__all__ = ["DESCRIPTIONS", "TASKS", "as_task", "blobs", "digits", "get_task", "mnist"]


def _split(x: np.ndarray, y: np.ndarray) -> Split:
    return Split(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long))


def blobs(**_: object) -> Task:
    """The brief's experiment F1, exactly.

    ``make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=2)``;
    the first 500 samples train, the last 500 validate. Dense(50, ReLU, He-uniform) ->
    Dense(3); cross-entropy; batch 50; 200 epochs; ranked by ROC AUC as Keras computes it.
    """
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=2)
    return Task(
        name="blobs", train=_split(x[:500], y[:500]), val=_split(x[500:], y[500:]),
        model=partial(mlp, [2, 50, 3]), num_classes=3, batch_size=50, epochs=200,
        monitor="auc", description=DESCRIPTIONS["blobs"],
    )


def digits(**_: object) -> Task:
    """scikit-learn's bundled 8x8 digits (1,797 images), 60/20/20 stratified, MLP 64-64-10."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x, y = data.data / 16.0, data.target
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, test_size=0.4, stratify=y, random_state=0)
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=0)
    return Task(
        name="digits", train=_split(x_train, y_train), val=_split(x_val, y_val),
        test=_split(x_test, y_test), model=partial(mlp, [64, 64, 10]), num_classes=10,
        batch_size=32, epochs=30, description=DESCRIPTIONS["digits"],
    )


_MNIST_MODELS: dict[str, tuple[Callable, bool, str]] = {
    "linear": (partial(softmax_regression, 784, 10), True, MNIST_MODELS["linear"]),
    "mlp": (partial(mlp, [784, 256, 10]), True, MNIST_MODELS["mlp"]),
    "cnn": (partial(small_cnn, 10), False, MNIST_MODELS["cnn"]),
}


def mnist(model: str = "linear", *, dataset: str = "mnist", data_dir: str | None = None,
          download: bool = True, **_: object) -> Task:
    """MNIST-format images: the last 10,000 training images validate, the test set stays apart.

    Args:
        model: ``"linear"``, ``"mlp"`` or ``"cnn"``.
        dataset: ``"mnist"`` or ``"fashion-mnist"``.
        data_dir: where the IDX files are (else ``LRLAB_DATA``, else a cache directory).
        download: fetch missing files from the mirrors (md5-checked).
    """
    factory, flat, what = _MNIST_MODELS[model]
    arrays = load_idx_dataset(dataset, data_dir, download=download)

    def images(a: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(a).to(torch.float32).div_(255.0)
        return x.reshape(len(a), -1) if flat else x.unsqueeze(1)

    x, y = images(arrays["train_images"]), torch.from_numpy(arrays["train_labels"]).long()
    cut = len(x) - 10_000
    prefix = "mnist" if dataset == "mnist" else "fashion"
    return Task(
        name=f"{prefix}-{model}", train=Split(x[:cut], y[:cut]), val=Split(x[cut:], y[cut:]),
        test=Split(images(arrays["test_images"]),
                   torch.from_numpy(arrays["test_labels"]).long()),
        model=factory, num_classes=10, batch_size=100, epochs=5 if model != "cnn" else 3,
        description=f"{dataset.upper()}: {what}",
    )


TASKS: dict[str, Callable[..., Task]] = {
    "blobs": blobs,
    "digits": digits,
    **{f"mnist-{m}": partial(mnist, m) for m in _MNIST_MODELS},
    **{f"fashion-{m}": partial(mnist, m, dataset="fashion-mnist") for m in _MNIST_MODELS},
}


def _user_task(spec: str) -> Task:
    module_name, _, attr = spec.partition(":")
    if attr and ("/" in module_name or "\\" in module_name or module_name.endswith(".py")):
        raise LrlabError(f"user task {spec!r} names a file; {_as_module(module_name, attr)}")
    if not module_name or not attr or module_name.startswith("."):
        raise LrlabError(f"user task {spec!r} must look like package.module:function")
    with _here_on_path():
        try:
            module = importlib.import_module(module_name)
        except Exception as err:  # noqa: BLE001 - whatever the user's module raises on import
            raise LrlabError(f"cannot load user task {spec!r} ({type(err).__name__}: {err}); "
                             "check that the module is importable from here or on "
                             "PYTHONPATH") from None
        return _call_user_task(spec, module, module_name, attr)


@contextlib.contextmanager
def _here_on_path() -> Iterator[None]:
    """The working folder on ``sys.path`` while a user task's module loads and its function
    builds the task (a function that imports its neighbours when called, as a script may,
    finds them), removed again afterwards."""
    here = os.getcwd()
    sys.path.insert(0, here)
    try:
        yield
    finally:
        sys.path.remove(here)


def _call_user_task(spec: str, module, module_name: str, attr: str) -> Task:
    """The task ``module``'s ``attr`` builds, checked (``spec`` names it in errors)."""
    factory = getattr(module, attr, None)
    if factory is None:
        raise LrlabError(f"user task {spec!r}: module {module_name} ({module.__file__}) has no "
                         f"{attr!r}; name a function in it that returns lrlab.Task")
    if not callable(factory):
        kind = type(factory).__name__
        raise LrlabError(f"user task {spec!r}: {attr!r} is {'an' if kind[0] in 'aeiou' else 'a'} "
                         f"{kind}, not a function returning lrlab.Task")
    required = _required(factory)
    if required:
        raise LrlabError(f"user task {spec!r}: {attr} takes arguments ({', '.join(required)}), "
                         "and lrlab calls it with none: give them defaults, or name a function "
                         "of no arguments that returns lrlab.Task")
    try:
        task = factory()
    except LrlabError:
        raise
    except Exception as err:  # noqa: BLE001 - report the user's error in one line
        raise LrlabError(f"user task {spec!r} failed: {type(err).__name__}: {err}") from None
    if isinstance(task, torch.nn.Module):
        raise LrlabError(f"user task {spec!r} returned {type(task).__name__}, a model, not "
                         "lrlab.Task: name a function that returns one, such as lrlab.Task."
                         f"from_loaders({attr}, train, val, loss=...)")
    if not isinstance(task, Task):
        raise LrlabError(f"user task {spec!r} returned {type(task).__name__}, not lrlab.Task")
    return task


def _as_module(path: str, attr: str) -> str:
    """What to give for a user task written as a file (``mypackage/tasks.py:my_task``): its
    module as Python imports it, dotted, from the folder lrlab runs in.

        >>> _as_module("./mypackage/tasks.py", "my_task").rpartition(": ")[2]
        'mypackage.tasks:my_task'
        >>> _as_module("/home/me/tasks.py", "my_task").rpartition("it: ")[2]
        'tasks:my_task, run from /home/me'
    """
    file = PurePath(path.replace("\\", "/"))
    if file.is_absolute():
        return (f"give its module as Python imports it: {file.with_suffix('').name}:{attr}, "
                f"run from {file.parent}")
    parts = [p for p in file.with_suffix("").parts if p != "."]
    return f"give its module as Python imports it, from the folder lrlab runs in: " \
           f"{'.'.join(parts)}:{attr}"


def _required(factory: Callable) -> list[str]:
    """The parameters ``factory`` cannot be called without (none where its signature is not
    known)."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.default is p.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def as_task(task: Task | str) -> Task:
    """``task`` itself, or the task a name gives (:func:`get_task`); anything else is one
    error line (``lrlab.sweep(3, ...)`` raised an AttributeError of the integer).

    Example:
        >>> as_task("blobs").name
        'blobs'
    """
    if isinstance(task, str):
        return get_task(task)
    if not isinstance(task, Task):
        raise LrlabError(f"task must be an lrlab.Task or a task's name (lrlab list tasks), "
                         f"got {type(task).__name__}")
    return task


def get_task(name: str, *, data_dir: str | None = None, download: bool = True,
             subset: float | None = None, seed: int = 0) -> Task:
    """A built-in task by name, or a user's task given as ``package.module:function``.

    Args:
        name: one of :data:`TASKS`, or ``module:function`` returning a :class:`Task`.
        data_dir: directory of the dataset's files (tasks that read files).
        download: whether missing files may be downloaded.
        subset: train on a stratified part of the training data (count or fraction).
        seed: which part, when ``subset`` is given.

    Example:
        >>> get_task("blobs").batch_size
        50
    """
    if ":" in name:
        task = _user_task(name)
    elif name in TASKS:
        task = TASKS[name](data_dir=data_dir, download=download)
    else:
        known = ", ".join(TASKS)
        raise LrlabError(f"unknown task {name!r}; choose one of: {known}, "
                         "or give package.module:function")
    return task.subset(subset, seed=seed) if subset is not None else task

"""The brief's own Keras code for experiment F1, run with Keras 3 on the torch backend.

The model, loss, optimizer and metric are the brief's: ``Dense(50, relu, he_uniform) ->
Dense(3, softmax)``, categorical cross-entropy on one-hot targets, ``SGD(learning_rate)``,
batch 50, ``metrics=[AUC()]``, ``validation_data`` = the last 500 samples. Keras is an
optional extra (``pip install 'lrlab[bench]'``); without it :func:`keras_missing` says why.
"""

from __future__ import annotations

import os
import random
import sys
import warnings
from collections.abc import Callable, Sequence
from types import ModuleType

import numpy as np
import pandas as pd
import torch

from lrlab.tasks import Task

__all__ = ["keras_histories", "keras_missing"]


def _keras() -> ModuleType:
    """Keras on the torch backend (the backend is chosen only if Keras is not loaded yet)."""
    if "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    return keras


def keras_missing() -> str | None:
    """Why the Keras runs cannot happen here, or ``None`` when they can."""
    backend = os.environ.get("KERAS_BACKEND", "torch")
    if "keras" not in sys.modules and backend != "torch":
        return f"KERAS_BACKEND is {backend!r}; the comparison runs Keras on the torch backend"
    try:
        keras = _keras()
    except ImportError:
        return "Keras is not installed (pip install 'lrlab[bench]')"
    if keras.backend.backend() != "torch":
        return f"Keras was loaded with the {keras.backend.backend()} backend, not torch"
    return None


def keras_histories(task: Task, lrs: Sequence[float], seeds: Sequence[int], epochs: int,
                    on_run: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Train the brief's Keras model once per (rate, seed) and keep every epoch's history.

    The caller's random states (Python, NumPy, torch) are put back afterwards; Keras'
    ``set_random_seed(seed)`` draws each run's weights and shuffling. ``on_run(n)`` is
    called after the n-th run.

    Returns:
        tidy records: ``lr, seed, epoch, split, metric, value`` with metrics ``loss`` and
        ``auc`` for the ``train`` (running over the epoch, as Keras reports it) and ``val``
        splits.
    """
    keras = _keras()
    eye = np.eye(task.num_classes, dtype=np.float32)
    x, y = task.train.x.numpy(), eye[task.train.y.numpy()]
    vx, vy = task.val.x.numpy(), eye[task.val.y.numpy()]
    py_state, np_state = random.getstate(), np.random.get_state()
    frames = []
    try:
        with torch.random.fork_rng(devices=[]):
            for lr in lrs:
                for seed in seeds:
                    history = _one_run(keras, x, y, vx, vy, lr, seed, epochs, task.batch_size)
                    frames.append(_tidy(history, lr, seed))
                    if on_run is not None:
                        on_run(len(frames))
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    return pd.concat(frames, ignore_index=True)


def _one_run(keras: ModuleType, x, y, vx, vy, lr: float, seed: int, epochs: int,
             batch_size: int) -> dict[str, list[float]]:
    """The brief's code at one rate."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((x.shape[1],)),
        keras.layers.Dense(50, activation="relu", kernel_initializer="he_uniform"),
        keras.layers.Dense(y.shape[1], activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy",
                  optimizer=keras.optimizers.SGD(learning_rate=lr),
                  metrics=[keras.metrics.AUC(name="auc")])
    with warnings.catch_warnings():  # Keras' torch backend probes NumPy 2's copy= keyword
        warnings.filterwarnings("ignore", message="__array__ implementation doesn't accept")
        fitted = model.fit(x, y, validation_data=(vx, vy), epochs=epochs,
                           batch_size=batch_size, verbose=0)
    return fitted.history


def _tidy(history: dict[str, list[float]], lr: float, seed: int) -> pd.DataFrame:
    rows = []
    for key, values in history.items():
        split, metric = ("val", key[4:]) if key.startswith("val_") else ("train", key)
        rows += [(lr, seed, epoch, split, metric, float(v))
                 for epoch, v in enumerate(values, start=1)]
    return pd.DataFrame(rows, columns=["lr", "seed", "epoch", "split", "metric", "value"])

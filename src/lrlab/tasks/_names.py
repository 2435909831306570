"""The built-in tasks' names and one-line descriptions, importable without torch.

``lrlab tasks`` lists them; the tasks themselves (:mod:`lrlab.tasks._builtin`) take their
descriptions from here, so each line is written once.
"""

from __future__ import annotations

__all__ = ["DESCRIPTIONS", "MNIST_MODELS"]

#: The models of the MNIST-format tasks: name -> what it is.
MNIST_MODELS: dict[str, str] = {
    "linear": "softmax regression 784-10 (brief F2)",
    "mlp": "MLP 784-256-10",
    "cnn": "small CNN (2 conv blocks)",
}

#: Every built-in task: name -> one line saying what it trains.
DESCRIPTIONS: dict[str, str] = {
    "blobs": "3 Gaussian blobs in 2-D, dense 2-50-3, SGD, AUC (brief F1)",
    "digits": "scikit-learn 8x8 digits, MLP 64-64-10",
    **{f"{prefix}-{m}": f"{data}: {what}"
       for prefix, data in (("mnist", "MNIST"), ("fashion", "FASHION-MNIST"))
       for m, what in MNIST_MODELS.items()},
}

"""lrlab: find, schedule and study the learning rate of PyTorch networks.

The public face: :func:`sweep` and :func:`train` run populations on a task; the topic
packages (:mod:`lrlab.optim`, :mod:`lrlab.metrics`, :mod:`lrlab.tasks`,
:mod:`lrlab.population`, :mod:`lrlab.train`) hold the pieces.
"""

from lrlab._errors import DataError, LrlabError
from lrlab._sweep import sweep, train
from lrlab.population import Population
from lrlab.search import find_lr
from lrlab.tasks import Split, Task, get_task
from lrlab.train import SweepConfig, SweepResult, fit

__version__ = "0.1.0"

__all__ = [
    "DataError", "LrlabError", "Population", "Split", "SweepConfig", "SweepResult", "Task",
    "__version__", "find_lr", "fit", "get_task", "sweep", "train",
]

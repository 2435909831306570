"""lrlab: find, schedule and study the learning rate of PyTorch networks.

The public face: :func:`sweep` and :func:`train` run populations on a task; the topic
packages (:mod:`lrlab.optim`, :mod:`lrlab.metrics`, :mod:`lrlab.tasks`,
:mod:`lrlab.population`, :mod:`lrlab.train`, :mod:`lrlab.store`) hold the pieces;
:func:`load_result` reads a stored study back. Names are imported on first
use (:mod:`lrlab._lazy`), so ``import lrlab`` and the ``lrlab`` command start without
loading torch.
"""

from typing import TYPE_CHECKING

from lrlab._errors import DataError, LrlabError
from lrlab._lazy import lazy_exports

__version__ = "0.1.0"

__all__ = [
    "DataError", "LrlabError", "Population", "Split", "SweepConfig", "SweepResult", "Task",
    "__version__", "find_lr", "fit", "get_task", "load_result", "sweep", "train",
]

lazy_exports(__name__, {
    "Population": "lrlab.population",
    "find_lr": "lrlab.search",
    "load_result": "lrlab.store",
    **dict.fromkeys(["Split", "Task", "get_task"], "lrlab.tasks"),
    **dict.fromkeys(["SweepConfig", "SweepResult", "fit"], "lrlab.train"),
    **dict.fromkeys(["sweep", "train"], "lrlab._sweep"),
})

if TYPE_CHECKING:  # what type checkers and IDEs see
    from lrlab._sweep import sweep, train  # noqa: TC004
    from lrlab.population import Population  # noqa: TC004
    from lrlab.search import find_lr  # noqa: TC004
    from lrlab.store import load_result  # noqa: TC004
    from lrlab.tasks import Split, Task, get_task  # noqa: TC004
    from lrlab.train import SweepConfig, SweepResult, fit  # noqa: TC004

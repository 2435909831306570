"""lrlab: find, schedule and study the learning rate of PyTorch networks."""

from lrlab._errors import DataError, LrlabError

__version__ = "0.1.0"

__all__ = ["DataError", "LrlabError", "__version__"]

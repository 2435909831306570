"""K members of one network trained in lockstep (see :mod:`lrlab.population._population`)."""

from lrlab.population._batched import supports as supports_batched
from lrlab.population._population import (
    Path,
    Population,
    StepOutput,
    dense_gradients,
    member_losses,
    running_norms,
)

__all__ = ["Path", "Population", "StepOutput", "dense_gradients", "member_losses",
           "running_norms", "supports_batched"]

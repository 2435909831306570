"""K members of one network trained in lockstep (see :mod:`lrlab.population._population`)."""

from lrlab.population._batched import supports as supports_batched
from lrlab.population._population import Path, Population, StepOutput, member_losses

__all__ = ["Path", "Population", "StepOutput", "member_losses", "supports_batched"]

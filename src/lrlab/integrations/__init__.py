"""Where users already train: TensorBoard, PyTorch Lightning and the Hugging Face Trainer.

Each integration is a module of its own, importing its optional package only when used;
without it, it raises :class:`MissingExtra` (an :class:`ImportError` and a
:class:`~lrlab.LrlabError`) naming the ``pip install`` that fixes it:

* :mod:`lrlab.integrations.tensorboard` (``pip install 'lrlab[tensorboard]'``): every member
  of a population its own TensorBoard run (scalars per epoch, the rate per step,
  hyperparameters in the HPARAMS table) and the range test's curve;
* :mod:`lrlab.integrations.lightning` (``pip install 'lrlab[lightning]'``): a ``Callback``
  running :func:`lrlab.find_lr` on a ``LightningModule`` at the start of ``fit``;
* :mod:`lrlab.integrations.transformers` (``pip install 'lrlab[transformers]'``): the range
  test on a Hugging Face ``Trainer``'s model and data, setting ``learning_rate`` before the
  optimizer exists.
"""

from lrlab.integrations._extras import MissingExtra
from lrlab.integrations._rates import at_base_rates, scale_rates

__all__ = ["MissingExtra", "at_base_rates", "scale_rates"]

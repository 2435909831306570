"""K members of one network trained in lockstep as one vectorised network.

The members' parameters are stacked along a leading member axis. One forward pass computes
every member's outputs, one backward pass every member's gradients (the members share no
parameters, so the gradient of the summed loss is each member's own gradient), and one call
of the update rule moves them all, each with its own hyperparameters.

Three ways to run the forward pass give the same numbers:

* ``batched``: an ``nn.Sequential`` of standard layers as batched matmuls (fastest; with
  linear layers, ReLU/tanh/sigmoid and lrlab's cross-entropy the backward pass runs by hand,
  without the autograd engine: :mod:`lrlab.population._backward`);
* ``vmap``: ``torch.func.functional_call`` under ``torch.func.vmap``, for any model that
  vmap can trace;
* ``loop``: the members one after another, for a model vmap cannot trace (in-place buffer
  updates, data-dependent control flow). Chosen automatically, with a one-line warning.

On an accelerator a step never waits for the device: the divergence mask is applied with
``torch.where`` every step instead of being read back to decide whether it is needed (the
CPU reads it, which costs nothing there and skips the masking in the common case; both give
the same numbers). With ``compile=...`` the forward pass and the update run through
``torch.compile`` (see :mod:`lrlab.population._compiled`).
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from lrlab._errors import LrlabError
from lrlab._once import first_time
from lrlab._rng import isolated_rng
from lrlab.data import Inputs, ModelLoss, batch_size_of, output_logits, output_loss
from lrlab.metrics import cross_entropy
from lrlab.optim import UpdateRule, check_ranges, get_rule, lr_multipliers
from lrlab.population._backward import Program, Tape
from lrlab.population._batched import batched_forward, plan
from lrlab.population._compiled import Compiler, CompileSetting

__all__ = ["Path", "Population", "StepOutput", "dense_gradients", "running_norms"]

Path = Literal["auto", "batched", "vmap", "loop"]

#: The fewest parameters per member for which the population works member by member on the
#: CPU: it adds the rule's update in place (:attr:`~lrlab.optim.UpdateRule.apply`, one fused
#: call per member, each member's gradient made just before it) instead of building it for
#: all members at once, and predicts member by member in cache-sized blocks. Each call costs some microseconds whatever its size, which the
#: memory it saves repays from about 2^16 parameters (256 KiB of float32) a member: at
#: K = 16, 2^15 parameters, sgd 0.19 -> 0.22 ms a step and rprop 3.8 -> 4.9; at 2^16
#: about even; at 203,530 (mnist-mlp) sgd 2.0 -> 1.1 ms, adam 14 -> 2.5; at 303 (blobs,
#: K = 256) sgd would go 0.04 -> 1.8 ms. Below it the records are the pure update's bits.
IN_PLACE_MIN = 1 << 16
LossFn = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class StepOutput:
    """What one training step produced, every tensor with the member axis first.

    Attributes:
        outputs: the model outputs on the batch, ``(K, B, ...)``, detached (``None`` for an
            own-loss model that reports no predictions).
        losses: per-sample losses, ``(K, B)``.
        loss: the batch loss per member, ``(K,)``.
        grad_norm: the global L2 norm of each member's gradient, ``(K,)``.
        lr: the rate each member used, ``(K,)``.
    """

    outputs: Tensor | None
    losses: Tensor
    loss: Tensor
    grad_norm: Tensor
    lr: Tensor


def _say_cast(model: nn.Module, own: torch.dtype, dtype: torch.dtype) -> None:
    """One warning (once per call, :func:`~lrlab._once.first_time`) when a model is trained
    in a narrower float than its own: parameters narrower than ``dtype`` (bfloat16, float16;
    the population trains float32 or float64 only), or float64 ones trained as float32 (the
    default ``dtype``; a user who kept a model in float64 did so on purpose). A float32
    model trained as float64 is what was asked for: nothing to say."""
    if not (own.is_floating_point and dtype.is_floating_point):
        return
    mine_bits, their_bits = torch.finfo(own).bits, torch.finfo(dtype).bits
    if not (mine_bits < 32 <= their_bits or mine_bits > their_bits):  # not float32 as 64
        return
    mine, wide = str(own).removeprefix("torch."), str(dtype).removeprefix("torch.")
    name = type(model).__name__
    if not first_time(name, f"{mine} as {wide}"):
        return
    if own == torch.float64:
        warnings.warn(f"lrlab: {name}'s parameters are float64; the population trains them in "
                      f"{wide}, so these rates are a {wide} training's: give dtype='float64' "
                      "(--dtype float64) to train them as they are", UserWarning, stacklevel=3)
        return
    warnings.warn(f"lrlab: {name}'s parameters are {mine}; the population trains them in "
                  f"{wide} (dtype float32 or float64 only), so these rates are a {wide} "
                  f"training's: check the pick in your own {mine} training", UserWarning,
                  stacklevel=3)


def _check_hparams(rule: UpdateRule, hparams: Mapping[str, Sequence[float] | Tensor]) -> dict:
    unknown = set(hparams) - set(rule.defaults) - {"lr"}
    if unknown:
        known = ", ".join(["lr", *rule.defaults])
        raise LrlabError(
            f"update rule {rule.name!r} has no hyperparameter {min(unknown)!r}; "
            f"it takes: {known}")
    if "lr" not in hparams:
        raise LrlabError("a population needs a learning rate per member (hparams['lr'])")
    values = {k: torch.as_tensor(v, dtype=torch.float64).reshape(-1) for k, v in hparams.items()}
    k = values["lr"].numel()
    if k == 0:
        raise LrlabError("a population needs at least one member: hparams['lr'] is empty")
    for name, v in values.items():
        if v.numel() != k:
            raise LrlabError(f"hyperparameter {name!r} has {v.numel()} values for {k} members")
    if not torch.isfinite(values["lr"]).all():  # the others: check_ranges below
        raise LrlabError(f"learning rates must be finite, got {values['lr'].tolist()}")
    if (values["lr"] <= 0).any():
        raise LrlabError(f"learning rates must be positive, got {values['lr'].tolist()}")
    for name, default in rule.defaults.items():
        values.setdefault(name, torch.full((k,), float(default), dtype=torch.float64))
    check_ranges(rule.name, {n: v.tolist() for n, v in values.items() if n != "lr"})
    return values


def dense_gradients(model: nn.Module, rule: UpdateRule) -> nn.Module:
    """``model`` with every ``nn.Embedding(sparse=True)`` (and ``EmbeddingBag``) giving
    dense gradients, in place: the members' gradients are stacked into one dense ``(K, P)``
    tensor (the backward pass of a sparse embedding under vmap cannot run), lrlab's
    optimizers take dense ones (a range test's model), and a dense gradient
    holds the same numbers, zero in the rows a batch does not use, so torch's SGD and
    Adagrad, which take sparse gradients, make the same update from it. Under any other rule
    (torch's Adam refuses sparse gradients; SparseAdam moves only the rows a batch uses) one
    warning says that the rates are the dense embedding's."""
    sparse = [name for name, module in model.named_modules()
              if isinstance(module, (nn.Embedding, nn.EmbeddingBag)) and module.sparse]
    for name in sparse:
        model.get_submodule(name).sparse = False
    if sparse and rule.torch_name not in ("SGD", "Adagrad") \
            and first_time(type(model).__name__, "sparse", rule.name):
        kind = type(model.get_submodule(sparse[0])).__name__
        warnings.warn(f"lrlab: {type(model).__name__}.{sparse[0]} is nn.{kind}(sparse=True), "
                      f"whose sparse gradients torch's {rule.torch_name or rule.name} does not "
                      f"take; {rule.name} here trains it dense, so these rates are for "
                      "sparse=False (torch.optim.SparseAdam, which moves only a batch's rows, "
                      "may want another)", UserWarning, stacklevel=3)
    return model


class Population:
    """K members of one architecture, trained in lockstep.

    Args:
        models: one module (every member starts from its weights) or K modules of one
            architecture (member k starts from module k's weights). Never modified.
        rule: an update rule or its name (``"sgd"``, ``"adam"``, ...).
        hparams: ``lr`` and any of the rule's hyperparameters, one value per member.
        device: where to train; default: the first model's device.
        dtype: the floating dtype of parameters; default: the first model's.
        path: how to run the forward pass (``"auto"`` picks the fastest that works).
        divergence_factor: a member whose batch loss exceeds this multiple of its first
            loss (or is NaN/Inf) is frozen and flagged; ``None``: only NaN/Inf.
        lr_mult: layer-wise rates: parameter-name pattern -> multiplier of the member's rate
            (``{"head.*": 10}``; see :func:`lrlab.optim.param_groups`), or one such mapping
            per member so uniform and layer-wise members train side by side.
        compile: run the step's forward pass and update through ``torch.compile``: ``True``
            (the default backend) or a backend name; it falls back to eager code, with one
            warning, when compilation fails. Values agree with ``False`` up to rounding.
        clip_grad_norm: clip each member's gradient by its global L2 norm before the
            rule's step, as ``torch.nn.utils.clip_grad_norm_`` over that member's parameters:
            ``g <- g min(1, c / (|g| + 1e-6))``; ``None`` (the default): no clipping. The
            recorded gradient norm is the one before clipping (what torch's returns).

    Example:
        >>> import torch
        >>> pop = Population(torch.nn.Linear(2, 3), "sgd", {"lr": [0.1, 0.01]})
        >>> pop.members
        2
    """

    def __init__(self, models: nn.Module | Sequence[nn.Module], rule: UpdateRule | str,
                 hparams: Mapping[str, Sequence[float] | Tensor], *,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None,
                 path: Path = "auto", divergence_factor: float | None = 1e3,
                 lr_mult: Mapping[str, float] | Sequence[Mapping[str, float]] | None = None,
                 compile: CompileSetting = False, clip_grad_norm: float | None = None
                 ) -> None:
        self.rule = get_rule(rule) if isinstance(rule, str) else rule
        if clip_grad_norm is not None and not (math.isfinite(clip_grad_norm)
                                               and clip_grad_norm > 0):
            raise LrlabError(f"clip_grad_norm must be a positive number, got {clip_grad_norm}")
        self.clip_grad_norm = clip_grad_norm
        values = _check_hparams(self.rule, hparams)
        self.members = values["lr"].numel()
        models = [models] if isinstance(models, nn.Module) else list(models)
        if len(models) not in (1, self.members):
            raise LrlabError(f"got {len(models)} models for {self.members} members; "
                             "pass one model or one per member")
        first = next(iter(models[0].parameters()), None)
        if first is None:
            raise LrlabError(f"{type(models[0]).__name__} has no trainable parameters")
        self.device = torch.device(device) if device is not None else first.device
        self.dtype = dtype or first.dtype
        _say_cast(models[0], first.dtype, self.dtype)
        self.template = dense_gradients(copy.deepcopy(models[0]).to(self.device, self.dtype),
                                         self.rule)
        # training mode as a PyTorch loop sets it (model.train()), so that a model whose
        # train() keeps layers in evaluation mode (frozen BatchNorm) trains so from step 1,
        # not only after its first evaluation switched it back through train()
        self.template.train()
        self.flat, self.params, self.frozen = self._flatten(models)
        self.buffers = self._stack(models, "named_buffers")
        self.hparams = {k: v.to(self.device, self.dtype) for k, v in values.items()
                        if not (k == "weight_decay" and (v == 0).all())}
        mult = self._multipliers(lr_mult)
        if mult is not None:
            self.hparams["lr_mult"] = (mult,)
        self.state = self.rule.init([self.flat])
        self._plan = plan(self.template)
        self._program = Program.build(self._plan, self.params, self.frozen)
        self._vmap_ok: dict[bool, bool] = {}  # per mode (training, evaluation): does vmap work
        self.path = self._choose_path(path)
        self.divergence_factor = divergence_factor
        self.alive = torch.ones(self.members, dtype=torch.bool, device=self.device)
        self.diverged_step = torch.full((self.members,), -1, dtype=torch.long, device=self.device)
        self.steps = 0
        self._bound: Tensor | None = None
        self._check_on_host = self.device.type == "cpu"  # see _flag_divergence
        self._all_alive = True  # no member ever frozen (then the host check is one read)
        self._compiler = Compiler(compile, before_first=self._save_buffers)
        # the rule's fused in-place step where it has one and it pays (compiled: inductor
        # fuses instead)
        self._large = self.device.type == "cpu" and self.flat.shape[1] >= IN_PLACE_MIN
        self._in_place = (self._large and self.rule.apply is not None and compile is False
                          and "lr_mult" not in self.hparams)
        self._grad_buffer: Tensor | None = None  # the in-place path's flat gradient
        self._grad_buffer_views: list[Tensor] = []  # and its views shaped like the params

    # -- construction ------------------------------------------------------------------

    def _flatten(self, models: list[nn.Module]) -> tuple[Tensor, dict, dict]:
        """Every member's trainable parameters as one ``(K, P)`` tensor.

        Each named parameter is a leaf *view* into it, so the forward pass sees the usual
        shapes while the update rule, the gradient norm and the divergence mask each run
        once over ``(K, P)`` instead of once per parameter tensor. Frozen parameters
        (``requires_grad=False``) are stacked apart and never updated.
        """
        named = [dict(m.named_parameters()) for m in models]
        trainable = {n: p for n, p in named[0].items() if p.requires_grad}
        if not trainable:
            raise LrlabError(f"{type(models[0]).__name__} has no trainable parameters")
        k = self.members
        flat = torch.empty(k, sum(p.numel() for p in trainable.values()),
                           device=self.device, dtype=self.dtype)
        params, offset = {}, 0
        for name, p in trainable.items():
            view = flat[:, offset:offset + p.numel()].view(k, *p.shape)
            view.copy_(torch.stack([d[name].detach() for d in named]).to(view))
            params[name] = view.detach().requires_grad_(True)  # a leaf sharing flat's storage
            offset += p.numel()
        frozen = {n: torch.stack([d[n].detach() for d in named]).expand(k, *p.shape)
                  .to(self.device, self.dtype).contiguous()
                  for n, p in named[0].items() if not p.requires_grad}
        return flat, params, frozen

    def _stack(self, models: list[nn.Module], which: str) -> dict:
        per_model = [dict(getattr(m, which)()) for m in models]
        out = {}
        for name, t in per_model[0].items():
            stacked = torch.stack([d[name].detach() for d in per_model])
            stacked = stacked.expand(self.members, *t.shape).contiguous()
            out[name] = stacked.to(self.device, self.dtype if t.is_floating_point() else t.dtype)
        return out

    def _multipliers(self, lr_mult: Mapping[str, float] | Sequence[Mapping[str, float]] | None
                     ) -> Tensor | None:
        """Layer-wise multipliers per element: ``(P,)`` for one mapping, ``(K, P)`` for one
        mapping per member; ``None`` when every multiplier is 1."""
        if not lr_mult:
            return None
        per_member_maps = not isinstance(lr_mult, Mapping)
        maps = list(lr_mult) if per_member_maps else [lr_mult]
        if per_member_maps and len(maps) != self.members:
            raise LrlabError(f"got {len(maps)} lr_mult mappings for {self.members} members; "
                             "give one mapping, or one per member")
        names = list(self.params)
        sizes = torch.tensor([p[0].numel() for p in self.params.values()], device=self.device)
        rows = [torch.tensor(lr_multipliers(names, m or None), dtype=self.dtype,
                             device=self.device).repeat_interleave(sizes) for m in maps]
        mult = torch.stack(rows) if per_member_maps else rows[0]
        return None if bool((mult == 1).all()) else mult

    def _choose_path(self, path: Path) -> Path:
        if path == "batched" and self._plan is None:
            raise LrlabError(f"{type(self.template).__name__} is not a Sequential of standard "
                             "layers; use path='vmap' or 'auto'")
        if path != "auto":
            return path
        return "batched" if self._plan is not None else "vmap"

    # -- forward -----------------------------------------------------------------------

    def _tensors(self, k: int | None = None) -> dict[str, Tensor]:
        """Every parameter, frozen parameter and buffer by name: stacked, or member ``k``'s."""
        every = {**self.params, **self.frozen, **self.buffers}
        return every if k is None else {n: t[k] for n, t in every.items()}

    def _run(self, fn: Callable, inputs: Any, shared: bool) -> Any:
        """``fn(tensors, inputs)`` for every member: under vmap, or member by member.

        ``fn`` takes one member's tensors (by name) and the inputs (any pytree) and returns
        a tensor or a tuple of tensors; the result has the member axis first. vmap is tried
        once per mode (training, evaluation); a model it cannot trace falls back to the loop
        with a one-line warning, after undoing what the failed attempt changed in buffers.
        """
        mode = self.template.training
        if self.path == "vmap" and self._vmap_ok.get(mode) is not False:
            saved = None if mode in self._vmap_ok else {n: b.clone()
                                                        for n, b in self.buffers.items()}
            try:
                with _quiet_fallbacks():
                    out = vmap(fn, in_dims=(0, None if shared else 0),
                               randomness="same")(self._tensors(), inputs)
                self._vmap_ok[mode] = True
                return out
            except (RuntimeError, NotImplementedError) as err:
                if saved is None:
                    raise
                for name, b in saved.items():
                    self.buffers[name].copy_(b)
                self._vmap_ok[mode] = False
                if mode:  # training: the loop from now on; evaluation alone may still vmap
                    self.path = "loop"
                reason = str(err).splitlines()[0] if str(err) else type(err).__name__
                what = "training" if mode else "evaluating"
                if first_time(type(self.template).__name__, reason):
                    warnings.warn(f"lrlab: {type(self.template).__name__} cannot be "
                                  f"vectorised ({reason}); {what} the members one after "
                                  f"another{_fastpath(reason)}", RuntimeWarning, stacklevel=3)
        per = [fn(self._tensors(k), inputs if shared else _member(inputs, k))
               for k in range(self.members)]
        if isinstance(per[0], tuple):
            return tuple(torch.stack(parts) for parts in zip(*per))
        return torch.stack(per)

    def _model_call(self, tensors: dict[str, Tensor], inputs: tuple[tuple, dict]) -> Any:
        args, kwargs = inputs
        return functional_call(self.template, tensors, tuple(args), dict(kwargs))

    def forward(self, x: Tensor | Inputs, *, shared: bool = True) -> Tensor:
        """Every member's outputs on ``x``: a tensor (``(B, ...)`` if shared, else
        ``(K, B, ...)``) or :class:`~lrlab.data.Inputs` (``model(*args, **kwargs)``)."""
        if isinstance(x, Tensor):
            if self.path == "batched":
                return batched_forward(self._plan, {**self.params, **self.frozen}, x,
                                       shared=shared)
            x = Inputs((x,), {}, None)
        elif self.path == "batched":  # several inputs: a Sequential takes one
            return self.forward(_single(x), shared=shared)

        def call(tensors, inputs):
            out = self._model_call(tensors, inputs)
            if not isinstance(out, Tensor):
                raise LrlabError(f"{type(self.template).__name__} returned "
                                 f"{type(out).__name__}, not a tensor; give the task a loss "
                                 "of (outputs, targets) only for models returning tensors "
                                 "(an own-loss model: loss=None)")
            return out
        return self._run(call, (tuple(x.args), dict(x.kwargs)), shared)

    def own_loss(self, batch: Any, loss: ModelLoss | None, *, shared: bool = True
                 ) -> tuple[Tensor, Tensor | None]:
        """Each member's loss from a model that computes its own, ``(K,)``, and its
        predictions ``(K, B, ...)`` when it reports them (else ``None``).

        Args:
            batch: :class:`~lrlab.data.Inputs` for an own-loss model (``loss=None``: the
                output's ``.loss`` and ``.logits``), or the raw batch for a
                :class:`~lrlab.data.ModelLoss` (``fn(model, batch)``, a scalar or a
                ``(loss, outputs)`` pair).
        """
        template = self.template

        def call(tensors, xs):
            if loss is None:
                out = self._model_call(tensors, xs)
                value, logits = output_loss(out), output_logits(out)
            else:
                value, logits = loss.pair(_Bound(template, tensors), xs)
            if value.numel() != 1:
                raise LrlabError(f"the loss has shape {tuple(value.shape)}; an own-loss model "
                                 "or model_loss must give one number per batch (its mean)")
            value = value.reshape(())
            return value, (logits if logits is not None else value.new_zeros(()))

        if loss is None:  # a pytree vmap can split: (args, kwargs)
            batch = (tuple(batch.args), dict(batch.kwargs))
        value, logits = self._run(call, batch, shared)
        return value, (logits if logits.dim() > 1 else None)

    @torch.no_grad()
    def predict(self, x: Tensor | Inputs, *, shared: bool = True) -> Tensor:
        """Outputs in evaluation mode, without gradients, from the weights the rule
        evaluates (Schedule-Free's average; the parameters for every other rule)."""
        if self._program is not None and self.path == "batched" and isinstance(x, Tensor):
            # its layers act alike in both modes: the weights alone (no module.train walk)
            with self.evaluation_weights():
                if self._large and x.shape[0 if shared else 1] > 0:
                    return self._program.predict_by_member(x, shared)
                return self._program.forward(x, shared)  # the same values, fewer calls
        with self.evaluating():
            return self.forward(x, shared=shared)

    @contextmanager
    def evaluating(self) -> Iterator[None]:
        """The model in evaluation mode (dropout off, BatchNorm's running statistics), its
        parameters holding the weights to evaluate (:meth:`evaluation_weights`)."""
        was_training = self.template.training
        self.template.train(False)
        try:
            with self.evaluation_weights():
                yield
        finally:
            self.template.train(was_training)

    def norm_layers(self) -> list[str]:
        """:func:`running_norms` of the population's model in training mode."""
        return running_norms(self.template)

    @contextmanager
    def recomputed_norms(self, batches: Iterable[Any], loss_fn: LossFn | ModelLoss | None, *,
                         shared: bool = True) -> Iterator[int]:
        """Within the block, every layer of :meth:`norm_layers` holds, for each member, the
        mean of its batch statistics over ``batches`` at the weights the rule evaluates,
        instead of its running average over training; restored exactly after the block.
        Yields how many batches were read (0: no such layer, nothing changed).

        BatchNorm's running statistics are an exponential average (momentum 0.1: about the
        last ten steps) of the statistics of weights that kept moving; while the weights
        move fast (a short training, a high rate) they describe earlier weights, and the
        evaluation that uses them scores a network that no longer exists. Here the i-th
        batch enters with momentum ``1 / i`` (the first replaces what was there), so the
        result is the plain mean over the batches, as ``momentum=None`` gives, for every
        member in one pass per batch (precise BatchNorm: Wu and Johnson, "Rethinking
        'Batch' in BatchNorm", 2021).

        Each batch runs forward in training mode as :meth:`step` runs it (``batches``,
        ``loss_fn`` and ``shared`` as ``step``'s ``x``, ``loss_fn`` and ``shared``; no
        targets: no loss is taken), without a gradient or an update. Random layers
        (dropout) draw from a copy of the random state, so the training after the block
        draws as it would have.

        Example:
            >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
            >>> pop = Population(net, "sgd", {"lr": [0.1, 0.01]})
            >>> x = torch.randn(8, 2) + 5
            >>> with pop.recomputed_norms([x], torch.nn.functional.mse_loss):
            ...     fresh = pop.buffers["1.running_mean"].clone()
            >>> torch.allclose(fresh[0], net[0](x).mean(0).detach(), atol=1e-5)
            True
            >>> bool((pop.buffers["1.running_mean"] == 0).all())  # restored
            True
        """
        names = self.norm_layers()
        if not names:
            yield 0
            return
        layers = [self.template.get_submodule(n) for n in names]
        keys = [f"{n}.{b}" for n in names
                for b in ("running_mean", "running_var", "num_batches_tracked")
                if f"{n}.{b}" in self.buffers]
        saved = {k: self.buffers[k].clone() for k in keys}
        momenta = [m.momentum for m in layers]
        count = 0
        try:
            with torch.no_grad(), isolated_rng(self.device), self.evaluation_weights():
                for count, batch in enumerate(batches, 1):
                    for m in layers:
                        m.momentum = 1.0 / count
                    if loss_fn is None or isinstance(loss_fn, ModelLoss):
                        self.own_loss(batch, loss_fn, shared=shared)
                    else:
                        self.forward(batch, shared=shared)
            yield count
        finally:
            for m, momentum in zip(layers, momenta):
                m.momentum = momentum
            for k, b in saved.items():
                self.buffers[k].copy_(b)

    @contextmanager
    def evaluation_weights(self) -> Iterator[None]:
        """Within the block, the parameters hold the weights to evaluate
        (:attr:`UpdateRule.eval_params`); restored exactly after it. A diverged member
        keeps its frozen weights."""
        if self.rule.eval_params is None:
            yield
            return
        with torch.no_grad():
            saved = self.flat.clone()
            (weights,) = self.rule.eval_params(self.state, [self.flat])
            self.flat.copy_(torch.where(self.alive.unsqueeze(1), weights, self.flat))
        try:
            yield
        finally:
            with torch.no_grad():
                self.flat.copy_(saved)

    # -- training ----------------------------------------------------------------------

    def step(self, x: Tensor | Inputs | Any, y: Tensor | None, loss_fn: LossFn | ModelLoss | None,
             *, shared: bool = True, lr: Tensor | None = None) -> StepOutput:
        """One step for every live member: forward, one backward, the rule's update.

        Args:
            x: the batch's inputs: a tensor ``(B, ...)`` when ``shared`` else ``(K, B, ...)``,
                or :class:`~lrlab.data.Inputs`; for a :class:`~lrlab.data.ModelLoss`, the
                raw batch.
            y: targets, ``(B, ...)`` or ``(K, B, ...)`` (``None`` for an own-loss model).
            loss_fn: per-sample loss over every member, ``loss_fn(outputs (K, B, ...), y) ->
                (K, B)``; ``None`` for a model computing its own loss (``.loss``), or a
                :class:`~lrlab.data.ModelLoss`. A loss of one number per batch counts as
                that number for each of its samples in the epoch's mean.
            shared: whether every member sees the same batch.
            lr: this step's rate per member, ``(K,)``; default: the base rates.
        """
        tape = None
        if loss_fn is None or isinstance(loss_fn, ModelLoss):
            batch_loss, outputs = self.own_loss(x, loss_fn, shared=shared)
            size = batch_size_of(y if y is not None else x)
            losses = batch_loss.detach().unsqueeze(1).expand(self.members, size)
        elif (by_hand := self._forward_by_hand(x, y, loss_fn, shared)) is not None:
            outputs, losses, tape = by_hand
            batch_loss = losses.mean(dim=1)
        else:
            if self.path == "vmap" and True not in self._vmap_ok:  # this call finds out
                outputs, losses = self._outputs_losses(x, y, loss_fn, shared)
            else:
                outputs, losses = self._compiler("forward", self._outputs_losses, x, y,
                                                 loss_fn, shared)
            batch_loss = losses.mean(dim=1)
        loss = batch_loss if tape is not None else batch_loss.detach()
        # (a cross-entropy is never negative: no abs() for the hand-written pass's)
        everyone = self._flag_divergence(loss, positive=tape is not None)
        alive = None if everyone else self.alive
        hp = dict(self.hparams)
        if lr is not None:
            hp["lr"] = lr.to(self.device, self.dtype)
        norm = grads = None
        if tape is not None and self._in_place:  # gradient, norm and step member by member
            fill = self._program.backward_by_member(tape, alive, losses.shape[1])
            norm = self._apply_by_member(fill, hp, alive)
            if norm is None:  # the rule wants every gradient at once
                grads = self._gradient_rows(fill)
        elif tape is not None:
            grads = self._program.backward(tape, alive, losses.shape[1])
        else:
            total = (batch_loss if everyone else torch.where(self.alive, batch_loss, 0.0)).sum()
            params = list(self.params.values())
            with _quiet_fallbacks():
                grads = torch.autograd.grad(total, params, allow_unused=True)
            grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
        if norm is None and self._in_place:
            norm = self._apply(grads, hp, alive)
        if norm is None:
            update, self.state, norm = self._compiler("update", self._update, grads,
                                                      self.state, hp, alive)
            self.flat.add_(update)  # (flat records no graph: the parameters are its views)
        used = self.state.get("lr", hp["lr"])  # a rule that adapts its rate reports it
        if tape is None:  # (the hand-written pass records no graph)
            outputs = None if outputs is None else outputs.detach()
            losses = losses.detach()
        return StepOutput(outputs, losses, loss, norm, used)

    def _forward_by_hand(self, x: Any, y: Tensor | None, loss_fn: LossFn, shared: bool
                         ) -> tuple[Tensor, Tensor, Tape] | None:
        """The outputs, per-sample losses and the tape of :class:`Program`'s forward pass,
        or ``None`` when this step needs autograd (another loss, model or target, or a
        compiled step)."""
        program = self._program
        if (program is None or loss_fn is not cross_entropy or self.path != "batched"
                or self._compiler.active or not isinstance(x, Tensor)
                or not isinstance(y, Tensor) or y.is_floating_point() or y.is_complex()
                or y.dtype == torch.bool):
            return None
        batch = x.shape[0 if shared else 1] if x.dim() > (0 if shared else 1) else -1
        if tuple(y.shape) not in ((batch,), (self.members, batch)):
            return None
        tape = Tape([])
        outputs = program.forward(x, shared, tape)
        if outputs.dim() != 3:  # logits with more axes: the autograd path
            return None
        if y.dtype != torch.int64 or y.device != outputs.device:
            y = y.to(device=outputs.device, dtype=torch.int64)
        return outputs, program.cross_entropy(outputs, y, tape), tape

    def _outputs_losses(self, x: Tensor, y: Tensor, loss_fn: LossFn,
                        shared: bool) -> tuple[Tensor, Tensor]:
        outputs = self.forward(x, shared=shared)
        return outputs, member_losses(loss_fn, outputs, y)

    def _update(self, grads: Sequence[Tensor], state: dict, hp: dict,
                alive: Tensor | None) -> tuple[Tensor, dict, Tensor]:
        """The increment of ``flat``, the rule's new state and each member's gradient norm;
        with ``alive`` given, a frozen member's increment is 0 and its norm NaN."""
        # one copy of every gradient into a new (K, P) tensor (the rule may keep it)
        flat_grad = torch.cat([g.reshape(g.shape[0], -1) for g in grads], 1)
        if self.clip_grad_norm is not None:  # the norm before clipping, as torch's
            norm = torch.linalg.vector_norm(flat_grad, dim=1)
            flat_grad.mul_(self._clipped(norm).unsqueeze(1))
            (update,), state = self.rule.update([flat_grad], state, [self.flat], hp)
        else:
            (update,), state = self.rule.update([flat_grad], state, [self.flat], hp)
            norm = torch.linalg.vector_norm(flat_grad, dim=1)
        if alive is not None:  # a frozen member keeps its weights; its gradient norm means nothing
            update = torch.where(alive.unsqueeze(1), update, 0.0)
            norm = torch.where(alive, norm, torch.nan)
        return update, state, norm

    def _apply(self, grads: Sequence[Tensor], hp: dict, alive: Tensor | None) -> Tensor | None:
        """The rule's step applied in place (:attr:`UpdateRule.apply`: one fused pass per
        live member over its parameters and state); each member's gradient norm (NaN for a
        frozen member), or ``None`` when the rule cannot run so here (nothing changed)."""
        flat_grad, views = self._buffer()
        if not all(g is v for g, v in zip(grads, views)):  # else already there
            self._flat_grad(grads, flat_grad)
        norm = torch.linalg.vector_norm(flat_grad, dim=1)  # before apply may overwrite it
        if self.clip_grad_norm is not None:
            flat_grad.mul_(self._clipped(norm).unsqueeze(1))
        with torch.no_grad():
            state = self.rule.apply([flat_grad], self.state, [self.flat], hp, alive)
        if state is None:
            return None
        self.state = state
        return norm if alive is None else torch.where(alive, norm, torch.nan)

    def _apply_by_member(self, fill: Callable[[int, Sequence[Tensor]], None], hp: dict,
                         alive: Tensor | None) -> Tensor | None:
        """As :meth:`_apply`, with each live member's gradient made just before its step
        (``fill``, :meth:`Program.backward_by_member`) in one reused row that stays in the
        cache for its norm and the rule's pass; ``None`` when the rule needs every
        gradient at once (nothing changed)."""
        flat_grad, views = self._buffer()
        row, row_views = flat_grad[0], [v[0] for v in views]  # member 0's row serves all
        norms: dict[int, Tensor] = {}

        def member_grad(k: int) -> list[Tensor]:
            fill(k, row_views)
            norms[k] = torch.linalg.vector_norm(row)  # before apply may overwrite it
            if self.clip_grad_norm is not None:
                row.mul_(self._clipped(norms[k]))
            return [row]

        with torch.no_grad():
            state = self.rule.apply(member_grad, self.state, [self.flat], hp, alive)
        if state is None:
            return None
        self.state = state
        frozen = row.new_tensor(torch.nan)
        return torch.stack([norms.get(k, frozen) for k in range(self.members)])

    def _clipped(self, norm: Tensor) -> Tensor:
        """The factor that clips gradients of global norm ``norm`` (any shape) to
        :attr:`clip_grad_norm`: ``min(1, c / (norm + 1e-6))``, as
        ``torch.nn.utils.clip_grad_norm_``."""
        return (self.clip_grad_norm / (norm + 1e-6)).clamp_(max=1.0)

    def _gradient_rows(self, fill: Callable[[int, Sequence[Tensor]], None]) -> list[Tensor]:
        """Every member's gradient from ``fill`` in the flat gradient buffer; its views
        shaped like the parameters."""
        views = self._buffer()[1]
        for k in range(self.members):
            fill(k, [v[k] for v in views])
        return views

    def _buffer(self) -> tuple[Tensor, list[Tensor]]:
        """The in-place path's flat gradient ``(K, P)``, reused every step (``apply`` keeps
        no reference to it), and its views shaped like each parameter."""
        if self._grad_buffer is None:
            self._grad_buffer = torch.empty_like(self.flat)
            self._grad_buffer_views = self._views(self._grad_buffer)
        return self._grad_buffer, self._grad_buffer_views

    def _flat_grad(self, grads: Sequence[Tensor], out: Tensor) -> Tensor:
        """The gradients copied into ``out``, a ``(K, P)`` tensor shaped like ``flat``."""
        for view, g in zip(self._views(out), grads):
            view.copy_(g)  # one pass each, whatever the layout autograd handed back
        return out

    def _save_buffers(self) -> Callable[[], None]:
        """Undo for a failed first compiled call: put the buffers back as they are now."""
        saved = {n: b.clone() for n, b in self.buffers.items()}

        def undo() -> None:
            for name, b in saved.items():
                self.buffers[name].copy_(b)
        return undo

    def _views(self, flat: Tensor) -> list[Tensor]:
        """Views of a ``(K, P)`` tensor shaped like each trainable parameter, in order."""
        out, offset = [], 0
        for p in self.params.values():
            size = p[0].numel()
            out.append(flat[:, offset:offset + size].view(p.shape))
            offset += size
        return out

    def _flag_divergence(self, loss: Tensor, positive: bool = False) -> bool:
        """Freeze members whose loss is NaN/Inf or beyond their bound; whether all live
        (then the step skips masking).

        One comparison covers every case: ``|loss| <= bound`` is false for NaN and Inf. On the
        CPU one host read lets the common case (everyone alive) skip all masking; on an
        accelerator that read would stall the queue every step, so the answer is always
        "mask" and the mask stays on the device (masking a live member changes no bit).
        ``positive``: the losses are never negative (a cross-entropy), so no ``abs``.
        """
        self.steps += 1
        if self._bound is None:
            big = torch.finfo(loss.dtype).max
            factor = self.divergence_factor
            bound = loss.abs().clamp_min(1.0) * factor if factor else torch.full_like(loss, big)
            self._bound = bound.nan_to_num(big, big)
        ok = (loss if positive else loss.abs()) <= self._bound
        if self._check_on_host and (bool(ok.all()) if self._all_alive
                                    else bool((ok & self.alive).sum() == self.members)):
            return True
        self._all_alive = False
        self.diverged_step = torch.where(self.alive & ~ok, self.steps, self.diverged_step)
        self.alive = self.alive & ok
        return False

    # -- checkpoints -------------------------------------------------------------------

    def state_dict(self) -> dict:
        """What training changes, as CPU copies of plain tensors, lists and numbers.

        The parameters (flat), buffers, the rule's state, the divergence mask, step and
        bounds, the step counter and the forward path; enough for :meth:`load_state_dict`
        on a population built the same way to continue exactly where this one is.
        """
        return {"flat": self.flat.detach().cpu().clone(),
                "buffers": {n: b.cpu().clone() for n, b in self.buffers.items()},
                "rule": _map_tensors(self.state, lambda t: t.detach().cpu().clone()),
                "alive": self.alive.cpu().clone(),
                "diverged_step": self.diverged_step.cpu().clone(),
                "bound": None if self._bound is None else self._bound.cpu().clone(),
                "steps": self.steps, "path": self.path,
                "vmap_works": self._vmap_ok.get(True, False)}

    def load_state_dict(self, state: Mapping) -> None:
        """Continue from :meth:`state_dict` of a population built with the same models,
        rule and hyperparameters.

        Raises:
            LrlabError: the state belongs to a population of another shape.
        """
        flat = state["flat"]
        if tuple(flat.shape) != tuple(self.flat.shape) or set(state["buffers"]) != set(
                self.buffers):
            raise LrlabError(f"the checkpoint holds {tuple(flat.shape)} parameters, this "
                             f"population {tuple(self.flat.shape)}; resume with the settings "
                             "it was saved with")
        with torch.no_grad():
            self.flat.copy_(flat)  # in place: the named parameters are views into it
            for name, b in state["buffers"].items():
                self.buffers[name].copy_(b)
        own = lambda t: t.to(self.device, copy=True)  # a copy: the checkpoint stays intact
        self.state = _map_tensors(state["rule"], own)
        self.alive = own(state["alive"])
        self._all_alive = bool(self.alive.all())
        self.diverged_step = own(state["diverged_step"])
        self._bound = None if state["bound"] is None else own(state["bound"])
        self.steps = int(state["steps"])
        self.path = state["path"]
        self._vmap_ok = {True: True} if state["vmap_works"] else {}

    # -- export ------------------------------------------------------------------------

    def member_module(self, k: int) -> nn.Module:
        """A standalone copy of the model holding member ``k``'s current weights (those
        the rule evaluates: Schedule-Free's average)."""
        module = copy.deepcopy(self.template)
        with torch.no_grad(), self.evaluation_weights():
            for name, t in {**self.params, **self.frozen}.items():
                module.get_parameter(name).copy_(t[k])
            for name, t in self.buffers.items():
                module.get_buffer(name).copy_(t[k])
        return module


def running_norms(model: nn.Module) -> list[str]:
    """The names of ``model``'s layers whose running statistics evaluation uses and training
    updates, as the model stands (call ``model.train()`` first for those a training
    updates): every BatchNorm (and InstanceNorm with ``track_running_stats``) in training
    mode; a frozen BatchNorm that the model's ``train()`` keeps in evaluation mode is not
    one.

    Example:
        >>> running_norms(nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)).train())
        ['1']
    """
    return [name for name, m in model.named_modules()
            if isinstance(m, nn.modules.batchnorm._NormBase) and m.track_running_stats
            and m.training]


def _map_tensors(value, fn: Callable[[Tensor], Tensor]):
    """``value`` (a rule's state: dicts, lists, tensors, numbers) with ``fn`` applied to
    every tensor."""
    if isinstance(value, Tensor):
        return fn(value)
    if isinstance(value, Mapping):
        return {k: _map_tensors(v, fn) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_map_tensors(v, fn) for v in value]
    return value


def _member(inputs: Any, k: int) -> Any:
    """Member ``k``'s slice of per-member inputs (every tensor's first axis)."""
    if isinstance(inputs, Tensor):
        return inputs[k]
    if isinstance(inputs, (tuple, list)):
        return type(inputs)(_member(v, k) for v in inputs)
    if isinstance(inputs, Mapping):
        return {n: _member(v, k) for n, v in inputs.items()}
    return inputs


def _single(x: Inputs) -> Tensor:
    if len(x.args) == 1 and not x.kwargs and isinstance(x.args[0], Tensor):
        return x.args[0]
    raise LrlabError("a batched Sequential takes one tensor input; this batch gives "
                     f"{len(x.args)} positional and {len(x.kwargs)} keyword inputs "
                     "(use path='vmap' or 'auto')")


def _fastpath(reason: str) -> str:
    """How to vectorise a model whose evaluation failed in torch's nested-tensor fast path
    (``nn.TransformerEncoder`` given a padding mask), else nothing."""
    if "nested_tensor" not in reason:
        return ""
    return ("; the cause is nn.TransformerEncoder's fast path for padded batches: "
            "torch.backends.mha.set_fastpath_enabled(False) lets it vectorise")


class _Bound:
    """One member's model for a :func:`~lrlab.data.model_loss` function: calling it runs the
    template with that member's tensors; attributes are the template's."""

    def __init__(self, template: nn.Module, tensors: dict[str, Tensor]) -> None:
        self._template, self._tensors = template, tensors

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return functional_call(self._template, self._tensors, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._template, name)


@contextmanager
def _quiet_fallbacks() -> Iterator[None]:
    """Silence torch's per-call "performance drop" notes for ops vmap runs through its
    generic fallback (attention kernels, say): the numbers are right, and a note per step
    would bury the one line lrlab prints when a model cannot be vectorised at all."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="There is a performance drop",
                                category=UserWarning)
        yield


def member_losses(loss_fn: Callable[[Tensor, Tensor], Tensor], outputs: Tensor,
                  targets: Any) -> Tensor:
    """``loss_fn(outputs, targets)`` on a population's outputs ``(K, B, ...)``: lrlab's
    :func:`~lrlab.metrics.cross_entropy` reads them in any layout; any other loss gets them
    contiguous, as a plain model gives them (a narrow last layer's logits are a transposed
    view of its class-major product, and a user's loss may ``.view()`` them).

    Example:
        >>> z = torch.zeros(2, 3, 4).transpose(1, 2)[:, :, :2]  # (2, 4, 2), a strided view
        >>> member_losses(lambda o, t: o.view(-1, 2).sum(1).view(2, 4), z, None).shape
        torch.Size([2, 4])
    """
    if (loss_fn is not cross_entropy and isinstance(outputs, Tensor)
            and not outputs.is_contiguous()):
        outputs = outputs.contiguous()
    return loss_fn(outputs, targets)

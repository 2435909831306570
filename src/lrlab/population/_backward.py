"""A training step for the batched Sequential without the autograd engine.

For the networks most sweeps train (linear layers with ReLU, tanh or sigmoid between them,
lrlab's cross-entropy as the loss), a step on the CPU is dozens of tiny operations, and
recording them as a graph and walking it backwards cost about half the step (issue 14,
``docs/benchmarks.md``). :class:`Program` runs the forward pass of
:func:`~lrlab.population._batched.batched_forward` keeping what the backward pass needs, and
then the backward pass by hand, as the chain rule over the layers:

.. math::

    \\frac{\\partial L}{\\partial z} = \\mathrm{softmax}(z) - \\mathrm{onehot}(y)
    \\text{ (scaled)},\\quad
    \\frac{\\partial L}{\\partial W} = \\delta^\\top x,\\quad
    \\frac{\\partial L}{\\partial b} = \\textstyle\\sum_j \\delta_j,\\quad
    \\frac{\\partial L}{\\partial x} = \\delta W

per member, with each activation's own derivative between the layers. It calls the very
operations the autograd path calls for that graph (``BaddbmmBackward``, or for large weights
:class:`~lrlab.population._batched._BatchedLinear`'s; ``ReluBackward``,
``LogSoftmaxBackward``, ...), on tensors of the same memory layout, so its gradients equal
that path's bit for bit; the tests check that against ``torch.autograd.grad``.

Anything else (other layers, a frozen parameter, another loss, ``compile=...``) takes the
autograd path; :meth:`Program.build` says whether a model qualifies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from lrlab.population._batched import (
    CLASS_MAJOR_ROWS,
    NARROW_OUT,
    Plan,
    class_major,
    class_major_pads,
    own_layout,
    product,
    weight_grad,
)

__all__ = ["Program", "Tape"]

# Activations whose derivative is a function of their output, by type: the backward op
# autograd uses for each (``ReluBackward0`` is ``threshold_backward(grad, result, 0)``).
_ACTIVATIONS = {
    nn.ReLU: lambda g, out: torch.ops.aten.threshold_backward(g, out, 0),
    nn.Tanh: torch.ops.aten.tanh_backward,
    nn.Sigmoid: torch.ops.aten.sigmoid_backward,
}
# ... and in place, on a gradient nothing else holds (the same kernels: the same bits)
_ACTIVATIONS_ = {
    nn.ReLU: lambda g, out: torch.ops.aten.threshold_backward.grad_input(g, out, 0,
                                                                         grad_input=g),
    nn.Tanh: lambda g, out: torch.ops.aten.tanh_backward.grad_input(g, out, grad_input=g),
    nn.Sigmoid: lambda g, out: torch.ops.aten.sigmoid_backward.grad_input(g, out,
                                                                          grad_input=g),
}
# ... and their forward functions, called without the module's __call__ (the kernels
# ``nn.ReLU()``, ``nn.Tanh()`` and ``nn.Sigmoid()`` call), out of place and in place
_FORWARD = {nn.ReLU: torch.relu, nn.Tanh: torch.tanh, nn.Sigmoid: torch.sigmoid}
_FORWARD_ = {nn.ReLU: torch.relu_, nn.Tanh: torch.tanh_, nn.Sigmoid: torch.sigmoid_}


@dataclass(frozen=True)
class _Linear:
    weight: Tensor  # (K, out, in), the parameter itself
    weight_t: Tensor  # (K, in, out), its transposed view (made once)
    bias_col: Tensor | None  # (K, 1, out) view of the bias
    weight_at: int  # index of the weight in the parameter list
    bias_at: int | None
    own_layout: bool  # its gradient as dy^T x (see _batched.own_layout)
    # class-major (_batched.class_major, on batches of 2+ rows): the last layer, with a
    # bias, <= 4 outputs, on the CPU; then its bias as a (K, out, 1) view and the rows its
    # weight and bias are padded with (None: out = 4, no padding)
    class_major: bool = False
    bias_rows: Tensor | None = None
    pads: tuple[Tensor, Tensor] | None = None


@dataclass
class Tape:
    """What the backward pass reads, saved by :meth:`Program.forward` (one step's)."""

    saved: list  # per layer, in order: what its backward needs
    log_probs: Tensor | None = None  # the log-softmax: (K, B, C), or (K, C, B) if narrow
    narrow: bool = False  # log-softmax along a transposed copy
    index: Tensor | None = None  # the targets, (K, B, 1), or (K, 1, B) if narrow
    class_major: Tensor | None = None  # the last layer's padded (K, 4, B) logits, if so


class Program:
    """The forward and backward pass of one batched Sequential, by hand.

    Build with :meth:`build`; ``None`` when the model has a layer, or a frozen
    parameter, the hand-written backward does not cover.

    Example:
        >>> import torch
        >>> from lrlab.population import Population
        >>> pop = Population(torch.nn.Sequential(torch.nn.Linear(2, 3)), "sgd",
        ...                  {"lr": [0.1, 0.01]})
        >>> pop._program is not None
        True
    """

    def __init__(self, ops: list, count: int) -> None:
        self.ops, self.count = ops, count
        self._seeds: dict[tuple, Tensor] = {}  # the loss gradient when every member is alive

    @classmethod
    def build(cls, layers: Plan | None, params: Mapping[str, Tensor],
              frozen: Mapping[str, Tensor]) -> Program | None:
        """The program of ``layers`` over ``params`` (name -> stacked leaf), or ``None``."""
        if layers is None or frozen:
            return None
        names = list(params)
        ops: list = []
        for name, m in layers:
            if type(m) is nn.Linear:
                # detached views sharing the parameters' memory: the update lands in them,
                # and nothing here records a graph
                w = params[f"{name}.weight"].detach()
                b = params.get(f"{name}.bias")
                ops.append(_Linear(w, w.transpose(1, 2),
                                   None if b is None else b.detach().unsqueeze(1),
                                   names.index(f"{name}.weight"),
                                   None if b is None else names.index(f"{name}.bias"),
                                   own_layout(w)))
            elif type(m) in _ACTIVATIONS or isinstance(m, nn.Flatten):
                ops.append(m)
            elif not (isinstance(m, (nn.Identity, nn.Dropout))):  # both: no-ops here
                return None
        if not any(isinstance(op, _Linear) for op in ops):
            return None
        last = ops[-1]
        if (isinstance(last, _Linear) and last.bias_col is not None
                and last.weight.shape[1] <= CLASS_MAJOR_ROWS
                and last.weight.device.type == "cpu"):  # class-major for 2+ rows
            ops[-1] = replace(last, class_major=True, bias_rows=last.bias_col.transpose(1, 2),
                              pads=class_major_pads(last.weight))
        return cls(ops, len(names))

    def forward(self, x: Tensor, shared: bool, tape: Tape | None = None) -> Tensor:
        """The members' outputs ``(K, B, ...)``, as ``batched_forward`` computes them;
        with ``tape``, what the backward pass needs is kept on it.

        Same values, fewer calls: reshapes that change nothing are skipped, and an
        activation runs on ``(K, B, ...)`` directly (``batched_forward`` folds the members
        into the batch first; on contiguous memory an elementwise op gives the same bits).
        """
        keep = tape is not None
        learned = False  # has any layer with parameters run yet (then x carries gradient)
        fresh = False  # x is a linear layer's output that nothing else holds: overwritable
        for op in self.ops:
            if isinstance(op, _Linear):
                k = op.weight.shape[0]
                if shared:
                    x = x.expand(k, *x.shape)
                shape = None if x.dim() == 3 else x.shape
                x3 = x if shape is None else x.reshape(k, -1, x.shape[-1])
                # (as _batched.class_major_ok decides, its shape-free tests made at build)
                if op.class_major and shape is None and x.shape[1] >= 2:
                    z = class_major(x3, op.weight, op.bias_rows, op.pads)
                    if keep:
                        tape.saved.append((x3, shape, learned))
                        tape.class_major = z
                    return z[:, :op.weight.shape[1]].transpose(1, 2)  # the last layer
                y = product(x3, op.weight_t, op.bias_col)
                if keep:
                    tape.saved.append((x3, shape, learned))
                x = y if shape is None else y.reshape(k, *shape[1:-1], op.weight.shape[1])
                shared, learned, fresh = False, True, True
            elif isinstance(op, nn.Flatten):
                before = x.shape
                x = x.flatten(op.start_dim + (0 if shared else 1))
                if keep and learned:
                    tape.saved.append(before)
            else:
                if shared or x.is_contiguous():  # in place on a fresh output: same bits
                    x = (_FORWARD_ if fresh else _FORWARD)[type(op)](x)
                else:  # as _batched._pointwise: the members folded into the batch
                    k, batch = x.shape[:2]
                    x = _FORWARD[type(op)](x.reshape(k * batch, *x.shape[2:])).reshape(x.shape)
                if keep and learned:
                    tape.saved.append(x)
                fresh = not keep  # the tape holds the output: the next one must not overwrite it
        return x

    def predict_by_member(self, x: Tensor, shared: bool, rows: int = 1024) -> Tensor:
        """The members' outputs ``(K, B, ...)``, as :meth:`forward` computes them, one
        member at a time on blocks of ``rows`` examples (for large members on the CPU).

        Each layer is then one matrix product of a member's block (``addmm``), whose
        activations (1 MB for 256 units) stay in the cache for the activation and the next
        layer; :meth:`forward` over a 4,096-example validation batch writes and re-reads
        K times that (67 MB on MNIST's MLP at K = 16). A member's outputs are calls of the
        same shapes whatever the population, so they do not depend on its neighbours; they
        equal :meth:`forward`'s up to rounding.
        """
        batch = x.shape[0 if shared else 1]
        members = next(op.weight.shape[0] for op in self.ops if isinstance(op, _Linear))
        out: Tensor | None = None
        for start in range(0, batch, rows):
            for k in range(members):
                y = self._member_forward(x[start:start + rows] if shared
                                         else x[k, start:start + rows], k)
                if out is None:
                    out = y.new_empty((members, batch, *y.shape[1:]))
                out[k, start:start + rows] = y
        assert out is not None, "an empty batch"
        return out

    def _member_forward(self, x: Tensor, k: int) -> Tensor:
        """Member ``k``'s outputs on ``x`` ``(B, ...)``."""
        for op in self.ops:
            if isinstance(op, _Linear):
                w = op.weight[k]
                x2 = x.reshape(-1, x.shape[-1])
                y = product(x2, w.t(), None if op.bias_col is None else op.bias_col[k, 0])
                x = y.reshape(*x.shape[:-1], w.shape[0])
            elif isinstance(op, nn.Flatten):
                x = x.flatten(op.start_dim)
            else:
                x = op(x)
        return x

    @staticmethod
    def cross_entropy(logits: Tensor, index: Tensor, tape: Tape) -> Tensor:
        """Per-sample losses ``(K, B)`` as :func:`lrlab.metrics.cross_entropy` computes
        them, from int64 targets ``(B,)`` shared by every member or ``(K, B)``."""
        tape.narrow = tape.class_major is not None or (logits.device.type == "cpu"
                                                       and logits.shape[-1] <= NARROW_OUT)
        # narrow: the log-softmax along a transposed copy, (K, C, B), read in that layout
        # (a class-major last layer made it, padded: its -inf rows change no bit)
        axis = -2 if tape.narrow else -1  # the class axis of tape.log_probs
        z = (logits if not tape.narrow else tape.class_major if tape.class_major is not None
             else logits.transpose(-1, -2).contiguous())
        tape.log_probs = torch.log_softmax(z, axis)
        k, batch = logits.shape[:2]
        tape.index = (index.expand(k, 1, batch) if index.dim() == 1 and axis == -2
                      else index.expand(k, batch).unsqueeze(axis))
        return -tape.log_probs.gather(axis, tape.index).squeeze(axis)

    def backward(self, tape: Tape, alive: Tensor | None, batch: int) -> list[Tensor]:
        """The gradient of ``sum_k mean_j loss_kj`` (``alive`` members only) for every
        parameter, in the population's parameter order, as ``autograd.grad`` returns it."""
        grads: list[Tensor | None] = [None] * self.count
        for op, g3, x3, padded in self._deltas(tape, alive, batch):
            # as _batched._BatchedLinear or _ClassMajorLinear (or autograd's
            # BaddbmmBackward, the same calls)
            grads[op.weight_at] = weight_grad(x3, g3, op.own_layout, padded)
            if op.bias_at is not None:  # (autograd's sum keeps the axis: the same bits)
                grads[op.bias_at] = g3.sum(1)
        return grads  # type: ignore[return-value]

    def backward_by_member(self, tape: Tape, alive: Tensor | None, batch: int
                           ) -> Callable[[int, Sequence[Tensor]], None]:
        """The backward pass up to the weight gradients, which come later, one member at a
        time: ``fill(k, out)`` writes member ``k``'s gradient of every parameter into
        ``out`` (one tensor per parameter, shaped like one member's: views of a row).

        The chain through the layers runs here for all members at once; each weight's
        gradient is then ``dy_k^T x_k``, one matrix product per member, in the weight's
        own layout. A caller can so take each member's gradient while it is in the cache
        (the population's in-place step: member ``k``'s gradient, its norm and its update
        one after another, about 800 KB on MNIST's MLP, where the whole ``(K, P)`` gradient
        is 13 MB at K = 16). It is also quicker on narrow layers (256 -> 10 on MNIST at
        K = 16: 0.25 ms, where ``x^T dy`` batched as autograd orders it takes 2.4 ms), and
        since a member's weight products are calls of the same shapes whatever the
        population, their rounding cannot depend on its neighbours (MKL's batched kernels
        round small products by their position in the batch); the chain back through the
        layers stays batched over K, and tests/population finds the whole step independent
        of the population's size. The values equal :meth:`backward`'s up to rounding.
        """
        layers = [(op, g3, x3, None if op.bias_at is None else g3.sum(1))
                  for op, g3, x3, _ in self._deltas(tape, alive, batch)]

        def fill(k: int, out: Sequence[Tensor]) -> None:
            for op, g3, x3, bias in layers:
                torch.mm(g3[k].t(), x3[k], out=out[op.weight_at])
                if bias is not None:
                    out[op.bias_at].copy_(bias[k])
        return fill

    def _deltas(self, tape: Tape, alive: Tensor | None, batch: int
                ) -> Iterator[tuple[_Linear, Tensor, Tensor, Tensor | None]]:
        """Each linear layer, last first, with the loss's gradient w.r.t. its outputs
        ``(K, B', out)`` and its inputs ``(K, B', in)`` (the batch's other axes folded
        into ``B'``): what its weight's and bias's gradients are made of; for a
        class-major last layer also that gradient as its padded ``(K, 4, B)`` rows."""
        lp = tape.log_probs
        axis = -2 if tape.narrow else -1  # its class axis
        # SumBackward, WhereBackward, MeanBackward, NegBackward, SqueezeBackward: the same
        # -1/B (0 for a frozen member) every step while everyone is alive
        g = self._seed(lp, batch, axis, alive)
        g = lp.new_zeros(lp.shape).scatter_add_(axis, tape.index, g)  # GatherBackward
        # LogSoftmaxBackward (its kernel reads a contiguous gradient either way)
        g = torch._log_softmax_backward_data(g, lp, axis, lp.dtype)
        padded = g if tape.class_major is not None else None
        if padded is not None:  # the padded rows' view, as the logits (K, B, C)
            g = g[:, :self.ops[-1].weight.shape[1]].transpose(-1, -2)
        elif tape.narrow:  # (Clone), TransposeBackward: as the logits, (K, B, C)
            g = g.transpose(-1, -2)
        saved = tape.saved
        at = len(saved)
        for op in reversed(self.ops):
            if isinstance(op, _Linear):
                at -= 1
                x3, shape, needs_input = saved[at]
                g3 = g if shape is None else g.reshape(x3.shape[0], x3.shape[1], g.shape[-1])
                yield op, g3, x3, padded
                padded = None
                if not needs_input:
                    return  # the layers before this one have no parameters
                g = g3.bmm(op.weight)
                if shape is not None:
                    g = g.reshape(shape)
            elif isinstance(op, nn.Flatten):
                at -= 1
                g = g.reshape(saved[at])
            elif type(op) in _ACTIVATIONS:
                at -= 1
                out = saved[at]
                if g.is_contiguous():  # elementwise on the same memory order: the same bits
                    # (in place: g is a product's fresh output, or a view of one)
                    g = _ACTIVATIONS_[type(op)](g, out)
                else:  # as autograd: through the members-folded view
                    flat = (-1, *out.shape[2:])
                    g = _ACTIVATIONS[type(op)](g.reshape(flat), out.reshape(flat)).reshape(g.shape)

    def _seed(self, lp: Tensor, batch: int, axis: int, alive: Tensor | None) -> Tensor:
        """The gradient of the summed mean losses w.r.t. the gathered log-probabilities,
        ``(K, B)`` with a class axis of 1 at ``axis``, computed as autograd's chain
        computes it."""
        key = (batch, axis)  # (a program's members, dtype and device are fixed)
        if alive is None and key in self._seeds:
            return self._seeds[key]
        k = lp.shape[0]
        seed = lp.new_ones(()).expand(k)
        if alive is not None:
            seed = torch.where(alive, seed, 0)
        g = (seed.unsqueeze(1).expand(k, batch) / batch).neg().unsqueeze(axis)
        if alive is None:
            self._seeds[key] = g
        return g

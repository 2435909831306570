"""A forward pass for K stacked members of an ``nn.Sequential`` built from standard layers.

This is the fast path of the population: a ``Linear`` becomes one batched matmul over the
member axis, a ``Conv2d`` one grouped convolution, and stateless layers run on the members
folded into the batch. It computes exactly what ``vmap(functional_call(...))`` computes, with
less dispatch overhead per step (see ``docs/benchmarks.md``). Models it cannot express go
through ``vmap`` instead; :func:`supports` says which.

The input ``x`` is either shared by every member, shape ``(B, ...)``, or per member,
``(K, B, ...)``. The output always has the member axis.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lrlab.metrics import NARROW_CLASSES

__all__ = ["CLASS_MAJOR_ROWS", "NARROW_OUT", "Plan", "batched_forward", "class_major",
           "class_major_ok", "class_major_pads", "last_layer", "own_layout", "plan", "product",
           "supports", "weight_grad"]

# Layers that act on each sample alone and have no parameters: they run on (K*B, ...).
_POINTWISE = (
    nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.Softplus,
    nn.Identity, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.MaxPool1d, nn.AvgPool1d,
)


def _leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers of a (possibly nested) Sequential in call order, with their name prefixes."""
    out: list[tuple[str, nn.Module]] = []
    for name, child in model.named_children():
        if type(child) is nn.Sequential:  # a subclass may have its own forward
            out += [(f"{name}.{n}", m) for n, m in _leaves(child)]
        else:
            out.append((name, child))
    return out


def _supported_layer(m: nn.Module) -> bool:
    if type(m) is nn.Linear:
        return True
    if type(m) is nn.Conv2d:
        return m.padding_mode == "zeros" and isinstance(m.padding, tuple)
    if isinstance(m, nn.Dropout):
        return m.p == 0.0
    if isinstance(m, (nn.Softmax, nn.LogSoftmax)):
        return m.dim == -1
    if isinstance(m, nn.Flatten):
        return m.end_dim == -1 and m.start_dim >= 1
    return isinstance(m, _POINTWISE) and not list(m.parameters())


Plan = tuple[tuple[str, nn.Module], ...]

#: A Linear weight of at least this many elements per member gets its gradient in its own
#: layout (:class:`_BatchedLinear`): 64 KiB of float32, beyond the L1 cache, where copying
#: autograd's transposed gradient starts to cost (K = 16: 0.5 ns an element saved at
#: 64 x 64, 1.1 at 128 x 128, 2.8 at 256 x 784). Below it the layer keeps autograd's
#: calls, so small networks' records keep every bit they had.
OWN_LAYOUT_MIN = 1 << 14


def own_layout(w: Tensor) -> bool:
    """Whether the stacked Linear weight ``w`` ``(K, out, in)`` gets its gradient in its
    own layout (:class:`_BatchedLinear`, :data:`OWN_LAYOUT_MIN`); the hand-written backward
    pass (:mod:`lrlab.population._backward`) makes the same choice."""
    return w[0].numel() >= OWN_LAYOUT_MIN


#: Linear layers with at most this many outputs may receive their output gradient as a
#: transposed view (lrlab's cross-entropy works along a transposed copy of class axes up to
#: :data:`lrlab.metrics.NARROW_CLASSES` wide on the CPU; :func:`weight_grad` then lays the
#: input out to suit it).
NARROW_OUT = NARROW_CLASSES

#: :func:`weight_grad` sums outer products for layers of at most this many outputs fed a
#: transposed gradient, and at most :data:`OUTER_MAX` products ``B * out * in`` a member
#: (its temporary): measured faster than the matmul for 3 outputs up to 128 x 3 x 128
#: (K = 1 to 128: 350 against 880 us at K = 32 there), slower for 10.
OUTER_OUT = 4
OUTER_MAX = 1 << 16


#: The last Linear layer of at most this many outputs runs class-major on the CPU
#: (:func:`class_major`): its weight padded to this many rows, its outputs ``(K, rows, B)``.
CLASS_MAJOR_ROWS = 4


def class_major_ok(x: Tensor, w: Tensor, b: Tensor | None) -> bool:
    """Whether the last Linear layer ``w`` ``(K, out, in)`` on inputs ``x`` runs class-major
    (:func:`class_major`): at most :data:`CLASS_MAJOR_ROWS` outputs, a bias, the CPU, inputs
    ``(K, B, in)`` of at least two rows (a one-row product, ``B = 1``, is one MKL rounds by
    position), not compiling. Both backward paths decide by this one test."""
    return (w.shape[1] <= CLASS_MAJOR_ROWS and b is not None and w.device.type == "cpu"
            and x.dim() == 3 and x.shape[1] >= 2 and not torch.compiler.is_compiling())


def class_major_pads(w: Tensor) -> tuple[Tensor, Tensor] | None:
    """The rows :func:`class_major` appends to the weight ``w`` ``(K, out, in)`` (zeros) and
    to its bias column (``-inf``), or ``None`` when ``out`` needs none (or is too wide to
    run class-major)."""
    k, out, n = w.shape
    rows = CLASS_MAJOR_ROWS - out
    if rows <= 0:
        return None
    return w.new_zeros(k, rows, n), w.new_full((k, rows, 1), -math.inf)


def product(a: Tensor, b: Tensor, bias: Tensor | None = None) -> Tensor:
    """``bias + a @ b`` for one matrix (``a`` 2-D) or K of them (3-D), as ``mm``/``addmm``
    or ``bmm``/``baddbmm`` compute it, ``bias`` broadcast over the rows (``None``: none).

    A product of one inner term (``a`` ``(..., n, 1)``: a layer of one input) is an outer
    product, computed elementwise, ``a * b + bias``: MKL's batched kernel rounds it by the
    number of matrices on some CPUs (AVX-512 with AMX: member 8 of 8 differs in the last bit
    from the same member alone), and elementwise each value is one product and one sum,
    rounded alike wherever it sits.

    Example:
        >>> product(torch.ones(2, 3, 1), torch.full((2, 1, 4), 2.0), torch.ones(2, 1, 4))[0, 0]
        tensor([3., 3., 3., 3.])
    """
    if a.shape[-1] == 1:
        y = a * b
        return y if bias is None else y + bias
    if a.dim() == 2:
        return torch.mm(a, b) if bias is None else torch.addmm(bias, a, b)
    return torch.bmm(a, b) if bias is None else torch.baddbmm(bias, a, b)


def class_major(x: Tensor, w: Tensor, bias: Tensor, pads: tuple[Tensor, Tensor] | None
                ) -> Tensor:
    r"""The logits of a narrow last layer class-major: ``(K, 4, B)``, rows ``out..3`` -inf.

    .. math:: z^\top = W_4 x^\top + b_4

    with :math:`W` padded by zero rows and :math:`b` by ``-inf`` to
    :data:`CLASS_MAJOR_ROWS` (``pads``: :func:`class_major_pads`). Class-major logits
    are the layout the narrow cross-entropy, softmax and metrics reduce in (their class axis
    along a transposed copy otherwise), and a product of 4 rows is one MKL runs fast and
    rounds alike at every position in the batch: blobs' 50 -> 3 layer at K = 32 takes 26
    against 53 us, its weight gradient :math:`g_4 x` 30 against 67 us (the outer products
    of :func:`weight_grad`). A padded row's log-softmax is ``-inf``, its probability and
    gradient 0; the other rows' values equal the unpadded ones bit for bit (a ``-inf``
    adds 0 to the softmax's sum and leaves its maximum). A member whose activations
    overflow gets NaN in the padded row (``0 * inf``), so a NaN loss where the unpadded
    product might give inf: either freezes the member.

    Args:
        x: inputs ``(K, B, in)``; w: the weight ``(K, out, in)``; bias: its column
        ``(K, out, 1)``.

    Returns:
        ``(K, 4, B)``; the outputs are ``[:, :out].transpose(1, 2)``.
    """
    if pads is not None:
        w, bias = torch.cat([w, pads[0]], 1), torch.cat([bias, pads[1]], 1)
    return product(w, x.transpose(1, 2), bias)


def weight_grad(x: Tensor, dy: Tensor, own: bool, padded: Tensor | None = None) -> Tensor:
    """The weight gradient ``(K, out, in)`` of ``y = x w^T + b`` for K members, from the
    inputs ``x (K, B, in)`` and the output gradient ``dy (K, B, out)``:
    ``dL/dw_k = dy_k^T x_k``.

    Six orders of the same sums, by layout and size (each member's bits independent of
    its position in the population, see ``docs/benchmarks.md``):

    * ``own`` (:func:`own_layout`): ``dy^T x``, contiguous in the weight's layout;
    * one input (``in = 1``): ``sum_b dy_b x_b``, elementwise (as a matmul it is a
      product of one row, which MKL rounds by position);
    * ``padded`` given (a class-major layer, :func:`class_major`: ``dy^T`` padded with
      zero rows to ``(K, 4, B)``): ``padded x``, rows ``:out`` (MKL rounds 4-row products
      alike at every position);
    * ``dy`` a transposed view (a narrow loss gradient, ``(K, out, B)`` in memory) of at
      most :data:`OUTER_OUT` outputs and :data:`OUTER_MAX` products a member: the outer
      products summed over the batch, ``sum_b dy_b x_b^T``, which for so few outputs
      beats the unpadded matmul kernels (blobs' 50 -> 3 layer at K = 32: 108 -> 69 us;
      MKL batches matrices of few rows in pairs and rounds by position, so ``dy^T x`` is no
      option there);
    * ``dy`` otherwise transposed: ``(x^T dy)^T`` with ``x^T`` made contiguous first.
      MKL's batched kernel for a contiguous left and a transposed right factor is 2-3x
      faster here than for two transposed ones (blobs' 50 -> 3 layer at K = 32: 189 ->
      108 us; mnist's 256 -> 10: 4.7 -> 2.0 ms);
    * otherwise autograd's own call, ``(x^T dy)^T`` on the views.

    The rounding of all but the last may differ in the last bit from autograd's.

    Example:
        >>> x, dy = torch.ones(2, 4, 3), torch.ones(2, 4, 5)
        >>> weight_grad(x, dy, own=False).shape
        torch.Size([2, 5, 3])
    """
    if own:
        return dy.transpose(1, 2).bmm(x)
    if x.shape[-1] == 1:  # one input: a product of one row, which MKL rounds by position
        return (dy * x).sum(1).unsqueeze(-1)
    if padded is not None:
        return padded.bmm(x)[:, :dy.shape[-1]]
    xt = x.transpose(1, 2)
    if not dy.is_contiguous():
        batch, out = dy.shape[1:]
        if out <= OUTER_OUT and batch * out * x.shape[-1] <= OUTER_MAX:
            return (dy.unsqueeze(-1) * x.unsqueeze(-2)).sum(1)
        xt = xt.contiguous()
    return xt.bmm(dy).transpose(1, 2)


def plan(model: nn.Module) -> Plan | None:
    """The layers :func:`batched_forward` will run, in order, or ``None`` if ``model`` is not
    a Sequential of known layers (then use vmap)."""
    if type(model) is not nn.Sequential or list(model.buffers()):
        return None
    layers = tuple(_leaves(model))
    return layers if all(_supported_layer(m) for _, m in layers) else None


def last_layer(layers: Plan) -> int:
    """The index of the layer whose output is the model's: the last one but Identity and
    Dropout (which :func:`batched_forward` and the hand-written pass skip); -1 if none."""
    for at in range(len(layers) - 1, -1, -1):
        if not isinstance(layers[at][1], (nn.Identity, nn.Dropout)):
            return at
    return -1


def supports(model: nn.Module) -> bool:
    """Whether :func:`batched_forward` can run ``model``."""
    return plan(model) is not None


def _linear(m: nn.Linear, p: Mapping[str, Tensor], name: str, x: Tensor, shared: bool,
            last: bool = False) -> Tensor:
    w = p[f"{name}.weight"]  # (K, out, in)
    b = p.get(f"{name}.bias")
    if shared:
        x = x.expand(w.shape[0], *x.shape)
    if last and class_major_ok(x, w, b):  # as the hand-written pass (_backward.Program)
        return _ClassMajorLinear.apply(x, w, b)
    lead = x.shape[1:-1]
    x = x.reshape(x.shape[0], -1, x.shape[-1])
    # compiled: inductor picks the layouts itself (and dynamo trips over the Function);
    # else the Function for every layer whose weight gradient weight_grad computes in
    # other calls than autograd would (the hand-written backward pass makes the same ones)
    by_hand = ((own_layout(w) or w.shape[1] <= NARROW_OUT or w.shape[2] == 1)
               and not torch.compiler.is_compiling())
    y = _BatchedLinear.apply(x, w, b) if by_hand else _affine(x, w, b)
    return y.reshape(w.shape[0], *lead, w.shape[1])


def _affine(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    return product(x, w.transpose(1, 2), None if b is None else b.unsqueeze(1))


class _BatchedLinear(torch.autograd.Function):
    """``x @ w^T + b`` for K members (``x (K, B, in)``, ``w (K, out, in)``, ``b (K, out)``),
    whose weight gradient is :func:`weight_grad`'s.

    Autograd would compute the gradient of ``w^T`` as ``x^T dy`` and hand back its
    transpose, so copying it into the population's flat gradient is a strided transpose
    of every weight each step (about 12% of an mnist-mlp step at K = 16). For a large
    weight it is ``dy^T x`` here, contiguous ``(K, out, in)``: the copy runs in memory
    order; for a narrow layer fed a transposed gradient, ``x^T`` is laid out for the
    faster kernel. The values are the same sums, but the matmul kernels may round them
    differently in the last bit (see ``docs/benchmarks.md``). The forward pass and the
    input and bias gradients are the calls autograd makes.
    """

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
        ctx.save_for_backward(x, w)
        return _affine(x, w, b)

    @staticmethod
    def backward(ctx, dy: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        dx = torch.bmm(dy, w) if need_x else None
        dw = weight_grad(x, dy, own_layout(w)) if need_w else None
        db = dy.sum(1) if need_b else None  # (False when there is no bias)
        return dx, dw, db


class _ClassMajorLinear(torch.autograd.Function):
    """The last Linear layer class-major (:func:`class_major`): ``x @ w^T + b`` for K
    members, returned as a ``(K, B, out)`` view of the padded ``(K, 4, B)`` product, and
    the gradients the hand-written pass computes for it: the weight's from the loss
    gradient padded to 4 rows (:func:`weight_grad`), the input's and the bias's as
    :class:`_BatchedLinear`'s."""

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor, b: Tensor) -> Tensor:
        ctx.save_for_backward(x, w)
        z = class_major(x, w, b.unsqueeze(-1), class_major_pads(w))
        return z[:, :w.shape[1]].transpose(1, 2)

    @staticmethod
    def backward(ctx, dy: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        dx = torch.bmm(dy, w) if need_x else None
        dw = None
        if need_w:
            rows = dy.transpose(1, 2)  # (K, out, B), padded with zero rows
            k, out, batch = rows.shape
            padded = torch.cat([rows, rows.new_zeros(k, CLASS_MAJOR_ROWS - out, batch)], 1)
            dw = weight_grad(x, dy, False, padded)
        db = dy.sum(1) if need_b else None
        return dx, dw, db


def _conv2d(m: nn.Conv2d, p: Mapping[str, Tensor], name: str, x: Tensor, shared: bool) -> Tensor:
    w = p[f"{name}.weight"]  # (K, out, in/groups, kh, kw)
    b = p.get(f"{name}.bias")
    k = w.shape[0]
    if shared:
        x = x.expand(k, *x.shape)
    batch = x.shape[1]
    x = x.transpose(0, 1).reshape(batch, k * x.shape[2], *x.shape[3:])
    y = F.conv2d(
        x, w.reshape(k * w.shape[1], *w.shape[2:]), None if b is None else b.reshape(-1),
        m.stride, m.padding, m.dilation, m.groups * k,
    )
    return y.reshape(batch, k, w.shape[1], *y.shape[2:]).transpose(0, 1)


def _pointwise(m: nn.Module, x: Tensor, shared: bool) -> Tensor:
    if shared:
        return m(x)
    k, batch = x.shape[:2]
    y = m(x.reshape(k * batch, *x.shape[2:]))
    return y.reshape(k, batch, *y.shape[1:])


def _flatten(m: nn.Flatten, x: Tensor, shared: bool) -> Tensor:
    return x.flatten(m.start_dim + (0 if shared else 1))


_PARAMETRIC: dict[type, Callable[..., Tensor]] = {nn.Linear: _linear, nn.Conv2d: _conv2d}


def batched_forward(layers: Plan, params: Mapping[str, Tensor], x: Tensor,
                    *, shared: bool) -> Tensor:
    """Run the K members stacked in ``params`` on ``x``.

    Args:
        layers: the model's :func:`plan` (its own weights are unused).
        params: parameter name -> stacked tensor ``(K, ...)``.
        x: the batch, ``(B, ...)`` when ``shared`` else ``(K, B, ...)``.
        shared: whether every member sees the same batch.

    Returns:
        The outputs, ``(K, B, ...)``.
    """
    last = last_layer(layers)
    for at, (name, m) in enumerate(layers):
        fn = _PARAMETRIC.get(type(m))
        if fn is not None:
            x = (_linear(m, params, name, x, shared, last=at == last) if fn is _linear
                 else fn(m, params, name, x, shared))
            shared = False
        elif isinstance(m, nn.Flatten):
            x = _flatten(m, x, shared)
        elif isinstance(m, nn.Dropout):
            continue
        else:
            x = _pointwise(m, x, shared)
    if shared:  # a model without parameters: give every member its copy
        k = next(iter(params.values())).shape[0]
        x = x.expand(k, *x.shape)
    return x

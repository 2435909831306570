"""The JAX reference for ``sweep_throughput.py``: K rates of one MLP, as a skilled JAX user
would write it.

Parameters are stacked over the K members and the step is ``vmap``-ped over them (the
rates live in each member's ``optax.inject_hyperparams`` state, so vmap carries them); one
epoch (every training step, then the validation loss, accuracy and Keras AUC) is a single
``jit``-compiled function whose steps run in a ``lax.scan``. Epochs are a Python loop that
reads each epoch's metrics back to the host, as lrlab records them. Same data, same
initial weights (the task's ``init_model``), same example order (lrlab's per-epoch
permutation) and same rates as the lrlab population; it does not freeze diverged members.

Compilation happens on the first call of the epoch function, timed apart by
:meth:`JaxSweep.compile`.
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                      "intra_op_parallelism_threads=1")

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

from lrlab.tasks import Task

__all__ = ["JaxSweep", "orders"]

THRESHOLDS = 200  # keras.metrics.AUC()
EPSILON = 1e-7


def orders(n: int, batch_size: int, epochs: int, seed: int) -> np.ndarray:
    """lrlab's example order (one seed): ``(epochs, steps, batch)`` indices; the last
    partial batch is dropped when ``n`` is not a multiple (the tasks here have none)."""
    steps = n // batch_size
    out = np.empty((epochs, steps, batch_size), dtype=np.int32)
    for e in range(1, epochs + 1):
        g = torch.Generator().manual_seed(seed * 1_000_003 + e)
        out[e - 1] = torch.randperm(n, generator=g)[:steps * batch_size].reshape(
            steps, batch_size).numpy()
    return out


def _stacked(task: Task, k: int, seed: int) -> list[tuple[jnp.ndarray, jnp.ndarray]]:
    """The task's initial weights for ``seed``, as ``(K, out, in)`` and ``(K, out)`` arrays."""
    model = task.init_model(seed)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    return [(jnp.asarray(np.repeat(m.weight.detach().numpy()[None], k, 0)),
             jnp.asarray(np.repeat(m.bias.detach().numpy()[None], k, 0))) for m in linears]


def _forward(params, x):
    for i, (w, b) in enumerate(params):
        x = x @ w.T + b
        if i < len(params) - 1:
            x = jax.nn.relu(x)
    return x


def _loss(params, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(_forward(params, x), y).mean()


def _keras_auc(probs, onehot):
    """``keras.metrics.AUC()`` (ROC, interpolation, flattened labels) of one member."""
    p, label = probs.reshape(-1), onehot.reshape(-1)
    bucket = jnp.maximum(jnp.ceil(jnp.clip(p, 0, 1) * (THRESHOLDS - 1)) - 1, 0).astype(int)
    pos = jnp.zeros(THRESHOLDS).at[bucket].add(label)
    neg = jnp.zeros(THRESHOLDS).at[bucket].add(1 - label)
    tp = jnp.cumsum(pos[::-1])[::-1]  # positive at every threshold up to its bucket
    fp = jnp.cumsum(neg[::-1])[::-1]
    tpr = jnp.where(tp[0] > 0, tp / tp[0], 0.0)
    fpr = jnp.where(fp[0] > 0, fp / fp[0], 0.0)
    return jnp.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2)


class JaxSweep:
    """K members of ``task``'s MLP trained with SGD at ``lrs`` in one vmapped, jitted epoch."""

    def __init__(self, task: Task, lrs: list[float], seed: int = 0) -> None:
        self.k, self.task, self.seed = len(lrs), task, seed
        self.x, self.y = jnp.asarray(task.train.x.numpy()), jnp.asarray(task.train.y.numpy())
        self.vx, self.vy = jnp.asarray(task.val.x.numpy()), jnp.asarray(task.val.y.numpy())
        self.onehot = jax.nn.one_hot(self.vy, task.num_classes)
        self.opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.0)
        self.lrs = jnp.asarray(lrs, dtype=jnp.float32)
        self.epoch_fn = jax.jit(self._epoch)

    def _init(self):
        params = _stacked(self.task, self.k, self.seed)
        state = jax.vmap(self.opt.init)(params)
        state.hyperparams["learning_rate"] = self.lrs
        return params, state

    def _epoch(self, params, state, order):
        x, y, opt = self.x, self.y, self.opt

        def step(carry, idx):
            p, s = carry
            loss, grads = jax.vmap(jax.value_and_grad(_loss), (0, None, None))(p, x[idx], y[idx])
            updates, s = jax.vmap(opt.update)(grads, s, p)
            return (optax.apply_updates(p, updates), s), loss

        (params, state), losses = jax.lax.scan(step, (params, state), order)
        logits = jax.vmap(_forward, (0, None))(params, self.vx)  # (K, N, C)
        val_loss = jax.vmap(lambda z: optax.softmax_cross_entropy_with_integer_labels(
            z, self.vy).mean())(logits)
        accuracy = (logits.argmax(-1) == self.vy).mean(-1)
        auc = jax.vmap(_keras_auc, (0, None))(jax.nn.softmax(logits), self.onehot)
        return params, state, {"train_loss": losses.mean(0), "val_loss": val_loss,
                               "val_accuracy": accuracy, "val_auc": auc}

    def compile(self, batch_size: int) -> None:
        """Trace and compile the epoch (what the first call would pay)."""
        params, state = self._init()
        order = orders(len(self.task.train), batch_size, 1, self.seed)[0]
        self.epoch_fn = self.epoch_fn.lower(params, state, order).compile()

    def run(self, epochs: int, batch_size: int) -> list[dict[str, np.ndarray]]:
        """Train ``epochs`` epochs; each epoch's metrics, read back to the host."""
        params, state = self._init()
        history = []
        for order in orders(len(self.task.train), batch_size, epochs, self.seed):
            params, state, metrics = self.epoch_fn(params, state, order)
            history.append({name: np.asarray(v) for name, v in metrics.items()})
        return history

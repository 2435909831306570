"""A population of K members against lone torch.optim runs, across its three forward paths.

Checks: member k equals a lone ``torch.optim`` run at its rate; the batched, vmap and loop
paths agree; ``path="auto"`` picks the right path and falls back with one warning; a
diverging member changes nothing for the others (bitwise); the user's model is never
modified; bad input is a one-line ``LrlabError``.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lrlab import LrlabError
from lrlab.metrics import cross_entropy
from lrlab.population import Population
from lrlab.population._population import IN_PLACE_MIN

F64 = torch.float64
K = 3
BATCH = 16


@pytest.fixture(autouse=True)
def seeded() -> None:
    """Every test starts from the same global seed (model initialisation)."""
    torch.manual_seed(0)


# -- models and data ----------------------------------------------------------------------


def _mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))


def _cnn() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 3))


class ResidualMLP(nn.Module):
    """A custom module (not a Sequential): the batched path cannot run it, vmap can."""

    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(4, 16)
        self.hidden = nn.Linear(16, 16)
        self.out = nn.Linear(16, 3)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.tanh(self.inp(x))
        return self.out(h + torch.tanh(self.hidden(h)))


class SignGatedMLP(ResidualMLP):
    """Data-dependent control flow on an activation: vmap refuses it, a loop runs it."""

    def forward(self, x: Tensor) -> Tensor:
        h = torch.tanh(self.inp(x))
        if h.sum() > 0:
            h = h + torch.tanh(self.hidden(h))
        return self.out(h)


class ResidualSequential(nn.Sequential):
    """A Sequential subclass whose own forward adds a skip connection around the layers."""

    def forward(self, x: Tensor) -> Tensor:
        return x + super().forward(x)


class NormThenGate(nn.Module):
    """BatchNorm (in-place running stats) before data-dependent control flow: vmap fails
    only after the running stats were already updated."""

    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(4, 16)
        self.norm = nn.BatchNorm1d(16)
        self.out = nn.Linear(16, 3)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.tanh(self.norm(self.inp(x)))
        if h.sum() > 0:
            h = 2.0 * h
        return self.out(h)


def _batch(shape: tuple[int, ...], *, members: int | None = None, seed: int = 1,
           dtype: torch.dtype = F64) -> tuple[Tensor, Tensor]:
    """Fixed inputs ``(B, *shape)`` (or ``(K, B, *shape)``) and 3-class targets."""
    g = torch.Generator().manual_seed(seed)
    lead = (BATCH,) if members is None else (members, BATCH)
    return (torch.randn(*lead, *shape, generator=g, dtype=dtype),
            torch.randint(0, 3, lead, generator=g))


def _train(pop: Population, x: Tensor, y: Tensor, steps: int, *, shared: bool = True) -> Tensor:
    """Run ``steps`` steps; return the per-member loss of the first and of the last step."""
    first = last = None
    for _ in range(steps):
        out = pop.step(x, y, cross_entropy, shared=shared)
        first = out.loss if first is None else first
        last = out.loss
    return torch.stack([first, last])


def _max_param_diff(a: Population, b: Population) -> float:
    return max((a.params[n] - b.params[n]).abs().max().item() for n in a.params)


# -- member k equals a lone torch.optim run -----------------------------------------------

TORCH_TWIN = {
    "sgd": (torch.optim.SGD, {}, [0.5, 0.1, 0.02]),
    "momentum": (torch.optim.SGD, {"momentum": 0.9}, [0.1, 0.03, 0.01]),
    "adam": (torch.optim.Adam, {}, [0.01, 0.003, 0.001]),
}


def _lone_run(model: nn.Module, optimizer: type, kwargs: dict, x: Tensor, y: Tensor,
              steps: int) -> nn.Module:
    model = copy.deepcopy(model)
    opt = optimizer(model.parameters(), **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model


@pytest.mark.parametrize("rule", sorted(TORCH_TWIN))
def test_member_equals_lone_torch_optim_run(rule: str):
    """After 100 float64 steps, member k's weights equal torch.optim's at lr_k to 1e-10."""
    optimizer, kwargs, lrs = TORCH_TWIN[rule]
    model = _mlp().to(F64)
    x, y = _batch((4,))
    pop = Population(model, rule, {"lr": lrs})
    losses = _train(pop, x, y, 100)
    assert bool((losses[1] < losses[0]).all())
    for k, lr in enumerate(lrs):
        lone = _lone_run(model, optimizer, {"lr": lr, **kwargs}, x, y, 100)
        member = dict(pop.member_module(k).named_parameters())
        for name, p in lone.named_parameters():
            diff = (member[name] - p).abs().max().item()
            assert diff <= 1e-10, f"{rule} member {k} (lr={lr}) {name}: off by {diff:.3g}"


# -- the three forward paths agree --------------------------------------------------------

MODELS = {"mlp": (_mlp, (4,)), "cnn": (_cnn, (1, 8, 8))}


@pytest.mark.parametrize("distinct", [False, True], ids=["one-model", "k-models"])
@pytest.mark.parametrize("shared", [True, False], ids=["shared-x", "per-member-x"])
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_batched_vmap_and_loop_paths_agree(kind: str, shared: bool, distinct: bool):
    """batched, vmap and loop give the same parameters after 20 float64 steps (1e-12)."""
    make, shape = MODELS[kind]
    models = [make().to(F64) for _ in range(K)] if distinct else make().to(F64)
    x, y = _batch(shape, members=None if shared else K)
    pops = {}
    for path in ("batched", "vmap", "loop"):
        pops[path] = Population(models, "momentum", {"lr": [0.1, 0.05, 0.01]}, path=path)
        _train(pops[path], x, y, 20, shared=shared)
        assert pops[path].path == path
    for path in ("batched", "vmap"):
        diff = _max_param_diff(pops[path], pops["loop"])
        assert diff <= 1e-12, f"{kind}: {path} differs from loop by {diff:.3g}"
    if distinct:  # the members really started apart and stayed apart
        w = pops["loop"].params["0.weight"]
        assert not torch.equal(w[0], w[1])


@pytest.mark.parametrize("shared", [True, False], ids=["shared-x", "per-member-x"])
def test_batched_weight_gradients_come_in_the_weights_layout(shared: bool):
    """A large Linear's weight gradient on the batched path is contiguous ``(K, out, in)``
    (no transposed copy into the flat gradient); every gradient equals the vmap path's
    (float64, 1e-12)."""
    model = nn.Sequential(nn.Linear(128, 128), nn.Tanh(), nn.Linear(128, 3))
    x, _ = _batch((128,), members=None if shared else K)
    grads = {}
    for path in ("batched", "vmap"):
        pop = Population(model, "sgd", {"lr": [0.1] * K}, dtype=F64, path=path)
        out = pop.forward(x, shared=shared)
        grads[path] = dict(zip(pop.params, torch.autograd.grad((out * out).sum(),
                                                                list(pop.params.values()))))
    for name, g in grads["batched"].items():
        assert (g - grads["vmap"][name]).abs().max().item() <= 1e-12, name
    assert grads["batched"]["0.weight"].is_contiguous()


# -- automatic path choice ----------------------------------------------------------------


def test_auto_picks_batched_for_a_plain_sequential():
    """A Sequential of standard layers runs on the batched fast path."""
    assert Population(_mlp(), "sgd", {"lr": [0.1, 0.01]}).path == "batched"
    assert Population(_cnn(), "sgd", {"lr": [0.1, 0.01]}).path == "batched"


def test_auto_picks_vmap_for_a_custom_module_and_trains():
    """A custom nn.Module runs under vmap, without warnings, and its loss goes down."""
    pop = Population(ResidualMLP(), "sgd", {"lr": [0.1, 0.05]})
    assert pop.path == "vmap"
    losses = _train(pop, *_batch((4,), dtype=torch.float32), 30)
    assert pop.path == "vmap"
    assert bool((losses[1] < losses[0]).all())


def test_auto_falls_back_to_loop_with_one_warning_and_trains():
    """A model vmap cannot trace switches to the loop with exactly one 'lrlab:' warning."""
    pop = Population(SignGatedMLP(), "sgd", {"lr": [0.1, 0.05]})
    x, y = _batch((4,), dtype=torch.float32)
    with pytest.warns(RuntimeWarning, match=r"^lrlab:") as record:
        losses = _train(pop, x, y, 30)
    assert len(record) == 1, [str(w.message) for w in record]
    assert "\n" not in str(record[0].message)
    assert pop.path == "loop"
    assert bool((losses[1] < losses[0]).all())


def test_sequential_subclass_with_its_own_forward_is_not_batched():
    """A Sequential subclass overriding forward is run through its forward, not the fast path."""
    model = ResidualSequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 4))
    pop = Population(model, "sgd", {"lr": [0.1, 0.01]})
    x, _ = _batch((4,), dtype=torch.float32)
    outputs = pop.forward(x)
    expected = model(x)
    for k in range(2):
        diff = (outputs[k] - expected).abs().max().item()
        assert diff <= 1e-6, f"member {k} ignores the model's forward (off by {diff:.3g})"
    assert pop.path != "batched"


def test_fallback_to_loop_leaves_no_trace_of_the_failed_vmap_attempt():
    """After the fallback, running stats equal a run that used the loop from the start."""
    model = NormThenGate().to(F64)
    x, y = _batch((4,))
    auto = Population(model, "sgd", {"lr": [0.1, 0.05]})
    loop = Population(model, "sgd", {"lr": [0.1, 0.05]}, path="loop")
    with pytest.warns(RuntimeWarning, match=r"^lrlab:"):
        _train(auto, x, y, 3)
    _train(loop, x, y, 3)
    assert auto.path == "loop"
    for name, stats in loop.buffers.items():
        diff = (auto.buffers[name] - stats).abs().max().item()
        assert diff <= 1e-12, f"{name} differs by {diff:.3g} after the fallback"
    assert _max_param_diff(auto, loop) <= 1e-12


def test_batchnorm_in_training_mode_matches_the_loop():
    """BatchNorm1d's in-place running stats: the auto path equals the loop, stats included."""
    model = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.Tanh(),
                          nn.Linear(16, 3)).to(F64)
    x, y = _batch((4,))
    auto = Population(model, "sgd", {"lr": [0.1, 0.05]})
    loop = Population(model, "sgd", {"lr": [0.1, 0.05]}, path="loop")
    auto_losses = _train(auto, x, y, 20)
    _train(loop, x, y, 20)
    assert bool((auto_losses[1] < auto_losses[0]).all())
    assert auto.path in ("vmap", "loop")
    assert _max_param_diff(auto, loop) <= 1e-12
    for name, stats in loop.buffers.items():
        assert (auto.buffers[name] - stats).abs().max().item() <= 1e-12, name
    assert not torch.equal(loop.buffers["1.running_mean"][0],
                           torch.zeros_like(loop.buffers["1.running_mean"][0]))
    predictions = auto.predict(x)  # evaluation mode: each member's own running stats
    for k in range(2):
        expected = auto.member_module(k).eval()(x)
        assert (predictions[k] - expected).abs().max().item() <= 1e-12


def _two_norms() -> nn.Sequential:
    return nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.Tanh(), nn.Linear(16, 8),
                         nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 3)).to(F64)


@pytest.mark.parametrize("path", ["vmap", "loop"])
def test_recomputed_norms_are_each_members_mean_batch_statistics(path: str):
    """Within ``recomputed_norms`` each member's BatchNorm statistics are torch's cumulative
    average (``momentum=None``) over the batches at that member's weights, and evaluation
    reads them; after it the running statistics, momenta and random state are as before."""
    x, y = _batch((4,))
    pop = Population(_two_norms(), "sgd", {"lr": [0.3, 0.03]}, path=path)
    _train(pop, x + 3, y, 5)  # inputs off centre: the running statistics lag them
    g = torch.Generator().manual_seed(7)
    batches = [torch.randn(BATCH, 4, generator=g, dtype=F64) + 3 for _ in range(3)]
    before = {n: b.clone() for n, b in pop.buffers.items()}
    state = torch.get_rng_state()
    with pop.recomputed_norms(batches, cross_entropy) as count:
        fresh = {n: b.clone() for n, b in pop.buffers.items()}
        predicted = pop.predict(x)
    assert count == 3
    for k in range(2):
        twin = pop.member_module(k)
        for m in twin.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.momentum = None
                m.reset_running_stats()
        twin.train()
        for b in batches:
            twin(b)
        for name, t in twin.named_buffers():
            if "running" in name:  # (the count of batches seen is not a statistic)
                assert (fresh[name][k] - t).abs().max().item() <= 1e-12, (k, name)
        assert (predicted[k] - twin.eval()(x)).abs().max().item() <= 1e-12
        # the first layer's by hand: the mean of the batches' means of x W^T + b
        w, bias = pop.params["0.weight"][k].detach(), pop.params["0.bias"][k].detach()
        by_hand = torch.stack([(b @ w.T + bias).mean(0) for b in batches]).mean(0)
        assert (fresh["1.running_mean"][k] - by_hand).abs().max().item() <= 1e-12
    assert not torch.allclose(fresh["1.running_mean"], before["1.running_mean"])
    for name, b in pop.buffers.items():
        assert torch.equal(b, before[name]), name
    assert torch.equal(torch.get_rng_state(), state)
    assert all(m.momentum == 0.1 for m in pop.template.modules()
               if isinstance(m, nn.BatchNorm1d))
    assert pop.template.training


class _FrozenNorm(nn.Sequential):
    """A model whose ``train()`` keeps its BatchNorm in evaluation mode (a frozen stem)."""

    def train(self, mode: bool = True) -> _FrozenNorm:
        super().train(mode)
        self[1].eval()
        return self


def test_recomputed_norms_leave_a_frozen_batchnorm_and_dropout_draws_alone():
    """A BatchNorm that ``train()`` keeps in evaluation mode has no statistics to recompute
    (nothing changes, no batch is read); dropout in the recomputing passes draws from a copy
    of the random state."""
    frozen = Population(_FrozenNorm(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.Tanh(),
                                    nn.Linear(16, 3)), "sgd", {"lr": [0.1, 0.01]})
    assert frozen.norm_layers() == []
    with frozen.recomputed_norms(iter(()), cross_entropy) as count:
        assert count == 0
    dropped = Population(nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.BatchNorm1d(16),
                                       nn.Linear(16, 3)), "sgd", {"lr": [0.1, 0.01]})
    assert dropped.norm_layers() == ["2"]
    batch = torch.randn(BATCH, 4)
    state = torch.get_rng_state()
    with dropped.recomputed_norms([batch, batch], cross_entropy) as count:
        assert count == 2
    assert torch.equal(torch.get_rng_state(), state)


# -- divergence isolation ---------------------------------------------------------------


@pytest.mark.parametrize("rule", ["sgd", "adam"])
@pytest.mark.parametrize("path", ["batched", "vmap", "loop"])
def test_exploding_member_leaves_the_others_bitwise_unchanged(path: str, rule: str):
    """Adding a member at lr 1e6 changes no bit of the other members' float32 weights."""
    model = _mlp()
    x, y = _batch((4,), dtype=torch.float32)
    calm = Population(model, rule, {"lr": [0.1, 0.05, 0.01]}, path=path)
    mixed = Population(model, rule, {"lr": [0.1, 0.05, 0.01, 1e6]}, path=path)
    _train(calm, x, y, 50)
    _train(mixed, x, y, 50)
    for name, p in calm.params.items():
        assert torch.equal(p, mixed.params[name][:3]), f"{name} differs for calm members"
    assert mixed.alive.tolist() == [True, True, True, False]
    assert int(mixed.diverged_step[3]) >= 1
    assert mixed.diverged_step[:3].tolist() == [-1, -1, -1]
    assert bool(calm.alive.all())
    frozen = {name: p[3].clone() for name, p in mixed.params.items()}
    mixed.step(x, y, cross_entropy)
    for name, p in mixed.params.items():
        assert torch.equal(p[3], frozen[name]), f"diverged member moved: {name}"
        assert bool(torch.isfinite(p[3]).all()), f"diverged member has non-finite {name}"


@pytest.mark.parametrize("rule", ["sgd", "adam", "rmsprop", "sgd_hd", "delta_bar_delta", "dog",
                                  "prodigy", "dadapt_adam", "sf_sgd", "sf_adamw"])
def test_a_large_population_adds_in_place_what_the_pure_update_adds(rule: str):
    """Members of 2^16+ parameters take the rule's in-place step, each member's gradient
    made just before its step (sgd_hd: all first, its rate needs them): the same weights
    and gradient norms as the pure update (float64, relative 1e-12: the diverged member's
    weights are huge), a diverged member frozen alike."""
    model = nn.Sequential(nn.Linear(256, 256), nn.Tanh(), nn.Linear(256, 3))
    x, y = _batch((256,))
    # lr 1e6 diverges, but not where lr only scales the rate the rule estimates (there a
    # huge step amplifies the last bits chaotically: 1.0 instead)
    scales_own_rate = rule in ("dog", "prodigy", "dadapt_adam")
    lrs = [0.1, 0.01, 1.0 if scales_own_rate else 1e6]
    pops = [Population(model, rule, {"lr": lrs}, dtype=F64) for _ in range(2)]
    assert pops[0]._in_place
    pops[1]._in_place = False
    for _ in range(4):
        a, b = (p.step(x, y, cross_entropy) for p in pops)
        assert torch.allclose(a.grad_norm, b.grad_norm, rtol=1e-12, equal_nan=True)
    torch.testing.assert_close(pops[0].flat, pops[1].flat, rtol=1e-12, atol=1e-12)
    alive = pops[0].alive.tolist()
    assert alive == pops[1].alive.tolist() == [True, True, scales_own_rate]


@pytest.mark.parametrize("rule", ["sgd", "adam"])
def test_a_large_members_numbers_do_not_depend_on_its_neighbours(rule: str):
    """On the in-place path every weight gradient is one product per member, so member k
    trains to the same bits alone, in a population of 5 and in a chunk of 2, in float32
    (where batched products may round by a matrix's position in the batch)."""
    model = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    lrs = [0.3, 0.1, 0.03, 0.01, 0.003]
    g = torch.Generator().manual_seed(2)
    batches = [(torch.randn(50, 256, generator=g), torch.randint(0, 10, (50,), generator=g))
               for _ in range(3)]
    pops = {name: Population(model, rule, {"lr": lrs[a:b]})
            for name, (a, b) in {"all": (0, 5), "chunk": (3, 5), "alone": (4, 5)}.items()}
    assert all(p._in_place and p._program is not None for p in pops.values())
    for x, y in batches:
        out = {name: p.step(x, y, cross_entropy) for name, p in pops.items()}
        assert torch.equal(out["all"].grad_norm[3:], out["chunk"].grad_norm)
        assert torch.equal(out["all"].grad_norm[4:], out["alone"].grad_norm)
    assert torch.equal(pops["all"].flat[3:], pops["chunk"].flat)
    assert torch.equal(pops["all"].flat[4:], pops["alone"].flat)
    with torch.no_grad():
        preds = {name: p.predict(batches[0][0]) for name, p in pops.items()}
    assert torch.equal(preds["all"][3:], preds["chunk"])
    assert torch.equal(preds["all"][4:], preds["alone"])


# -- the user's model is untouched --------------------------------------------------------


def _snapshot(model: nn.Module) -> dict[str, Tensor]:
    return {n: t.detach().clone() for n, t in model.state_dict().items()}


@pytest.mark.parametrize("path", ["batched", "vmap", "loop"])
def test_users_model_is_never_modified(path: str):
    """Training and exporting members leaves the given model's weights, dtype, grads alone."""
    model = _mlp()
    before = _snapshot(model)
    pop = Population(model, "adam", {"lr": [0.1, 0.01]}, dtype=F64, path=path)
    _train(pop, *_batch((4,)), 10)
    pop.member_module(0)
    after = model.state_dict()
    assert all(torch.equal(before[n], after[n]) for n in before)
    assert all(p.dtype == torch.float32 and p.grad is None for p in model.parameters())


def test_users_models_and_buffers_are_never_modified():
    """K given models with BatchNorm running stats keep every parameter and buffer."""
    models = [nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.Tanh(), nn.Linear(16, 3))
              for _ in range(2)]
    before = [_snapshot(m) for m in models]
    pop = Population(models, "sgd", {"lr": [0.1, 0.01]})
    _train(pop, *_batch((4,), dtype=torch.float32), 10)
    for m, snap in zip(models, before):
        assert all(torch.equal(snap[n], t) for n, t in m.state_dict().items())
        assert m.training


# -- per-step rates -----------------------------------------------------------------------


def test_step_lr_overrides_the_base_rates_for_that_step():
    """``step(lr=...)`` moves each member exactly as a population built with those rates."""
    model = _mlp().to(F64)
    x, y = _batch((4,))
    base = Population(model, "sgd", {"lr": [1.0, 1.0]})
    ref = Population(model, "sgd", {"lr": [0.1, 0.02]})
    out = base.step(x, y, cross_entropy, lr=torch.tensor([0.1, 0.02], dtype=F64))
    ref.step(x, y, cross_entropy)
    assert _max_param_diff(base, ref) == 0.0
    assert out.lr.tolist() == pytest.approx([0.1, 0.02])


# -- bad input ----------------------------------------------------------------------------

BAD_INPUT = {
    "zero-lr": (_mlp, "sgd", {"lr": [0.1, 0.0]}, "auto"),
    "empty-lr": (_mlp, "sgd", {"lr": []}, "auto"),
    "negative-lr": (_mlp, "sgd", {"lr": [-0.1]}, "auto"),
    "nan-lr": (_mlp, "sgd", {"lr": [0.1, float("nan")]}, "auto"),
    "inf-lr": (_mlp, "sgd", {"lr": [float("inf")]}, "auto"),
    "missing-lr": (_mlp, "momentum", {"momentum": [0.9]}, "auto"),
    "wrong-count": (_mlp, "momentum", {"lr": [0.1, 0.01], "momentum": [0.9]}, "auto"),
    "unknown-hparam": (_mlp, "sgd", {"lr": [0.1], "betas": [0.9]}, "auto"),
    "no-parameters": (nn.ReLU, "sgd", {"lr": [0.1]}, "auto"),
    "batched-non-sequential": (ResidualMLP, "sgd", {"lr": [0.1]}, "batched"),
    "unknown-rule": (_mlp, "nope", {"lr": [0.1]}, "auto"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_a_one_line_lrlab_error(case: str):
    """Each malformed construction raises LrlabError with a single-line message."""
    make, rule, hparams, path = BAD_INPUT[case]
    with pytest.raises(LrlabError) as info:
        Population(make(), rule, hparams, path=path)
    message = str(info.value)
    assert message and "\n" not in message


def test_wrong_number_of_models_is_an_lrlab_error():
    """Two models for three members is refused with a one-line message."""
    with pytest.raises(LrlabError, match="models") as info:
        Population([_mlp(), _mlp()], "sgd", {"lr": [0.1, 0.05, 0.01]})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("narrow", [torch.bfloat16, torch.float16])
def test_a_narrow_float_model_is_trained_wider_and_says_so(narrow) -> None:
    """A bfloat16 (float16) model is trained in float32, as the same weights in float32 are
    (records bit for bit), and one warning per call says so (before: silently)."""
    import warnings

    from helpers import no_time

    from lrlab import sweep
    from lrlab.tasks import Split, Task

    g = torch.Generator().manual_seed(0)
    x = torch.randn(120, 4, generator=g)
    y = (x[:, 0] > 0).long()

    def task(cast):
        def model():
            torch.manual_seed(0)
            return cast(nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).to(narrow))

        return Task(name="narrow", train=Split(x[:80], y[:80]), val=Split(x[80:], y[80:]),
                    num_classes=2, model=model, epochs=2, batch_size=16)

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        mine = sweep(task(lambda m: m), lrs=[0.3, 0.03], epochs=2)
    lines = [str(w.message) for w in said if "the population trains them in" in str(w.message)]
    assert lines == [(f"lrlab: Sequential's parameters are {str(narrow)[6:]}; the population "
                     "trains them in float32 (dtype float32 or float64 only), so these rates "
                     f"are a float32 training's: check the pick in your own {str(narrow)[6:]} "
                     "training")]
    wide = sweep(task(lambda m: m.float()), lrs=[0.3, 0.03], epochs=2)
    assert no_time(mine.records).equals(no_time(wide.records))
    with warnings.catch_warnings(record=True) as said:  # trained as float64: said too
        warnings.simplefilter("always")
        sweep(task(lambda m: m), lrs=[0.3], epochs=1, dtype="float64")
    said64 = (f"lrlab: Sequential's parameters are {str(narrow)[6:]}; the population trains "
              "them in float64 (dtype float32 or float64 only), so these rates are a float64 "
              f"training's: check the pick in your own {str(narrow)[6:]} training")
    assert [str(w.message) for w in said if "trains them in float64" in str(w.message)] == [said64]


def test_a_float64_model_trained_in_float32_says_so() -> None:
    """A model kept in float64 (``model.double()``) is trained in the default float32 with
    one warning naming dtype='float64' (before: silently); under dtype='float64', nothing."""
    import warnings

    from lrlab import sweep
    from lrlab.tasks import Split, Task, member_loss

    g = torch.Generator().manual_seed(0)
    x = torch.randn(120, 4, generator=g, dtype=torch.float64)
    task = Task(name="double", train=Split(x[:80], x[:80, :1]), val=Split(x[80:], x[80:, :1]),
                model=lambda: nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).double(),
                loss=member_loss(nn.MSELoss()), epochs=1, batch_size=16)
    said32 = ("lrlab: Sequential's parameters are float64; the population trains them in "
              "float32, so these rates are a float32 training's: give dtype='float64' "
              "(--dtype float64) to train them as they are")
    for dtype, expected in (("float32", [said32]), ("float64", [])):
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            sweep(task, lrs=[0.1, 0.01], dtype=dtype)
        assert [str(w.message) for w in said if "float64" in str(w.message)] == expected


@pytest.mark.parametrize("rule", ["sgd", "adam"])
@pytest.mark.parametrize(("width", "loss"), [(8, "ce"), (8, "mse"), (260, "ce"), (260, "mse")],
                         ids=["small-ce", "small-mse", "in-place-ce", "in-place-mse"])
def test_clipping_each_members_gradient_is_torchs_clip_grad_norm(rule, width, loss) -> None:
    """clip_grad_norm=c: each member's step is torch's on its own copy after
    ``clip_grad_norm_(params, c)`` over that member's parameters (float64, two steps; the
    threshold clips some members and leaves others), on every gradient path: autograd and the
    hand-written pass, the rule's update and its in-place step (over IN_PLACE_MIN weights).
    The recorded norm is the one before clipping, as torch's return value."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(width, width), nn.Tanh(), nn.Linear(width, 3)).double()
    if width > 8:
        assert sum(p.numel() for p in model.parameters()) >= IN_PLACE_MIN
    lrs = [0.5, 0.05, 0.005]
    x = torch.randn(16, width, dtype=torch.float64)
    y = torch.randint(0, 3, (16,))
    target = torch.randn(16, 3, dtype=torch.float64)
    if loss == "ce":
        loss_fn, ref_loss, yy = cross_entropy, (lambda out: F.cross_entropy(out, y)), y
    else:
        def loss_fn(out, t):
            return (out - t).square().mean(-1)

        def ref_loss(out):
            return (out - target).square().mean(-1).mean()

        yy = target
    refs = [copy.deepcopy(model) for _ in lrs]
    with torch.no_grad():  # members of different scales: different gradient norms
        for k, m in enumerate(refs):
            m[2].weight.mul_(0.5 + k)
    first = []
    for m in refs:
        grads = torch.autograd.grad(ref_loss(m(x)), list(m.parameters()))
        first.append(float(torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads]))))
    c = sorted(first)[1]  # the middle one: clips the largest, not the smallest
    pop = Population([copy.deepcopy(m) for m in refs], rule, {"lr": lrs},
                     dtype=torch.float64, clip_grad_norm=c)
    opts = [(torch.optim.SGD if rule == "sgd" else torch.optim.Adam)(m.parameters(), lr=lr)
            for m, lr in zip(refs, lrs)]
    clipped = set()
    for _ in range(2):
        out = pop.step(x, yy, loss_fn)
        for k, (m, opt) in enumerate(zip(refs, opts)):
            opt.zero_grad()
            ref_loss(m(x)).backward()
            norm = torch.nn.utils.clip_grad_norm_(m.parameters(), c)
            torch.testing.assert_close(out.grad_norm[k], norm, rtol=1e-12, atol=0)
            clipped.add(bool(norm > c))
            opt.step()
    assert clipped == {True, False}  # some members clipped, some not
    for k, m in enumerate(refs):
        got = dict(pop.member_module(k).named_parameters())
        for name, p in m.named_parameters():
            torch.testing.assert_close(got[name], p, rtol=1e-10, atol=1e-12)


def test_clipping_off_is_the_step_as_before_and_a_bad_threshold_is_refused() -> None:
    """Without clip_grad_norm the step is unchanged (a threshold no gradient reaches gives
    the same weights up to the 1e-6 of torch's formula); 0, a negative or nan: one line."""
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    x, y = torch.randn(16, 4, dtype=torch.float64), torch.randint(0, 3, (16,))
    plain = Population(model, "sgd", {"lr": [0.1, 0.3]}, dtype=torch.float64)
    loose = Population(model, "sgd", {"lr": [0.1, 0.3]}, dtype=torch.float64,
                       clip_grad_norm=1e9)
    for _ in range(3):
        a, b = plain.step(x, y, cross_entropy), loose.step(x, y, cross_entropy)
        assert torch.equal(a.grad_norm, b.grad_norm)
    torch.testing.assert_close(plain.flat, loose.flat, rtol=1e-12, atol=0)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(LrlabError, match="clip_grad_norm must be a positive number"):
            Population(model, "sgd", {"lr": [0.1]}, clip_grad_norm=bad)

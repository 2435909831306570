"""Every bad input to find_lr raises LrlabError with one line saying what to do."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from lrlab import LrlabError
from lrlab.search import find_lr, model_loss

CE = nn.CrossEntropyLoss()


def xy(n: int = 64):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 3, generator=g), torch.randint(0, 2, (n,), generator=g)


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Linear(3, 2)


def frozen() -> nn.Module:
    model = net()
    model.requires_grad_(False)
    return model


X, Y = xy()
OK = {"model": net, "loss_fn": CE, "train_data": (X, Y)}

CASES = {
    "start >= end": ({"start": 1.0, "end": 0.1}, "below end"),
    "start equal end": ({"start": 0.1, "end": 0.1}, "below end"),
    "start zero": ({"start": 0.0}, "start=0.0 must be a finite rate > 0"),
    "start negative": ({"start": -1e-3}, "finite rate > 0"),
    "end inf": ({"end": math.inf}, r"^end=inf must be a finite rate > 0: e.g. end=10$"),
    "start nan": ({"start": math.nan}, "start=nan"),
    "start a string": ({"start": "1e-5"}, "finite rate"),
    "steps < 10": ({"steps": 5}, r"^steps=5 is too few to read a curve: give steps=10 or more"),
    "steps too many": ({"steps": 10**11},  # was a MemoryError (745 GiB of rates)
                       r"^steps=100000000000 is more than a range test takes: give steps=100000"),
    "steps float": ({"steps": 50.0}, r"^steps=50.0 must be a whole number: give steps=100"),
    "mode": ({"mode": "cosine"}, "'exp' or 'linear'"),
    "accumulate 0": ({"accumulate": 0}, "accumulate=0"),
    "smooth 1": ({"smooth": 1.0}, r"\[0, 1\)"),
    "smooth negative": ({"smooth": -0.1}, r"\[0, 1\)"),
    "diverge 1": ({"diverge": 1.0}, "diverge=1.0"),
    "eval_every 0": ({"eval_every": 0}, "eval_every"),
    "batch_size 0": ({"batch_size": 0}, "batch_size"),
    "batch_keys": ({"batch_keys": ("x",)}, "batch_keys"),
    "empty list": ({"train_data": []}, "yields no batches"),
    "empty iterator": ({"train_data": iter([])}, "yields no batches"),
    "fewer samples than a batch": ({"train_data": xy(20)}, "20 samples, fewer than one batch"),
    "small dataset": ({"train_data": TensorDataset(*xy(10))}, "10 samples"),
    "dict as data": ({"train_data": {"x": X}}, "must be a DataLoader"),
    "int as data": ({"train_data": 3}, "must be a DataLoader"),
    "empty val data": ({"val_data": []}, "val_data yields no batches"),
    "x and y of different lengths": ({"train_data": (X, Y[:60])},
                                     r"^train_data's tensors hold different numbers of rows"),
    "loss fails": ({"loss_fn": lambda out, y: out.foo},  # was: "its loss fails"
                   (r"^loss_fn fails on the model's outputs of shape \(32, 2\) and targets of "
                   r"shape \(32,\) \(AttributeError")),
    "no loss_fn, no own loss": ({"loss_fn": None},  # was: "give the task a loss"
                                (r"give a loss of \(outputs, targets\) otherwise \(a Task's "
                                r"loss, find_lr's loss_fn\)$")),
    "accumulate a bool": ({"accumulate": True}, r"^accumulate=True must be a whole number >= 1$"),
    "no trainable parameters": ({"model": frozen}, "no trainable parameters"),
    "not a module": ({"model": lambda: (lambda x: x)}, "nn.Module"),
    "the model's class": ({"model": lambda: nn.Linear},  # as Task takes it; was "not type"
                          (r"^model is the class Linear; find_lr tests a built model, the one "
                          r"you will train: give Linear\(\.\.\.\)$")),
    "loss not a scalar": ({"loss_fn": nn.CrossEntropyLoss(reduction="none")}, "not a scalar"),
    "loss not a tensor": ({"loss_fn": lambda out, y: 1.0}, "not a tensor"),
    "loss without grad": ({"loss_fn": lambda out, y: CE(out.detach(), y)}, "does not depend"),
    "loss not callable": ({"loss_fn": "ce"}, "callable"),
    "loss a class": ({"loss_fn": nn.CrossEntropyLoss},  # was: Boolean value of Tensor ...
                     r"the class CrossEntropyLoss, not a loss; .* loss_fn=CrossEntropyLoss\(\)"),
    "amp on cpu": ({"amp": True}, "amp=True needs CUDA"),
    "device mismatch": ({"device": "cuda"}, "the model is on cpu but device=cuda"),
    "bad device": ({"device": "gpu9"}, "not a torch device"),
    "dict batch without keys": ({"train_data": [{"x": X, "y": Y}]}, "batch_keys"),
    "missing batch key": ({"train_data": [{"x": X, "y": Y}], "batch_keys": ("x", "t")},
                          "no key 't'"),
    "tensor batch, plain loss": ({"train_data": [X]}, "has no targets"),
    "reinit without seeds": ({"reinit": True}, "give seeds"),
    "seeds zero": ({"seeds": 0}, "seeds=0"),
    "seeds empty": ({"seeds": []}, "non-empty list"),
    "seeds strings": ({"seeds": ["a"]}, "int seeds"),
    "training_steps zero": ({"training_steps": 0}, "training_steps=0 must be"),
    "training_steps float": ({"training_steps": 120.0}, "a whole number > 0"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_raises_one_line(case):
    change, match = CASES[case]
    kwargs = {**OK, **change}
    model = kwargs.pop("model")()
    with pytest.raises(LrlabError, match=match) as info:
        find_lr(model, kwargs.pop("loss_fn"), kwargs.pop("train_data"), **kwargs)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_bad_optimizers():
    model = net()
    cases = [
        (torch.optim.SGD(nn.Linear(3, 2).parameters(), lr=0.1), "not the model's"),
        (torch.optim.SGD([{"params": model.weight, "lr": 0.0}, {"params": model.bias}], lr=0.1),
         "first param group's lr is 0.0"),
        ("sgd", "torch.optim.Optimizer"),
    ]
    for optimizer, match in cases:
        with pytest.raises(LrlabError, match=match):
            find_lr(model, CE, (X, Y), optimizer=optimizer)


def test_model_loss_needs_a_callable():
    with pytest.raises(LrlabError, match="callable"):
        model_loss("loss")


@pytest.mark.parametrize("ignored", [-100, 255])
def test_validation_accuracy_leaves_out_the_losss_ignored_labels(ignored):
    """Per-pixel labels with a border the loss ignores (VOC's 255): the accuracy is over the
    other pixels, counted here by hand (the border scored as always wrong before)."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 1, 4, 4, generator=g), torch.randint(0, 3, (16, 4, 4), generator=g)
    y[:, 0] = ignored
    torch.manual_seed(0)
    model = nn.Conv2d(1, 3, 1)
    loss = nn.CrossEntropyLoss(ignore_index=ignored)
    result = find_lr(model, loss, (x, y), val_data=(x, y), start=1e-12, end=1e-11, steps=10,
                     batch_size=8)  # rates too small to move the weights
    with torch.no_grad():
        pred = model(x).argmax(1)
    kept = y != ignored
    want = float((pred == y)[kept].float().mean())
    assert result.val_accuracy[-1] == pytest.approx(want, abs=1e-6)


def _counts(n: int = 96):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=g)
    return x, x[:, :2].sum(1).exp().round()  # real-valued targets (B,), one per example


@pytest.mark.parametrize("loss_fn", [nn.PoissonNLLLoss(), nn.MSELoss(),
                                     lambda out, t: (out - t).abs().mean()],
                         ids=["poisson", "mse", "own l1"])
def test_a_loss_that_broadcasts_outputs_b1_against_targets_b_is_refused(loss_fn, recwarn):
    """find_lr(model, loss_fn, data) refuses what a Task refuses: outputs (B, 1) against
    targets (B,) make every loss above a (B, B) table of every output against every target
    (torch warns only for MSE's kin; PoissonNLLLoss and a hand-written L1 say nothing), so the
    test read a rate for a model that cannot learn its targets. Before, it gave one."""
    torch.manual_seed(0)
    with pytest.raises(LrlabError, match=r"broadcast the model's outputs \(32, 1\) against "
                                         r"targets \(32,\).*targets \(B, 1\)") as info:
        find_lr(nn.Linear(3, 1), loss_fn, _counts(), steps=20)
    assert "\n" not in str(info.value)
    assert not [w for w in recwarn if "different to the input size" in str(w.message)]


@pytest.mark.parametrize("loss_fn", [nn.PoissonNLLLoss(), nn.MSELoss(),
                                     lambda out, t: (out - t[:, None]).abs().mean()],
                         ids=["poisson", "mse", "own l1 lining up"])
def test_a_loss_whose_outputs_and_targets_line_up_trains(loss_fn):
    """Targets (B, 1) beside outputs (B, 1), or a loss that gives the targets their axis
    itself, pair output i with target i: the test runs."""
    x, y = _counts()
    torch.manual_seed(0)
    lined = y if "lambda" in repr(loss_fn) else y[:, None]
    result = find_lr(nn.Linear(3, 1), loss_fn, (x, lined), steps=20)
    assert len(result.lrs) == 20


def test_a_known_short_training_names_three_rates_as_lrlab_find_does_on_a_task():
    """``training_steps`` gives a plain loop the warning a task's or a Trainer's test gets:
    under 200 steps, the suggestion, twice and four times it; under torch's SGD with
    momentum 0.9 (at any length) the heavy-ball rates, a tenth of it up to it, half a decade
    apart, and twice it."""
    kwargs = {"start": 1e-4, "end": 100.0}
    unknown = find_lr(net(), CE, (X, Y), **kwargs)
    assert unknown.to_try == () and unknown.training_steps is None
    short = find_lr(net(), CE, (X, Y), training_steps=120, **kwargs)
    lr = short.suggestion.lr
    assert lr == unknown.suggestion.lr  # the same test, read the same way
    assert short.to_try == pytest.approx((lr, 2 * lr, 4 * lr))
    assert any("fewer than 200" in line or "120 optimizer steps" in line
               for line in short.warnings), short.warnings
    assert find_lr(net(), CE, (X, Y), training_steps=5000, **kwargs).to_try == ()
    model = net()
    heavy = find_lr(model, CE, (X, Y), training_steps=5000, **kwargs,
                    optimizer=torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    s = heavy.suggestion.lr
    assert heavy.to_try == pytest.approx((s * 0.1, s * 0.1 ** 0.5, s, 2 * s))


class Lars(torch.optim.Optimizer):
    """Another package's SGD-like rule keeping torch's ``momentum`` key (plain heavy ball)."""

    def __init__(self, params, lr: float, momentum: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    buf = self.state[p].setdefault("buf", torch.zeros_like(p))
                    buf.mul_(group["momentum"]).add_(p.grad)
                    p.add_(buf, alpha=-group["lr"])


#: The rates heavy ball ``m`` names, as multiples of the suggestion (s (1 - m) up to s, half
#: a decade apart at most, then 2s).
HEAVY = {0.8: (0.2, 0.2 ** 0.5, 1, 2), 0.5: (0.5, 1, 2)}


@pytest.mark.parametrize(("make", "m"), [
    (lambda w: Lars(w, lr=0.1, momentum=0.8), 0.8),
    (lambda w: __import__("lrlab").optim.Optimizer(w, "nesterov", lr=0.1, momentum=0.5), 0.5),
    (lambda w: torch.optim.SGD(w, lr=0.1, momentum=0.9, dampening=0.5), 0.8),  # (1 - d) g
    (lambda w: torch.optim.SGD(w, lr=0.1, momentum=0.9, dampening=0.9), 0.0),  # an average
    (lambda w: torch.optim.Adam(w, betas=(0.9, 0.999)), 0.0),        # betas[0]: an average
    (lambda w: torch.optim.RMSprop(w, momentum=0.9), 0.0),           # adaptive: unmeasured
    (lambda w: __import__("lrlab").optim.Optimizer(w, "sf_sgd", lr=0.1), 0.0),  # interpolates
], ids=["other package's sgd", "lrlab nesterov", "damped", "damped to an average", "adam",
        "rmsprop", "schedule-free"])
def test_heavy_ball_momentum_is_read_from_any_sgd_like_optimizer(make, m):
    """A known training under heavy-ball momentum ``m`` names the suggestion x (1 - m) up to it
    and twice it whatever package's SGD-like optimizer carries the momentum (before: only
    ``torch.optim.SGD``'s was read, so an lrlab or a LARS optimizer at 0.9 got no three
    rates); an average of gradients (Adam's ``betas[0]``, SGD damped by its momentum) or
    schedule-free's interpolation is no heavy ball: nothing, as for plain SGD."""
    model = net()
    r = find_lr(model, CE, (X, Y), start=1e-4, end=100.0, training_steps=5000,
                optimizer=make(model.parameters()))
    s = r.suggestion.lr
    assert r.momentum == pytest.approx(m, abs=1e-12)
    assert r.to_try == (pytest.approx([s * f for f in HEAVY[round(m, 9)]]) if m else ())
    assert ("heavy_ball" in r.kinds) == (m > 0)


LOADER = torch.utils.data.DataLoader(TensorDataset(X, Y), batch_size=16)
FIRST_BATCH = {
    "model cannot take the batch": (lambda: nn.Linear(5, 2), LOADER, None,
                                    (r"^the model cannot take the first batch \(RuntimeError: "
                                    r"mat1 and mat2 .*\); the batch is list\(\(16, 3\) float32, "
                                    r"\(16,\) int64\) and the model's forward\(input")),
    "float class labels": (net, torch.utils.data.DataLoader(TensorDataset(X, Y.float()),
                                                            batch_size=16), None,
                           (r"the targets look like class labels .* but are float32: give them "
                           r"as integers \(y\.long\(\)\)$")),
    "labels out of range": (net, torch.utils.data.DataLoader(TensorDataset(X, Y + 2),
                                                             batch_size=16), None,
                            (r"^labels go up to 3 but the model gives 2 class scores; labels must "
                            r"be 0\.\.1$")),
    "labels out of range, seeds one by one": (net, torch.utils.data.DataLoader(
        TensorDataset(X, Y + 2), batch_size=16), 2, r"^labels go up to 3 but the model gives 2"),
    "labels out of range, seeds as a population": (net, (X, Y + 2), 2,
                                                    r"^labels go up to 3 but the model gives 2"),
    "model cannot take it, seeds as a population": (lambda: nn.Linear(5, 2), (X, Y), 2,
                                                     r"^the model cannot take the first batch"),
}


@pytest.mark.parametrize(("make", "data", "seeds", "match"), FIRST_BATCH.values(),
                         ids=FIRST_BATCH.keys())
def test_the_first_batch_is_checked_as_a_tasks_probe_checks_it(make, data, seeds, match):
    """A user's own loop (model, loss, DataLoader) gets the one line a Task gets for a model
    that cannot take the batch, float class labels and labels beyond the class scores
    (lrlab.train's cannot_take, loss_fails, check_labels), on every path find_lr runs; before,
    torch's own error came through (an IndexError, or a device-side assert on CUDA)."""
    with pytest.raises(LrlabError, match=match) as err:
        find_lr(make(), CE, data, steps=10, seeds=seeds)
    assert "\n" not in str(err.value)


VAL_DATA = {
    "model cannot take it": ((torch.randn(16, 5), Y[:16]),
                             (r"^val_data: the model cannot take the first batch \(RuntimeError: "
                             r"mat1 and mat2 .*\); the batch is tuple\(\(16, 5\) float32")),
    "float class labels": ((X, Y.float()),
                           (r"^val_data: loss_fn fails on the model's outputs of shape \(32, 2\) "
                           r".* but are float32: give them as integers \(y\.long\(\)\)$")),
    "labels out of range": ((X, Y + 2), (r"^val_data: labels go up to 3 but the model gives 2 "
                                        r"class scores; labels must be 0\.\.1$")),
    "x and y of different lengths": ((X, Y[:60]),
                                     (r"^val_data's tensors hold different numbers of rows \(64 "
                                     r"and 60\): give x and y one row per example$")),
    "a one-shot iterator": ((b for b in [(X, Y)]),
                            (r"^val_data is a one-shot iterator \(generator\), but it is "
                            r"evaluated again every eval_every steps: give a list of batches")),
}


@pytest.mark.parametrize("seeds", [None, 2], ids=["one run", "seeds as a population"])
@pytest.mark.parametrize(("val", "match"), VAL_DATA.values(), ids=VAL_DATA.keys())
def test_val_data_is_checked_before_training_in_one_line(val, match, seeds):
    """``val_data``'s first batch is checked as the training's first is, naming val_data,
    before anything trains (before: torch's own error at the first evaluation, a RuntimeError
    or an IndexError, or a population's gather() error; x and y of different lengths read as
    a list of batches without targets; a generator's second evaluation found it empty)."""
    with pytest.raises(LrlabError, match=match) as err:
        find_lr(net(), CE, (X, Y), val_data=val, steps=10, seeds=seeds, batch_size=32)
    assert "\n" not in str(err.value)


def test_a_later_val_data_batch_that_fails_is_one_line():
    """A validation batch after the first that the model cannot take: one line naming it."""
    val = [(X[:32], Y[:32]), (torch.randn(8, 5), Y[:8])]
    with pytest.raises(LrlabError, match=r"^val_data: its batch 2 fails in the model or the "
                       r"loss \(RuntimeError: mat1 and mat2") as err:
        find_lr(net(), CE, (X, Y), val_data=val, steps=10)
    assert "\n" not in str(err.value)


def test_a_later_val_data_batch_out_of_memory_keeps_torchs_error():
    """Running out of memory on a later (larger) validation batch is the device's limit, not
    the batch's form: torch's error goes through, not advice to reshape the batches."""
    class Hungry(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            if not self.training and len(x) > 32:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 9 GiB")
            return self.fc(x)

    val = [(X[:32], Y[:32]), (X[:64], Y[:64])]
    with pytest.raises(torch.OutOfMemoryError, match="Tried to allocate"):
        find_lr(Hungry(), CE, (X, Y), val_data=val, steps=10)


def test_checking_val_data_leaves_the_curve_and_the_models_flags_as_they_were(monkeypatch):
    """The check runs in eval mode without gradients or random draws: a dropout model's
    curve with validation is the one without the check, and its flags are put back."""
    def run():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.5), nn.Linear(8, 2))
        model[1].eval()  # a flag the user set: kept
        r = find_lr(model, CE, (X, Y), val_data=(X, Y), start=1e-3, end=10.0, steps=20)
        assert model.training and not model[1].training
        return list(r.losses), list(r.val_loss)

    checked = run()
    monkeypatch.setattr("lrlab.search._range_test.check_val", lambda s: None)
    assert checked == run()


def test_the_populations_check_of_the_first_batch_leaves_the_records_as_they_were(monkeypatch):
    """The population path checks the first batch on a copy of the model with the random
    states restored: a dropout model's K curves are those of a run without the check."""
    def curves():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.5), nn.Linear(8, 2))
        return [run.losses for run in find_lr(model, CE, (X, Y), start=1e-3, end=10.0,
                                               steps=20, seeds=2).runs]

    checked = curves()
    monkeypatch.setattr("lrlab.search._vectorised._check_first", lambda *args: None)
    assert [list(c) for c in checked] == [list(c) for c in curves()]


def test_seeds_as_a_population_cast_the_inputs_to_the_models_dtype_as_one_by_one_does():
    """float32 data and a float64 model: the one-by-one test casts the inputs, the
    population refused them with torch's dtype error; now both run."""
    torch.manual_seed(0)
    model = nn.Linear(3, 2).double()
    r = find_lr(model, CE, (X, Y), start=1e-3, end=10.0, steps=20, seeds=2, val_data=(X, Y))
    assert len(r.runs) == 2 and all(math.isfinite(v) for v in r.losses)

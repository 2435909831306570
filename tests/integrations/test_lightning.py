"""lrlab's range test inside a real Lightning ``Trainer`` (CPU, a tiny module, two epochs):
the rate reported is the rate trained at; the weights, optimizer, random state and metrics
are as before the test; a run with the finder equals a run started at its rate by hand,
early stopping and validation batch limits included."""

from __future__ import annotations

import copy
import sys
from contextlib import nullcontext

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

L = pytest.importorskip("lightning")

from lrlab import LrlabError
from lrlab.integrations import MissingExtra
from lrlab.integrations.lightning import FindLR

pytestmark = [pytest.mark.filterwarnings(
    "ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning"),  # lightning 2.6 on torch 2.13
    # the fits here train 12 steps: the finder's warnings are no subject but of the test
    # that asks for them
    pytest.mark.filterwarnings("ignore:lrlab. :UserWarning")]


class Net(L.LightningModule):
    """Two param groups (ratio 10), momentum, a StepLR; counts its validation batches."""

    def __init__(self, lrs=(0.01, 0.1), *, optimizer: bool = True, manual: bool = False,
                 schedule=None):
        super().__init__()
        self.schedule = schedule  # a function (optimizer, peak rates) -> scheduler
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
        self.lrs, self.with_optimizer = lrs, optimizer
        self.automatic_optimization = not manual
        self.val_batches: list[int] = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def on_validation_epoch_start(self):
        self.val_batches.append(0)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.val_batches[-1] += 1
        self.log("val_loss", nn.functional.cross_entropy(self.net(x), y))

    def configure_optimizers(self):
        if not self.with_optimizer:
            return None
        opt = torch.optim.SGD([{"params": self.net[0].parameters(), "lr": self.lrs[0]},
                               {"params": self.net[2].parameters(), "lr": self.lrs[1]}],
                              momentum=0.9)
        if self.schedule is not None:  # stepped every batch
            return {"optimizer": opt, "lr_scheduler": {"scheduler": self.schedule(opt, self.lrs),
                                                       "interval": "step"}}
        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, 1, 0.5)}


def _data():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(192, 4, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    return (DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True),
            DataLoader(TensorDataset(x, y), batch_size=32))


def _fit(module, *callbacks, **options):
    options = {"logger": False, **options}
    trainer = L.Trainer(max_epochs=2, accelerator="cpu",
                        enable_progress_bar=False, enable_checkpointing=False,
                        enable_model_summary=False, callbacks=list(callbacks), **options)
    torch.manual_seed(7)  # the data order
    trainer.fit(module, *_data())
    return trainer


class Snapshot(L.Callback):
    """What the module, optimizer, trainer and RNG look like at ``on_train_start``."""

    def on_train_start(self, trainer, pl_module):
        self.weights = copy.deepcopy(pl_module.state_dict())
        self.optimizer = copy.deepcopy(trainer.optimizers[0].state_dict()["state"])
        self.rng = torch.get_rng_state()
        self.loops = (trainer.global_step, trainer.current_epoch,
                      trainer.fit_loop.epoch_loop.batch_progress.state_dict())
        self.metrics = dict(trainer.callback_metrics)
        self.training = pl_module.training


def test_the_rate_reported_is_the_rate_trained_at_and_nothing_else_moves() -> None:
    before, after = Snapshot(), Snapshot()
    finder = FindLR(start=1e-4, end=10.0, steps=30)
    trainer = _fit(Net(), before, finder, after)
    rate = finder.rate
    assert rate is not None and rate == finder.results[0][1].suggestion.lr
    assert finder.rate_used == [(0, rate)]  # the first step trained at exactly that rate
    opt = trainer.optimizers[0]
    scheduler = trainer.lr_scheduler_configs[0].scheduler
    assert scheduler.base_lrs == pytest.approx([rate, 10 * rate], rel=1e-12)  # ratio kept
    assert [g["lr"] for g in opt.param_groups] == pytest.approx(  # StepLR ran from it
        [rate * 0.25, 10 * rate * 0.25], rel=1e-12)
    for name, value in before.weights.items():
        assert torch.equal(value, after.weights[name]), name
    assert before.optimizer == after.optimizer == {}
    assert torch.equal(before.rng, after.rng)
    assert before.loops == after.loops and before.metrics == after.metrics
    assert before.training == after.training


def test_a_short_fit_warns_and_names_three_rates() -> None:
    """Two epochs of 6 steps: the result knows the fit's steps left (12, then 6 when run
    again at epoch 1) and warns as ``lrlab find`` on a short task does, the warning also a
    Python one since the fit goes on at the reading, pointing at the user's ``trainer.fit()``
    (it pointed at Lightning's line that called the hook)."""
    finder = FindLR(start=1e-4, end=10.0, steps=30, epochs=[1])
    with pytest.warns(UserWarning, match=r"lrlab: a short training \(12 optimizer steps\)") \
            as caught:
        _fit(Net(), finder)
    ours = [w for w in caught if str(w.message).startswith("lrlab: ")]
    assert ours and {w.filename for w in ours} == {__file__}
    (_, first), (_, again) = finder.results
    lr = first.suggestion.lr
    assert (first.training_steps, again.training_steps) == (12, 6)
    # the module's torch SGD has momentum 0.9: the heavy-ball rates, as find_lr(training_steps=)
    # and lrlab find give them (before: lr, 2 lr, 4 lr, the result's momentum left at 0)
    assert first.momentum == 0.9
    assert "short_training" in first.kinds
    assert first.to_try == pytest.approx((0.1 * lr, 0.1 ** 0.5 * lr, lr, 2 * lr))


def test_a_run_with_the_finder_equals_one_started_at_its_rate() -> None:
    """Early stopping and limit_val_batches behave as without the finder."""
    def stopper():  # stops once val_loss < 100: after the first epoch
        return L.pytorch.callbacks.EarlyStopping(monitor="val_loss", stopping_threshold=100.0)

    finder, stop, found = FindLR(start=1e-4, end=10.0, steps=30), stopper(), Net()
    _fit(found, finder, stop, limit_val_batches=2)
    rate = finder.rate
    control, by_hand = stopper(), Net(lrs=(rate, 10 * rate))
    _fit(by_hand, control, limit_val_batches=2)
    assert found.val_batches == by_hand.val_batches == [2, 2]  # sanity check, epoch 0
    assert stop.stopped_epoch == control.stopped_epoch == 0
    torch.testing.assert_close(stop.best_score, control.best_score, rtol=1e-5, atol=1e-6)
    for name, value in found.state_dict().items():
        torch.testing.assert_close(value, by_hand.state_dict()[name], rtol=1e-5, atol=1e-6)


class _Counted(Net):
    def training_step(self, batch, batch_idx):
        self.calls = getattr(self, "calls", 0) + 1
        return super().training_step(batch, batch_idx)


class _CallsAtStart(L.Callback):
    def on_train_start(self, trainer, pl_module):
        self.calls = pl_module.calls


def test_each_step_of_the_test_accumulates_as_the_trainer_does() -> None:
    """Trainer(accumulate_grad_batches=2) steps every 2 batches: the test's steps too (it
    stepped on every batch, a rate for half the batch the training uses)."""
    finder, seen = FindLR(start=1e-4, end=1e-2, steps=10), _CallsAtStart()
    _fit(_Counted(), finder, seen, accumulate_grad_batches=2)
    assert len(finder.results[0][1].lrs) == 10
    assert seen.calls == 20  # 10 steps of 2 batches


def test_the_test_clips_gradients_as_the_trainer_does(monkeypatch) -> None:
    """Trainer(gradient_clip_val=C) clips each step's gradient to norm C (by default): the
    range test does too; clipping by value, which the test cannot do, or none: no clip."""
    import lrlab.integrations.lightning as module

    seen, real = [], module.find_lr

    def spy(*args, **kwargs):
        seen.append(kwargs["clip_grad_norm"])
        return real(*args, **kwargs)
    monkeypatch.setattr(module, "find_lr", spy)
    for options in ({"gradient_clip_val": 0.5}, {}, {"gradient_clip_val": 0.5,
                                                    "gradient_clip_algorithm": "value"}):
        _fit(_Counted(), FindLR(start=1e-4, end=1e-2, steps=10), **options)
    assert seen == [0.5, None, None]


def test_again_at_a_given_epoch() -> None:
    finder = FindLR(start=1e-4, end=10.0, steps=20, epochs=[1], reading="min_div10")
    _fit(Net(), finder)
    assert [epoch for epoch, _ in finder.results] == [0, 1]
    assert [epoch for epoch, _ in finder.rate_used] == [0, 1]
    # the new base rate, at the scheduler's place: StepLR has halved it once
    assert finder.rate_used[1][1] == pytest.approx(finder.rate * 0.5, rel=1e-12)


class Rates(L.Callback):
    """The first group's rate at every optimizer step."""

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.lrs.append(optimizer.param_groups[0]["lr"])


@pytest.mark.parametrize("schedule", [
    lambda opt, peak: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=list(peak), total_steps=12,
                                                          pct_start=0.25),
    lambda opt, peak: torch.optim.lr_scheduler.CyclicLR(
        opt, base_lr=[p / 10 for p in peak], max_lr=list(peak), step_size_up=3),
], ids=["onecycle", "cyclic"])
def test_a_cycle_peaks_at_the_rate(schedule) -> None:
    """The range test's rate is a cycle's peak (Smith's and fastai's use of it), not its
    floor: OneCycleLR's start is its max_lr / 25, which once became 25x the rate at the peak
    (a small ResNet at 25x its found rate: 0.53 validation accuracy against 0.97)."""
    finder, seen = FindLR(start=1e-4, end=10.0, steps=30), Rates()
    _fit(Net(schedule=schedule), finder, seen)
    assert max(seen.lrs) == pytest.approx(finder.rate, rel=1e-9)
    assert finder.rate_used[0][1] < finder.rate  # the cycle starts below its peak


def _warmup_cosine(opt, peak):
    warmup = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=3)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=9)
    return torch.optim.lr_scheduler.SequentialLR(opt, [warmup, cosine], milestones=[3])


def _chained(opt, peak):
    return torch.optim.lr_scheduler.ChainedScheduler([
        torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=3),
        torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.8)])


@pytest.mark.parametrize("schedule", [_warmup_cosine, _chained], ids=["sequential", "chained"])
def test_a_composed_schedule_follows_the_rate_to_its_end(schedule) -> None:
    """A warm-up then a cosine (SequentialLR) and a ChainedScheduler train at the rates a fit
    started at the finder's rate by hand trains at, every step: SequentialLR's cosine
    restarts from its own base_lrs at the milestone (they stayed at the module's rate, so
    from step 4 on a user's warm-up-cosine fit trained at the old rate)."""
    finder, found = FindLR(start=1e-4, end=10.0, steps=30), Rates()
    _fit(Net(schedule=schedule), finder, found)
    by_hand = Rates()
    _fit(Net(lrs=(finder.rate, 10 * finder.rate), schedule=schedule), by_hand)
    assert len(found.lrs) == 12
    assert found.lrs == pytest.approx(by_hand.lrs, rel=1e-9)


@pytest.mark.filterwarnings("ignore:Checkpoint directory .* exists and is not empty")  # resuming
def test_a_resumed_run_keeps_its_rate(tmp_path) -> None:
    finder = FindLR(start=1e-4, end=10.0, steps=20)
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path,
                        callbacks=[finder, L.pytorch.callbacks.ModelCheckpoint(tmp_path / "ckpt")])
    trainer.fit(Net(), *_data())
    again, saved = FindLR(start=1e-4, end=10.0, steps=20), next((tmp_path / "ckpt").iterdir())
    resumed = L.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path,
                        callbacks=[again, L.pytorch.callbacks.ModelCheckpoint(tmp_path / "ckpt")])
    resumed.fit(Net(), *_data(), ckpt_path=saved)
    assert again.results == [] and again.rate == finder.rate  # no new test, the rate restored
    assert resumed.optimizers[0].param_groups[0]["initial_lr"] == pytest.approx(finder.rate)


@pytest.mark.parametrize(("module", "message"), [
    (Net(optimizer=False), "configures no optimizer over its parameters"),
    (Net(manual=True), "manual optimization"),
])
def test_a_module_lrlab_cannot_drive_is_named(module, message: str) -> None:
    warned = pytest.warns(UserWarning) if not module.with_optimizer else nullcontext()
    with pytest.raises(LrlabError, match=message), warned:  # Lightning warns of no optimizer
        _fit(module, FindLR(steps=10))


def test_the_rate_and_the_figure_reach_the_logger(tmp_path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger = L.pytorch.loggers.TensorBoardLogger(tmp_path, name="run", version=0)
    finder = FindLR(start=1e-4, end=10.0, steps=20)
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", logger=logger, log_every_n_steps=1,
                        enable_progress_bar=False, enable_checkpointing=False,
                        enable_model_summary=False, callbacks=[finder])
    trainer.fit(Net(), *_data())
    events = EventAccumulator(str(tmp_path / "run" / "version_0"))
    events.Reload()
    assert [e.value for e in events.Scalars("lrlab/lr")] == pytest.approx([finder.rate])
    assert events.Images("lrlab/range_test")[0].width > 100


class Tuned(Net):
    """A module as Lightning's own tuner expects it: its rate in ``hparams.lr`` (saved in the
    checkpoint) and in an ``lr`` attribute, group 2 at 10x."""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lrs=(lr, 10 * lr))
        self.save_hyperparameters()
        self.lr = lr


def test_the_modules_own_rate_names_follow_the_rate(tmp_path) -> None:
    """hparams.lr (what a checkpoint keeps and load_from_checkpoint builds from) and the
    module's lr attribute hold the rate trained at, as after Lightning's LearningRateFinder;
    before, they kept the starting 0.01 while the optimizer trained at the finder's rate."""
    finder = FindLR(start=1e-4, end=10.0, steps=20)
    module = Tuned()
    trainer = _fit(module, finder, default_root_dir=tmp_path)
    assert module.hparams.lr == pytest.approx(finder.rate, rel=1e-12)
    assert module.lr == pytest.approx(finder.rate, rel=1e-12)
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    assert Tuned.load_from_checkpoint(tmp_path / "last.ckpt").hparams.lr == pytest.approx(
        finder.rate, rel=1e-12)


@pytest.mark.parametrize("kind", ["TensorBoardLogger", "CSVLogger"])
def test_the_loggers_hparams_file_holds_the_rate_trained_at(tmp_path, kind: str) -> None:
    """Lightning logs the hyperparameters (hparams.yaml) before on_train_start, where the
    test runs: the file kept the starting lr=0.01 while the fit trained at the finder's rate.
    It is written again with the rate; the other hyperparameters stay as logged."""
    if kind == "TensorBoardLogger":
        pytest.importorskip("tensorboard")
    from lightning.pytorch.core.saving import load_hparams_from_yaml

    class Wide(Tuned):  # a hyperparameter beside the rate, which stays as logged
        def __init__(self, lr: float = 0.01, width: int = 16) -> None:
            super().__init__(lr)
            self.save_hyperparameters()

    logger = getattr(L.pytorch.loggers, kind)(tmp_path, name="run", version=0)
    finder = FindLR(start=1e-4, end=10.0, steps=20)
    trainer = _fit(Wide(), finder, logger=logger, log_every_n_steps=1)
    assert trainer.logger is logger
    kept = load_hparams_from_yaml(tmp_path / "run" / "version_0" / "hparams.yaml")
    assert kept == {"lr": pytest.approx(finder.rate, rel=1e-12), "width": 16}
    assert finder.rate != pytest.approx(0.01)


def test_without_lightning_one_line_names_the_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "lightning.pytorch", None)
    monkeypatch.delitem(sys.modules, "lrlab.integrations.lightning")
    with pytest.raises(MissingExtra, match=r"pip install 'lrlab\[lightning\]'$"):
        import lrlab.integrations.lightning  # noqa: F401

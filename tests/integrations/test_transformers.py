"""lrlab's range test on a Hugging Face ``Trainer`` (a tiny BERT built from a config, no
downloads, CPU): the trainer then builds its optimizer at the rate reported, the model and
random state are as before; the callback moves an existing optimizer and schedule."""

from __future__ import annotations

import math
import sys

import pytest
import torch

transformers = pytest.importorskip("transformers")

from lrlab import LrlabError
from lrlab.integrations import MissingExtra
from lrlab.integrations.transformers import FindLRCallback, find_trainer_lr

# the tiny trainers here train a few steps on short tests: their warnings are no subject
# but of the test that asks for them
pytestmark = pytest.mark.filterwarnings("ignore:lrlab. :UserWarning")


class Tokens(torch.utils.data.Dataset):
    """Random token sequences labelled by their first token: dict items, as HF datasets give."""

    def __init__(self, n: int = 128, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(1, 40, (n, 10), generator=g)
        self.labels = (self.ids[:, 0] > 20).long()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "attention_mask": torch.ones(10, dtype=torch.long),
                "labels": self.labels[i]}


def _trainer(tmp_path, **options):
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=32,
                                     max_position_embeddings=16, num_labels=2)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=16, num_train_epochs=1,
        report_to=[], use_cpu=True, save_strategy="no", logging_strategy="no",
        disable_tqdm=True, warmup_steps=2)
    return transformers.Trainer(model=transformers.BertForSequenceClassification(config),
                                args=args, train_dataset=Tokens(), **options)


def test_the_trainer_trains_at_the_rate_reported(tmp_path) -> None:
    trainer = _trainer(tmp_path)
    weights = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    rng = torch.get_rng_state()
    result = find_trainer_lr(trainer, start=1e-6, end=1.0, steps=25)
    rate = result.suggestion.lr
    assert trainer.args.learning_rate == rate and trainer.optimizer is None
    assert all(torch.equal(weights[k], v) for k, v in trainer.model.state_dict().items())
    assert torch.equal(rng, torch.get_rng_state())
    trainer.train()
    assert [g["initial_lr"] for g in trainer.optimizer.param_groups] == [rate, rate]
    assert trainer.lr_scheduler.base_lrs == [rate, rate]


@pytest.mark.parametrize("how", ["function", "callback"])
def test_a_short_training_warns_and_names_three_rates(tmp_path, how) -> None:
    """A trainer of 8 optimizer steps (128 examples, batch 16, one epoch) is a short
    training: the result knows its length and warns as ``lrlab find`` on a task does (a
    tiny GPT-2 trained 32 steps lost 10-18% at the suggestion alone, unwarned), the
    warning also a Python one since training goes on at the reading, pointing at the user's
    line: ``trainer.train()`` under the callback (it pointed at transformers'
    trainer_callback.py, which called the callback)."""
    finder = FindLRCallback(start=1e-6, end=1.0, steps=25)
    trainer = _trainer(tmp_path, **({"callbacks": [finder]} if how == "callback" else {}))
    with pytest.warns(UserWarning, match=r"lrlab: a short training \(8 optimizer steps\)") \
            as caught:
        result = (find_trainer_lr(trainer, start=1e-6, end=1.0, steps=25) if how == "function"
                  else (trainer.train(), finder.result)[1])
    ours = [w for w in caught if str(w.message).startswith("lrlab: ")]
    assert ours and {w.filename for w in ours} == {__file__}
    lr = result.suggestion.lr
    assert result.training_steps == 8 and "short_training" in result.kinds
    assert result.to_try == pytest.approx((lr, 2 * lr, 4 * lr))


def test_the_callback_moves_the_built_optimizer_and_schedule(tmp_path) -> None:
    finder = FindLRCallback(start=1e-6, end=1.0, steps=25, reading="min_div10")
    trainer = _trainer(tmp_path, callbacks=[finder])
    trainer.train()
    rate = finder.rate
    assert rate == finder.result.suggestions()["min_div10"].lr == trainer.args.learning_rate
    assert [g["initial_lr"] for g in trainer.optimizer.param_groups] == pytest.approx(
        [rate, rate], rel=1e-12)
    assert trainer.lr_scheduler.base_lrs == pytest.approx([rate, rate], rel=1e-12)


@pytest.mark.filterwarnings("ignore:lrlab. the range test gave no suggestion")  # 10 steps
def test_each_step_of_the_test_accumulates_as_the_trainer_does(tmp_path) -> None:
    """gradient_accumulation_steps=2: two batches per step of the test, as in training."""
    trainer = _trainer(tmp_path)
    trainer.args.gradient_accumulation_steps = 2
    calls = []
    hook = trainer.model.register_forward_hook(lambda *args: calls.append(1))
    result = find_trainer_lr(trainer, start=1e-6, end=1e-3, steps=10)
    hook.remove()
    assert len(result.lrs) == 10 and len(calls) == 20


@pytest.mark.filterwarnings("ignore:lrlab. the range test gave no suggestion")
def test_the_callback_accumulates_as_the_trainer_does(tmp_path) -> None:
    class Seen(transformers.TrainerCallback):  # after the finder: the calls it made
        def on_train_begin(self, *args, **kwargs):
            self.calls = len(calls)

    finder, seen, calls = FindLRCallback(start=1e-6, end=1e-3, steps=10), Seen(), []
    trainer = _trainer(tmp_path, callbacks=[finder, seen])
    trainer.args.gradient_accumulation_steps = 2
    hook = trainer.model.register_forward_hook(lambda *args: calls.append(1))
    trainer.train()
    hook.remove()
    assert len(finder.result.lrs) == 10 and seen.calls == 20


@pytest.mark.filterwarnings("ignore:lrlab. the range test gave no suggestion")
def test_the_test_clips_gradients_as_the_trainer_does(tmp_path, monkeypatch) -> None:
    """The Trainer clips every step's gradient to args.max_grad_norm (1.0 by default): the
    range test, from find_trainer_lr or the callback, clips to the same norm, and not at
    all at 0; a clip_grad_norm given to the finder wins."""
    import lrlab.integrations.transformers as module

    seen, real = [], module.find_lr

    def spy(*args, **kwargs):
        seen.append(kwargs["clip_grad_norm"])
        return real(*args, **kwargs)
    monkeypatch.setattr(module, "find_lr", spy)
    trainer = _trainer(tmp_path)
    assert trainer.args.max_grad_norm == 1.0
    find_trainer_lr(trainer, start=1e-6, end=1e-3, steps=10)
    trainer.args.max_grad_norm = 0.0
    find_trainer_lr(trainer, start=1e-6, end=1e-3, steps=10)
    find_trainer_lr(trainer, start=1e-6, end=1e-3, steps=10, clip_grad_norm=0.3)
    finder = FindLRCallback(start=1e-6, end=1e-3, steps=10)
    trainer = _trainer(tmp_path, callbacks=[finder])
    trainer.args.max_grad_norm = 0.5
    trainer.train()
    assert seen == [1.0, None, 0.3, 0.5]


def test_bad_input_is_one_line(tmp_path) -> None:
    with pytest.raises(LrlabError, match="needs a transformers.Trainer, got Module"):
        find_trainer_lr(torch.nn.Module())
    with pytest.raises(LrlabError, match="no reading 'best'; choose one of: "):
        find_trainer_lr(_trainer(tmp_path), steps=10, reading="best")


class _Rates(transformers.TrainerCallback):
    """The first group's rate at every step."""

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        self.lrs.append(optimizer.param_groups[0]["lr"])


def _own_schedule(tmp_path, lr: float, schedule, *callbacks):
    """A trainer given the user's own optimizer and schedule (``optimizers=``), trained."""
    trainer = _trainer(tmp_path)
    optimizer = torch.optim.AdamW(trainer.model.parameters(), lr=lr)
    trainer = transformers.Trainer(model=trainer.model, args=trainer.args,
                                   train_dataset=Tokens(), optimizers=(optimizer, schedule(optimizer)),
                                   callbacks=list(callbacks))
    trainer.train()


@pytest.mark.parametrize("schedule", [
    lambda opt: transformers.get_linear_schedule_with_warmup(opt, 2, 8),
    lambda opt: torch.optim.lr_scheduler.SequentialLR(opt, [
        torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=2),
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=6)], milestones=[2]),
], ids=["linear-warmup", "sequential"])
def test_the_callback_moves_the_users_own_schedule(tmp_path, schedule) -> None:
    """Trainer(optimizers=(opt, schedule)): the schedule holds the optimizer inside
    accelerate's wrapper, which the callback is given; it was left at the user's rate, so a
    linear warm-up trained at 1e-3 where the callback reported its rate (a LambdaLR sets
    base_lr x factor every step). Now every step's rate is that of a training started at the
    found rate by hand."""
    finder, found, by_hand = FindLRCallback(start=1e-6, end=1.0, steps=20), _Rates(), _Rates()
    _own_schedule(tmp_path, 1e-3, schedule, finder, found)
    _own_schedule(tmp_path, finder.rate, schedule, by_hand)
    assert len(found.lrs) == 8 and finder.rate != pytest.approx(1e-3)
    assert found.lrs == pytest.approx(by_hand.lrs, rel=1e-9)


class _Logits(torch.nn.Module):
    """A model that leaves its loss to the trainer (``compute_loss_func``): logits only."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.EmbeddingBag(40, 2)

    def forward(self, input_ids, attention_mask=None, labels=None):
        return {"logits": self.embed(input_ids)}


def test_a_loss_the_callback_cannot_see_is_one_line(tmp_path) -> None:
    """The trainer's own loss (compute_loss_func, or a subclass's compute_loss) is not
    visible to a callback, which calls the model: one line naming find_trainer_lr, which
    runs that loss (before: KeyError 'loss' from inside train())."""
    def loss(outputs, labels, num_items_in_batch=None):
        return torch.nn.functional.cross_entropy(outputs["logits"], labels)

    def trainer(**options):
        args = transformers.TrainingArguments(
            output_dir=str(tmp_path), per_device_train_batch_size=16, num_train_epochs=1,
            report_to=[], use_cpu=True, save_strategy="no", logging_strategy="no",
            disable_tqdm=True)
        return transformers.Trainer(model=_Logits(), args=args, train_dataset=Tokens(),
                                    compute_loss_func=loss, **options)

    with pytest.raises(LrlabError, match=r"no 'loss' .* find_trainer_lr\(trainer\) before"):
        trainer(callbacks=[FindLRCallback(start=1e-4, end=10.0, steps=20)]).train()
    result = find_trainer_lr(trainer(), start=1e-4, end=10.0, steps=20)
    assert len(result.lrs) == 20  # ran on the trainer's loss
    assert all(math.isfinite(loss) for loss in result.losses[:5])


def test_without_transformers_one_line_names_the_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    monkeypatch.delitem(sys.modules, "lrlab.integrations.transformers")
    with pytest.raises(MissingExtra, match=r"pip install 'lrlab\[transformers\]'$"):
        import lrlab.integrations.transformers  # noqa: F401


def test_the_callback_reads_the_curve_as_for_the_optimizer_inside_accelerates_wrapper(tmp_path):
    """train() hands callbacks accelerate's AcceleratedOptimizer around its AdamW: the test is
    read with AdamW's rules, as find_trainer_lr reads the same curve (before: SGD's, a
    different suggestion from the same losses)."""
    finder = FindLRCallback(start=1e-6, end=1.0, steps=25)
    _trainer(tmp_path, callbacks=[finder]).train()
    alone = find_trainer_lr(_trainer(tmp_path), start=1e-6, end=1.0, steps=25)
    assert finder.result.losses == pytest.approx(alone.losses, rel=1e-6)
    assert finder.result.rules == alone.rules
    assert finder.rate == alone.suggestion.lr

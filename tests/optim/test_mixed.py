"""Several rules in one population: member k of a mixed rule moves as a lone run of its rule."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from optim_helpers import data, mlp, rule_trajectory, stacked_mlp_losses

from lrlab import LrlabError
from lrlab.optim import RULES, mixed
from lrlab.tasks import get_task
from lrlab.train import Member, fit, validated

F64 = torch.float64
#: (rule, rate) per member, interleaved so the gather and scatter are exercised.
MEMBERS = [("adam", 0.01), ("momentum", 0.05), ("prodigy", 1.0), ("adam", 0.003),
           ("sf_adamw", 0.02), ("sgd_hd", 0.05)]


def _hp(entries: list[tuple[str, float]], names: list[str]) -> dict[str, torch.Tensor]:
    """(K,) hyperparameters: each member's own rule's defaults, others' filled from any."""
    fill = {n: v for r in dict.fromkeys(e[0] for e in entries) for n, v in
            RULES[r].defaults.items()}
    return {"lr": torch.tensor([lr for _, lr in entries], dtype=F64)} | {
        n: torch.tensor([RULES[r].defaults.get(n, fill[n]) for r, _ in entries], dtype=F64)
        for n in names}


def test_each_member_follows_a_lone_run_of_its_rule() -> None:
    """15 float64 steps on the MLP: weights, reported rates and evaluation weights of every
    member equal a one-member run of its own rule (to rounding)."""
    distinct = list(dict.fromkeys(r for r, _ in MEMBERS))
    rule = mixed([RULES[r] for r in distinct], [distinct.index(r) for r, _ in MEMBERS])
    x, y = data()
    start = [torch.stack(ps).detach() for ps in
             zip(*(mlp(seed).parameters() for seed in range(len(MEMBERS))))]
    losses = lambda ps: stacked_mlp_losses(ps, x, y)
    params, state = [p.clone() for p in start], rule.init(start)
    hp = _hp(MEMBERS, list(rule.defaults))
    for _ in range(15):
        leaves = [p.detach().requires_grad_() for p in params]
        grads = torch.autograd.grad(losses(leaves).sum(), leaves)
        updates, state = rule.update(list(grads), state, params, hp)
        params = [p + u for p, u in zip(params, updates)]
    evals = rule.eval_params(state, params)
    for k, (name, lr) in enumerate(MEMBERS):
        alone = RULES[name]
        one = _hp([(name, lr)], list(alone.defaults))
        lone_state = alone.init([p[k:k + 1] for p in start])
        lone = [p[k:k + 1].clone() for p in start]
        for _ in range(15):
            leaves = [p.detach().requires_grad_() for p in lone]
            grads = torch.autograd.grad(losses(leaves).sum(), leaves)
            updates, lone_state = alone.update(list(grads), lone_state, lone, one)
            lone = [p + u for p, u in zip(lone, updates)]
        for ours, theirs in zip(params, lone):
            torch.testing.assert_close(ours[k:k + 1], theirs, rtol=1e-12, atol=1e-14)
        rate = lone_state.get("lr", one["lr"])
        torch.testing.assert_close(state["lr"][k:k + 1], rate, rtol=1e-12, atol=0)
        expected = alone.eval_params(lone_state, lone) if alone.eval_params else lone
        for ours, theirs in zip(evals, expected):
            torch.testing.assert_close(ours[k:k + 1], theirs, rtol=1e-12, atol=1e-14)


def test_rule_trajectory_helper_agrees() -> None:
    """The mixed rule also runs through the shared trajectory helper (no state leaks)."""
    rule = mixed([RULES["sgd"], RULES["adam"]], [1, 0])
    x, y = data()
    start = [p.detach().unsqueeze(0).repeat(2, *[1] * p.dim()) for p in mlp().parameters()]
    *_, last = rule_trajectory(rule, start, _hp([("adam", 0.01), ("sgd", 0.1)],
                                                list(rule.defaults)),
                               lambda ps: stacked_mlp_losses(ps, x, y), 5)
    assert not torch.equal(last[0][0], last[0][1])


@pytest.mark.parametrize("rules, assignment", [([RULES["sgd"]], [0, 0]),
                                               ([RULES["sgd"], RULES["adam"]], [0, 0]),
                                               ([RULES["sgd"], RULES["adam"]], [])])
def test_bad_mixes_are_one_line(rules, assignment) -> None:
    with pytest.raises(LrlabError, match="two or more rules") as err:
        mixed(rules, assignment)
    assert "\n" not in str(err.value)


def test_a_race_in_one_population_equals_separate_fits() -> None:
    """fit() with members of their own rules: each member's records equal a fit of that
    member alone (float64), and the members table names each member's rule."""
    task = get_task("blobs")
    members = [Member(lr=0.3, optimizer="momentum", label="momentum"),
               Member(lr=1.0, optimizer="prodigy", label="prodigy"),
               Member(lr=0.02, optimizer="sf_adamw", label="sf_adamw")]
    config = validated(lrs=[1.0], epochs=2, dtype="float64", batch_size=128)
    race = fit(task, members, config)
    assert race.members["optimizer"].tolist() == ["momentum", "prodigy", "sf_adamw"]
    assert pd.isna(race.members.loc[0, "d0"]) and race.members.loc[1, "d0"] == 1e-6
    for k, member in enumerate(members):
        alone = fit(task, [member], config)
        ours = race.records[(race.records["member"] == k) & (race.records["metric"] != "time")]
        theirs = alone.records[alone.records["metric"] != "time"]
        torch.testing.assert_close(torch.tensor(ours["value"].to_numpy()),
                                   torch.tensor(theirs["value"].to_numpy()),
                                   rtol=1e-9, atol=1e-12, equal_nan=True)


def test_a_race_resumes_from_its_checkpoint_bytes() -> None:
    """The mixed rule's nested state (Prodigy's estimate, Schedule-Free's average) survives a
    checkpoint's bytes: resumed after epoch 1, the records equal an uninterrupted run."""
    from helpers import no_time

    from lrlab.train import Checkpoint

    task = get_task("blobs")
    members = [Member(lr=1.0, optimizer="prodigy"), Member(lr=0.02, optimizer="sf_adamw")]
    config = validated(lrs=[1.0], epochs=2, batch_size=128)
    saved = []
    whole = fit(task, members, config, checkpoint_every=1, on_checkpoint=saved.append)
    again = fit(task, members, config,
                resume=Checkpoint.from_bytes(saved[0].to_bytes()))
    pd.testing.assert_frame_equal(no_time(again.records), no_time(whole.records))

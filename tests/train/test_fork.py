"""Forking a checkpoint along the member axis: the forked fit equals fits from scratch."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import no_time

from lrlab import LrlabError
from lrlab.tasks import get_task
from lrlab.train import Member, fit, fork, validated


def test_forked_members_equal_runs_from_scratch() -> None:
    """Two seeds share 2 epochs at a constant rate (Adam: its moments are forked too), then
    fork into constant and two cooldowns each; every record equals a fit from scratch."""
    task = get_task("blobs")
    shared = {"lrs": [0.05], "optimizer": "adam", "seeds": [0, 1], "record_steps": True,
              "batch_size": 128}
    saved = []
    fit(task, validated(epochs=2, **shared).members(), validated(epochs=2, **shared),
        on_checkpoint=saved.append)
    config = validated(epochs=4, schedules=["constant", "wsd:cooldown=2",
                                            "wsd:cooldown=1.5,shape=1-sqrt"], **shared)
    members = config.members()
    source = [[0, 1].index(m.seed) for m in members]
    forked = fit(task, members, config, resume=fork(saved[-1], source, task, members, config))
    scratch = fit(task, members, config)
    pd.testing.assert_frame_equal(no_time(forked.records), no_time(scratch.records))
    pd.testing.assert_frame_equal(forked.steps, scratch.steps)
    assert forked.records["epoch"].min() == 1  # the shared epochs are every member's too


@pytest.mark.parametrize("source, words", [([0, 1], "one source member"),
                                           ([0], "one source member"),
                                           ([-1, 0], "one source member")])
def test_bad_sources_are_one_line(source: list[int], words: str) -> None:
    task = get_task("blobs")
    saved = []
    fit(task, [Member(lr=0.1)], validated(lrs=[0.1], epochs=1), on_checkpoint=saved.append)
    config = validated(lrs=[0.1], epochs=2, schedules=["constant", "cosine"])
    with pytest.raises(LrlabError, match=words) as err:
        fork(saved[-1], source, task, config.members(), config)
    assert "\n" not in str(err.value)
    short = validated(lrs=[0.1], epochs=1, schedules=["constant", "cosine"])
    with pytest.raises(LrlabError, match="fork into a longer run"):
        fork(saved[-1], [0, 0], task, short.members(), short)

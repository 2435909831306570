"""Members in chunks, trained here one chunk after another: the merged result and the
per-epoch reports equal one population's; checkpoints and resume work per chunk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import no_time

from lrlab._errors import LrlabError
from lrlab.executors import Chunk, LocalExecutor, get_executor, split_members
from lrlab.train import EpochReport, fit, validated

# a member diverging at once (lr 50), two seeds (each chunk draws its own example orders),
# per-step records: everything a merge must put back in place
SETTINGS = {"lrs": [50.0, 0.5, 0.05, 0.005], "seeds": [0, 1], "epochs": 3,
            "record_steps": True}


def assert_same_tables(a, b, *, exact: bool) -> None:
    """Records (but ``time``), members and steps: same rows in the same order and dtypes;
    values bit for bit, or to float32 rounding."""
    tol = {"check_exact": True} if exact else {"rtol": 1e-6, "atol": 1e-7}
    pd.testing.assert_frame_equal(no_time(a.records), no_time(b.records), **tol)
    pd.testing.assert_frame_equal(a.members, b.members, check_exact=True)
    pd.testing.assert_frame_equal(a.steps, b.steps, **tol)


@pytest.fixture(scope="module")
def whole(blobs):
    """One population of all eight members, and its per-epoch reports."""
    config = validated(**SETTINGS)
    reports: list[EpochReport] = []
    return fit(blobs, config.members(), config, callbacks=[reports.append]), reports


def test_split_members_into_contiguous_chunks() -> None:
    chunks = split_members(7, 3)
    assert [(c.index, c.start, c.stop) for c in chunks] == [(0, 0, 3), (1, 3, 6), (2, 6, 7)]
    assert [len(c) for c in chunks] == [3, 3, 1]
    assert chunks[2].label() == "chunk 2 (member 6)"
    assert chunks[0].label() == "chunk 0 (members 0-2)"
    assert split_members(7, None) == [Chunk(0, 0, 7)]
    assert split_members(2, 5) == [Chunk(0, 0, 2)]


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_members_per_task_must_be_a_whole_number(bad) -> None:
    with pytest.raises(LrlabError, match=r"^members_per_task must be a whole number") as err:
        LocalExecutor(members_per_task=bad)  # its own argument's name, not a CLI flag
    assert "\n" not in str(err.value)


def test_chunks_merge_into_the_one_population_run(blobs, whole) -> None:
    """Three chunks (3, 3, 2 members) give the tables of one population of 8, in its row
    order, member numbers and dtypes; each whole-epoch report equals the population's.

    Members never mix, so each member's numbers do not depend on its neighbours; they are
    equal here to the last bit, but a population's size may select other matmul kernels,
    so values are compared to float32 rounding (members tables exactly)."""
    result, reports = whole
    config = validated(**SETTINGS)
    merged_reports: list[EpochReport] = []
    merged = LocalExecutor(members_per_task=3).run(blobs, config.members(), config,
                                                   callbacks=[merged_reports.append])
    assert result.members["diverged"].tolist() == [True, True] + [False] * 6
    assert_same_tables(result, merged, exact=False)
    assert merged.population is None  # the populations stayed with their chunks
    assert [r.epoch for r in merged_reports] == [1, 2, 3]
    for a, b in zip(reports, merged_reports):
        assert (a.epoch, a.epochs, a.members) == (b.epoch, b.epochs, b.members)
        pd.testing.assert_frame_equal(no_time(a.records), no_time(b.records), rtol=1e-6,
                                      atol=1e-7)
        pd.testing.assert_frame_equal(a.steps, b.steps, rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(a.alive, b.alive)
        np.testing.assert_array_equal(a.diverged_step, b.diverged_step)
        assert a.val.keys() == b.val.keys()
        for name in a.val:
            np.testing.assert_allclose(a.val[name], b.val[name], rtol=1e-6, atol=1e-7)


def test_members_table_of_chunks_with_and_without_layerwise_rates(blobs) -> None:
    """A chunk of uniform-rate members alone has no ``lr_mult`` column; merged, the members
    table is the one population's, "uniform" included."""
    config = validated(lrs=[0.5, 0.05], lr_mults=[{}, {"2.*": 10}], epochs=1)
    whole = fit(blobs, config.members(), config)
    merged = LocalExecutor(members_per_task=1).run(blobs, config.members(), config)
    assert whole.members["lr_mult"].tolist() == ["uniform", "2.*=10"] * 2
    pd.testing.assert_frame_equal(whole.members, merged.members, check_exact=True)
    pd.testing.assert_frame_equal(no_time(whole.records), no_time(merged.records), rtol=1e-6,
                                  atol=1e-7)


def test_one_chunk_is_exactly_fit(blobs, whole) -> None:
    """The default local executor is fit: the same tables, bit for bit."""
    config = validated(**SETTINGS)
    result = LocalExecutor().run(blobs, config.members(), config)
    assert_same_tables(whole[0], result, exact=True)
    assert result.population is not None


def test_checkpoints_per_chunk_and_resume_from_some(blobs) -> None:
    """Each chunk checkpoints on its own (its fingerprint names its members); resuming
    from chunk 0's epoch-2 checkpoint (chunk 1 starting over) ends with the records of a
    run never interrupted, and the callbacks see only the epochs after the checkpoint."""
    config = validated(lrs=[0.5, 0.05, 0.005], epochs=3)
    executor = LocalExecutor(members_per_task=2)
    taken = []
    full = executor.run(blobs, config.members(), config, checkpoint_every=2,
                        on_checkpoint=taken.append)
    assert [c.epoch for c in taken] == [2, 3, 2, 3]  # chunk 0, then chunk 1
    assert taken[0].fingerprint == taken[1].fingerprint != taken[2].fingerprint
    reports: list[EpochReport] = []
    resumed = executor.run(blobs, config.members(), config, resume=[taken[0]],
                           callbacks=[reports.append])
    pd.testing.assert_frame_equal(no_time(full.records), no_time(resumed.records),
                                  check_exact=True)
    assert [r.epoch for r in reports] == [3]
    assert sorted(reports[0].records["member"].unique().tolist()) == [0, 1, 2]


def test_a_checkpoint_of_other_chunks_is_refused(blobs) -> None:
    config = validated(lrs=[0.5, 0.05, 0.005], epochs=1)
    taken = []
    LocalExecutor().run(blobs, config.members(), config, on_checkpoint=taken.append)
    with pytest.raises(LrlabError, match="matches none of the chunks"):
        LocalExecutor(members_per_task=2).run(blobs, config.members(), config, resume=taken)


def test_get_executor_checks_its_options() -> None:
    assert isinstance(get_executor("local", members_per_task=2), LocalExecutor)
    with pytest.raises(LrlabError, match="--executor ray"):
        get_executor("local", address="10.0.0.5:6379")
    with pytest.raises(LrlabError, match="unknown executor"):
        get_executor("dask")  # type: ignore[arg-type]

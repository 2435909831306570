"""The Ray executor against the local one, on an in-process Ray (2 CPUs, loopback only):
the same records, a killed worker retried from its checkpoint, errors in one line.

Ray and local runs are compared bit for bit (all metrics but ``time``): both train the same
chunks (``members_per_task``) with the same code on the same CPU, with one torch thread
(the suite's ``one_thread`` fixture here, ``cpus_per_task=1`` in the Ray task), so every
operation runs the same kernels in the same order. (Against one population of every member
the values agree to float32 rounding: see ``test_chunks.py``.)
"""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import no_time

from lrlab._errors import LrlabError
from lrlab._testing import EXIT_AFTER_ENV
from lrlab.executors import LocalExecutor, RayExecutor, check_address
from lrlab.train import EpochReport, validated

# a member diverging at once beside four that train; per-step records too
SETTINGS = {"lrs": [50.0, 0.5, 0.05, 0.005, 0.0005], "epochs": 4, "record_steps": True}
PER_TASK = 3  # chunks of members 0-2 and 3-4


def assert_same_run(a, b) -> None:
    pd.testing.assert_frame_equal(no_time(a.records), no_time(b.records), check_exact=True)
    pd.testing.assert_frame_equal(a.members, b.members, check_exact=True)
    pd.testing.assert_frame_equal(a.steps, b.steps, check_exact=True)


@pytest.fixture(scope="module")
def local(blobs):
    """The local run in the same chunks: its result, per-epoch reports and checkpoints."""
    config = validated(**SETTINGS)
    reports: list[EpochReport] = []
    taken = []
    result = LocalExecutor(members_per_task=PER_TASK).run(
        blobs, config.members(), config, callbacks=[reports.append], checkpoint_every=2,
        on_checkpoint=taken.append)
    return result, reports, taken


def test_ray_runs_on_loopback_only(ray_session) -> None:
    ray = ray_session
    address = ray.get_runtime_context().gcs_address
    assert address.rsplit(":", 1)[0] == "127.0.0.1"
    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}
    check_address(address)  # the probe accepts a real Ray head


def test_by_default_the_members_are_spread_over_the_task_slots(ray_session) -> None:
    """Two CPUs, one per task: five members in chunks of 3 and 2; a given size is kept."""
    assert [(c.start, c.stop) for c in RayExecutor().plan(5)] == [(0, 3), (3, 5)]
    assert [(c.start, c.stop) for c in RayExecutor(members_per_task=4).plan(5)] == [(0, 4),
                                                                                    (4, 5)]
    assert [(c.start, c.stop) for c in RayExecutor(cpus_per_task=2).plan(3)] == [(0, 3)]


def test_ray_gives_the_local_records(ray_session, blobs, local) -> None:
    """Same tables bit for bit; the driver's callbacks get each whole epoch once, in
    order; every chunk's checkpoints reach the driver (same epochs and fingerprints)."""
    config = validated(**SETTINGS)
    reports: list[EpochReport] = []
    taken = []
    result = RayExecutor(members_per_task=PER_TASK).run(
        blobs, config.members(), config, callbacks=[reports.append], checkpoint_every=2,
        on_checkpoint=taken.append)
    expected, local_reports, local_taken = local
    assert_same_run(expected, result)
    assert result.members["diverged"].tolist() == [True, False, False, False, False]
    assert [r.epoch for r in reports] == [1, 2, 3, 4]
    for a, b in zip(local_reports, reports):
        assert b.members == 5
        pd.testing.assert_frame_equal(no_time(a.records), no_time(b.records), check_exact=True)
        pd.testing.assert_frame_equal(a.steps, b.steps, check_exact=True)
    # chunks report in any order; each chunk's own checkpoints come in order
    assert sorted((c.fingerprint, c.epoch) for c in taken) == sorted(
        (c.fingerprint, c.epoch) for c in local_taken)
    assert len({c.fingerprint for c in taken}) == 2


def test_bad_input_inside_the_task_is_one_line(ray_session, blobs) -> None:
    """An LrlabError raised by fit in the worker reaches the caller as itself, unretried."""
    config = validated(lrs=[0.1], epochs=1, device="cuda:7")
    with pytest.raises(LrlabError, match="device 'cuda:7' is not available here") as err:
        RayExecutor().run(blobs, config.members(), config)
    assert "\n" not in str(err.value)


def test_another_cluster_than_the_connected_one_is_refused(ray_session) -> None:
    port = ray_session.get_runtime_context().gcs_address.rsplit(":", 1)[1]
    with pytest.raises(LrlabError, match="already connected to Ray at 127.0.0.1:"):
        RayExecutor(f"localhost:{port}").connect()


def test_a_killed_worker_is_retried_from_its_last_checkpoint(ray_session, blobs, local,
                                                              monkeypatch) -> None:
    """Chunk 0's first worker exits hard after epoch 3; the chunk is submitted again from
    its epoch-2 checkpoint (chunk 1 trains on undisturbed) and the study ends with the
    records of the local run, every epoch reported once."""
    monkeypatch.setenv(EXIT_AFTER_ENV, "3")
    config = validated(**SETTINGS)
    reports: list[EpochReport] = []
    with pytest.warns(RuntimeWarning) as caught:
        result = RayExecutor(members_per_task=PER_TASK).run(
            blobs, config.members(), config, callbacks=[reports.append], checkpoint_every=2)
    assert [str(w.message) for w in caught] == [
        ("lrlab: chunk 0 (members 0-2) lost its worker (WorkerCrashedError); retry 1 of 3 "
         "resumes from its checkpoint after epoch 2")]
    assert_same_run(local[0], result)
    assert [r.epoch for r in reports] == [1, 2, 3, 4]


def test_a_chunk_failing_too_often_ends_the_run(ray_session, blobs, monkeypatch) -> None:
    """No retries left: one line naming the chunk; the other chunk's task is cancelled."""
    monkeypatch.setenv(EXIT_AFTER_ENV, "1")
    config = validated(lrs=[0.1, 0.01], epochs=2)
    with pytest.raises(LrlabError, match=r"^chunk 0 \(member 0\) lost its worker \(.*\) with "
                                         r"no retries left \(max_retries=0\); check the") as err:
        RayExecutor(members_per_task=1, max_retries=0).run(blobs, config.members(), config)
    assert "\n" not in str(err.value)

"""Crash safety: ``lrlab sweep`` in a child process killed with SIGKILL at a point of its
run (mid-epoch, mid-commit, mid-checkpoint), then ``lrlab resume``: the records equal those
of a run never killed (``time`` aside), no epoch missing or twice. And two processes writing
one database at once leave it whole, each study complete.

The children are forked from the test process (the command line's ``main`` with its own
argv), so they skip the seconds of importing torch; ``tests/cli`` runs the installed
command in a fresh interpreter.

The kill points come from the test hook :func:`lrlab._testing.kill_point`
(``LRLAB_TEST_KILL_AT=NAME:EPOCH``). ``benchmarks/crash_resume.py`` runs the same check over
many more points.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import warnings

import pandas as pd
import pytest
from helpers import no_time

from lrlab.cli import main
from lrlab.store import Store, load_result

#: 3 members (one diverges in epoch 1), 5 epochs, checkpoints after epochs 2, 4 and 5.
SWEEP = ["sweep", "blobs", "--lrs", "0.1,0.01,50", "--epochs", "5", "--checkpoint-every", "2",
         "-q", "--study", "s"]
#: Where each kill lands, and what the store holds then: (epochs committed, checkpoint epoch).
KILLS = {"epoch:3": (2, 2), "commit:3": (2, 2), "checkpoint:4": (4, 2)}


def _child(argv: list[str], kill: str | None = None) -> multiprocessing.Process:
    """``lrlab argv`` in a child process, forked (torch and lrlab are imported already, so
    it starts at once), told to SIGKILL itself at ``kill`` when given."""
    def run() -> None:
        os.environ.pop("LRLAB_TEST_KILL_AT", None)
        if kill is not None:
            os.environ["LRLAB_TEST_KILL_AT"] = kill
        os._exit(main(argv))  # not reached when the kill point is

    proc = multiprocessing.get_context("fork").Process(target=run)
    with warnings.catch_warnings():  # Python >= 3.12 warns about forking with threads
        warnings.simplefilter("ignore", DeprecationWarning)
        proc.start()
    return proc


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """The reference run here; then, all at once, one killed sweep per kill point and two
    sweeps writing one fresh database side by side (a checkpoint every epoch)."""
    folder = tmp_path_factory.mktemp("crash")
    assert main([*SWEEP, "--db", str(folder / "reference.db")]) == 0  # warms the children up
    shared = folder / "shared.db"
    at = SWEEP.index("--checkpoint-every") + 1
    every_epoch = [*SWEEP[:at], "1", *SWEEP[at + 1:-2]]  # no --study; each names its own
    together = [_child([*every_epoch, "--db", str(shared)]) for _ in range(2)]
    killed = {point: _child([*SWEEP, "--db", str(folder / f"{point}.db")], kill=point)
              for point in KILLS}
    for proc in [*together, *killed.values()]:
        proc.join(timeout=300)
    return {"folder": folder, "killed": {p: proc.exitcode for p, proc in killed.items()},
            "together": [proc.exitcode for proc in together], "shared": shared,
            "reference": load_result(folder / "reference.db", "s")}


def _same_records(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(no_time(got), no_time(want), check_exact=True)
    assert not got.duplicated(["member", "epoch", "split", "metric"]).any()


@pytest.mark.parametrize("point", list(KILLS))
def test_killed_then_resumed_equals_uninterrupted(capsys, runs, point: str) -> None:
    assert runs["killed"][point] == -signal.SIGKILL
    db = runs["folder"] / f"{point}.db"
    committed, checkpoint = KILLS[point]
    with Store(db, create=False) as store:
        info = store.info("s")
        assert (info.epochs_done, info.checkpoint_epoch, info.state) == (
            committed, checkpoint, "interrupted")
        partial = store.result("s").records
    assert sorted(set(partial["epoch"])) == list(range(1, committed + 1))
    assert main(["resume", "s", "--db", str(db), "-q"]) == 0, capsys.readouterr().err
    result, reference = load_result(db, "s"), runs["reference"]
    _same_records(result.records, reference.records)
    pd.testing.assert_frame_equal(result.members, reference.members)
    alive = result.records[result.records["member"] != 2]  # lr=50 stops at epoch 1
    assert alive.groupby("member")["epoch"].unique().map(sorted).tolist() == [[1, 2, 3, 4, 5]] * 2


def test_two_processes_write_one_database(runs) -> None:
    """Both finish; the file passes SQLite's integrity check; two studies with distinct
    names, each with the records of the reference run."""
    assert runs["together"] == [0, 0]
    conn = sqlite3.connect(runs["shared"])
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    with Store(runs["shared"], create=False) as store:
        studies = store.studies()
        assert sorted(studies["name"]) == ["sweep-1", "sweep-2"]
        assert studies["state"].tolist() == ["done", "done"]
        for name in studies["name"]:
            _same_records(store.result(name).records, runs["reference"].records)

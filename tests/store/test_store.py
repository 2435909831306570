"""The store: what goes in comes back out equal; files that are not lrlab databases of this
version are refused with one line and left byte for byte as they were."""

from __future__ import annotations

import math
import sqlite3
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import Stream, no_time, sqlite_exec

from lrlab._errors import LrlabError
from lrlab.store import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    Store,
    load_result,
    resume_study,
    run_study,
)
from lrlab.tasks import Split, Task, get_task
from lrlab.train import fit, validated


@pytest.fixture(scope="module")
def stored(tmp_path_factory, blobs):
    """A database with one finished study (a member diverging, per-step records)."""
    db = tmp_path_factory.mktemp("db") / "lrlab.db"
    config = validated(lrs=[0.1, 0.01, 50.0], epochs=3, record_steps=True)
    with Store(db) as store:
        name, result = run_study(store, blobs, config, checkpoint_every=2)
    return db, name, result


def test_result_comes_back_equal(stored) -> None:
    """load_result gives the tables fit returned: records (dtypes, order, NaN), members
    (divergence), per-step records and settings."""
    db, name, result = stored
    back = load_result(db, name)
    pd.testing.assert_frame_equal(back.records, result.records, check_exact=True)
    pd.testing.assert_frame_equal(back.members, result.members, check_exact=True)
    pd.testing.assert_frame_equal(back.steps, result.steps, check_exact=True)
    assert back.config == result.config
    assert (back.task, back.monitor, back.higher_is_better) == (
        result.task, result.monitor, result.higher_is_better)
    assert back.verdict() == result.verdict()
    assert result.steps["value"].isna().any()  # a frozen member's NaN grad norms went through


def test_database_header_and_rows(stored) -> None:
    """application_id and user_version mark the file; WAL mode; one row per member, one
    checkpoint kept (the last), one record row per tidy row and per step row."""
    db, _name, result = stored
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM members").fetchone()[0] == 3
        assert conn.execute("SELECT epoch FROM checkpoints").fetchall() == [(3,)]
        n = conn.execute("SELECT count(*) FROM records WHERE step IS NULL").fetchone()[0]
        assert n == len(result.records)
        n = conn.execute("SELECT count(*) FROM records WHERE step IS NOT NULL").fetchone()[0]
        assert n == len(result.steps)
    finally:
        conn.close()


def test_studies_listing_and_names(tmp_path: Path, blobs) -> None:
    """Names COMMAND-N by default; a name taken is refused before training; ls lists all."""
    db = tmp_path / "s.db"
    config = validated(lrs=[0.1], epochs=1)
    with Store(db) as store:
        assert store.studies().empty
        first, _ = run_study(store, blobs, config)
        second, _ = run_study(store, blobs, config, name="mine", command="train")
        with pytest.raises(LrlabError, match="already exists"):
            run_study(store, blobs, config, name="mine")
        table = store.studies()
        third, _ = run_study(store, blobs, config)
    assert (first, second, third) == ("sweep-1", "mine", "sweep-3")
    assert table["name"].tolist() == ["sweep-1", "mine"]
    assert table["state"].tolist() == ["done", "done"]
    assert table["command"].tolist() == ["sweep", "train"]


def test_resume_in_process_after_a_failure(tmp_path: Path, blobs) -> None:
    """A fit stopped by an exception after epoch 3 (checkpoint at 2): resume drops epoch 3's
    records and ends with the records of a run never stopped."""
    config = validated(lrs=[0.1, 0.01], epochs=5)
    reference = fit(blobs, config.members(), config)

    def stop(report) -> None:
        if report.epoch == 3:
            raise KeyboardInterrupt

    db = tmp_path / "r.db"
    with Store(db) as store:
        with pytest.raises(KeyboardInterrupt):
            run_study(store, blobs, config, name="cut", checkpoint_every=2, callbacks=[stop])
        assert store.info("cut").epochs_done == 3 and store.info("cut").status == "running"
        assert store.info("cut").checkpoint_epoch == 2
        assert [c.epoch for c in store.checkpoints("cut")] == [2]
        resumed = resume_study(store, "cut", blobs, checkpoint_every=2)
        back = store.result("cut")
        assert store.info("cut").state == "done"
        with pytest.raises(LrlabError, match="is done"):
            resume_study(store, "cut", blobs)
    for r in (resumed, back):
        a, b = no_time(r.records), no_time(reference.records)
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert not back.records.duplicated(["member", "epoch", "split", "metric"]).any()


def _interrupted(db: Path, blobs, config) -> None:
    """A study ``cut`` stopped after epoch 3 of 5, its checkpoint at epoch 2."""
    def stop(report) -> None:
        if report.epoch == 3:
            raise KeyboardInterrupt

    with Store(db) as store, pytest.raises(KeyboardInterrupt):
        run_study(store, blobs, config, name="cut", checkpoint_every=2, callbacks=[stop])


def test_a_checkpoint_over_sqlites_value_limit_is_kept_in_pieces(
        tmp_path: Path, blobs, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite refuses a value longer than its length limit (about 1 GB by default, which a
    population of a real network passes): a checkpoint goes in pieces under it, and a resume
    from them equals a run never stopped. Here the limit is 12 KiB, a piece 4 KiB and a
    checkpoint 17 to 30 KiB."""
    from lrlab.store import _schema

    limit = 12 * 1024
    monkeypatch.setattr(_schema, "PIECE_BYTES", 4 * 1024)
    config = validated(lrs=[0.1, 0.01], epochs=5)
    reference = fit(blobs, config.members(), config)
    db = tmp_path / "p.db"
    _interrupted(db, blobs, config)
    whole, pieces, largest = sqlite3.connect(db).execute(
        "SELECT sum(length(data)), count(*), max(length(data)) FROM checkpoints").fetchone()
    assert whole > limit and pieces > 1 and largest <= 4 * 1024
    with Store(db) as store:
        store._conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limit)
        with pytest.raises(sqlite3.DataError):  # what one row of a whole checkpoint meets
            store._conn.execute("SELECT zeroblob(?)", (whole,))
        resume_study(store, "cut", blobs, checkpoint_every=2)
        back = store.result("cut")
    pd.testing.assert_frame_equal(no_time(back.records), no_time(reference.records),
                                  check_exact=True)


#: What version 3 added: the columns the majority-class verdict reads.
_WITHOUT_VERSION_3 = ("ALTER TABLE studies DROP COLUMN chance",
                      "ALTER TABLE studies DROP COLUMN val_examples",
                      "ALTER TABLE studies DROP COLUMN noise_examples")  # and version 4's


def _skewed_study(db: Path):
    """A classifier on 10% positives stored as the study "old" in ``db``: the task, its
    validation labels, the config and the result."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(300, 4, generator=g), (torch.rand(300, generator=g) < 0.1).long()
    task = Task("skewed", Split(x[:200], y[:200]), Split(x[200:], y[200:]),
                lambda: torch.nn.Linear(4, 2), num_classes=2, batch_size=50)
    config = validated(lrs=[0.1, 0.01], epochs=2)
    with Store(db) as store:
        _, result = run_study(store, task, config, name="old")
    return task, y[200:], config, result


def test_a_version_2_database_is_migrated(tmp_path: Path) -> None:
    """A version-2 database (no chance, no val_examples) gains both columns on opening, with
    one warning; its study reads back with chance unknown, and a study stored after the
    upgrade keeps what the verdict needs."""
    db = tmp_path / "v2.db"
    task, yv, config, _ = _skewed_study(db)
    sqlite_exec(db, *_WITHOUT_VERSION_3, "PRAGMA user_version = 2")
    with pytest.warns(UserWarning, match=f"from schema version 2 to {SCHEMA_VERSION}"):
        store = Store(db)
    with store:
        old = store.result("old")
        assert math.isnan(old.chance) and old.val_examples == 0
        run_study(store, task, config, name="new")
        new = store.result("new")
    share = float((yv == 0).float().mean())
    assert new.chance == pytest.approx(share) and new.val_examples == 100
    assert new.verdict() == fit(task, config.members(), config).verdict()


def test_a_version_3_database_keeps_what_its_verdict_read(tmp_path: Path) -> None:
    """Schema 3 -> 4 adds one column (noise_examples) and loses nothing: a study stored
    before it comes back with its chance level, validation examples and records as they
    were, and its verdict unchanged; the new column reads as not known (nan). The older
    databases' tests start below version 3, without those columns, so only this one sees
    them kept."""
    db = tmp_path / "v3.db"
    _, _, _, ran = _skewed_study(db)
    sqlite_exec(db, "ALTER TABLE studies DROP COLUMN noise_examples", "PRAGMA user_version = 3")
    with pytest.warns(UserWarning, match=f"from schema version 3 to {SCHEMA_VERSION}"):
        store = Store(db)
    with store:
        old = store.result("old")
    assert math.isfinite(ran.chance) and old.chance == ran.chance
    assert old.val_examples == ran.val_examples == 100 and math.isnan(old.noise_examples)
    assert old.verdict() == ran.verdict()
    pd.testing.assert_frame_equal(no_time(old.records), no_time(ran.records), check_exact=True)


def test_a_version_1_database_is_migrated_and_resumes(tmp_path: Path, blobs) -> None:
    """A database of schema version 1 (one row per checkpoint) is upgraded on opening, with
    one warning, and its interrupted study resumes to the records of a run never stopped."""
    config = validated(lrs=[0.1, 0.01], epochs=5)
    reference = fit(blobs, config.members(), config)
    db = tmp_path / "v1.db"
    _interrupted(db, blobs, config)
    sqlite_exec(db, "CREATE TABLE old (study INTEGER NOT NULL REFERENCES studies(id) ON DELETE "
                "CASCADE, part TEXT NOT NULL, epoch INTEGER NOT NULL, created TEXT NOT NULL, "
                "data BLOB NOT NULL, PRIMARY KEY (study, part, epoch))",
                "INSERT INTO old SELECT study, part, epoch, created, data FROM checkpoints",
                "DROP TABLE checkpoints", "ALTER TABLE old RENAME TO checkpoints",
                *_WITHOUT_VERSION_3, "PRAGMA user_version = 1")
    with pytest.warns(UserWarning, match=f"migrated .* from schema version 1 to {SCHEMA_VERSION}"):
        store = Store(db)
    with store:
        assert [c.epoch for c in store.checkpoints("cut")] == [2]
        resume_study(store, "cut", blobs, checkpoint_every=2)
        back = store.result("cut")
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    pd.testing.assert_frame_equal(no_time(back.records), no_time(reference.records),
                                  check_exact=True)


def test_chunked_study_resumes_each_chunk(tmp_path: Path, blobs) -> None:
    """Trained in chunks of 2 by an executor: each chunk's checkpoints are kept (by its
    fingerprint); stopped after epoch 3, resumed with the same chunks (a local executor,
    chosen from the stored chunks), the records are those of the same chunks never
    stopped."""
    from lrlab.executors import LocalExecutor

    config = validated(lrs=[0.1, 0.01, 50.0], epochs=4)
    reference = LocalExecutor(members_per_task=2).run(blobs, config.members(), config)

    def stop(report) -> None:
        if report.epoch == 3:
            raise KeyboardInterrupt

    with Store(tmp_path / "c.db") as store:
        with pytest.raises(KeyboardInterrupt):
            run_study(store, blobs, config, name="c", checkpoint_every=2, callbacks=[stop],
                      executor=LocalExecutor(members_per_task=2))
        info = store.info("c")
        assert [(a, b) for a, b, _ in info.parts] == [(0, 2), (2, 3)]
        assert info.checkpoint_epoch == 2
        saved = store.checkpoints("c")
        assert [c.fingerprint for c in saved] == [f for _, _, f in info.parts]
        resume_study(store, "c", blobs, checkpoint_every=2)
        back = store.result("c")
    a, b = no_time(back.records), no_time(reference.records)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    pd.testing.assert_frame_equal(back.members, reference.members)


def test_schedules_are_stored_as_written(tmp_path: Path, blobs) -> None:
    """Members hold their schedules parsed; the settings, the members and the result's
    table keep each as its text, which reads back to the same members."""
    texts = ["constant", " Cosine : warmup = 1", "plateau:patience=0,monitor=accuracy"]
    config = validated(lrs=[0.1], epochs=2, schedules=texts)
    with Store(tmp_path / "s.db") as store:
        name, result = run_study(store, blobs, config)
        back, info = store.members(name), store.info(name)
    assert back == config.members() and [m.schedule.text for m in back] == texts
    assert info.config["schedules"] == texts and result.members["schedule"].tolist() == texts
    assert back[2].schedule.follows_metric and back[2].schedule.monitor == "accuracy"


def test_a_study_chunked_for_memory_is_planned_once(tmp_path: Path, blobs) -> None:
    """A memory limit that holds one member, not three: the study records the chunks it
    trains in and trains them, planned once, so the chunking warning comes once."""
    from lrlab.executors import LocalExecutor
    from lrlab.train import estimate_memory

    config = validated(lrs=[0.1, 0.01, 0.001], epochs=1)
    estimate = estimate_memory(blobs, config, config.members()[:1])
    limit = estimate.total(1) + estimate.per_member // 2  # room for one member, not two
    with Store(tmp_path / "m.db") as store:
        with pytest.warns(UserWarning) as seen:
            run_study(store, blobs, config, name="m", executor=LocalExecutor(memory_limit=limit))
        parts = store.info("m").parts
    chunking = [w for w in seen if "training them in chunks of 1" in str(w.message)]
    assert len(chunking) == 1, [str(w.message) for w in seen]
    assert [(a, b) for a, b, _ in parts] == [(0, 1), (1, 2), (2, 3)]


def test_resume_refuses_another_task(tmp_path: Path, blobs) -> None:
    config = validated(lrs=[0.1], epochs=2)
    with Store(tmp_path / "t.db") as store:
        with pytest.raises(KeyboardInterrupt):
            run_study(store, blobs, config, name="x",
                      callbacks=[lambda r: (_ for _ in ()).throw(KeyboardInterrupt)])
        with pytest.raises(LrlabError, match="differs"):
            resume_study(store, "x", get_task("digits"))


def test_finished_results_stored_together(tmp_path: Path, blobs) -> None:
    """add_results (a search's stages): finished studies NAME.SUFFIX, equal on reading back."""
    config = validated(lrs=[0.1, 50.0], epochs=2)
    one = fit(blobs, config.members(), config)
    with Store(tmp_path / "a.db") as store:
        names = store.add_results([("stage1", one), ("confirm", one)], command="grid",
                                  task_spec={"name": "blobs"})
        assert names == ["grid-1.stage1", "grid-1.confirm"]
        back = store.result("grid-1.stage1")
        assert store.info("grid-1.confirm").state == "done"
    pd.testing.assert_frame_equal(back.records, one.records, check_exact=True)
    pd.testing.assert_frame_equal(back.members, one.members, check_exact=True)


# --- files that are not lrlab databases of this version ------------------------------------


def _lrlab_db(path: Path, blobs) -> Path:
    with Store(path) as store:
        run_study(store, blobs, validated(lrs=[0.1], epochs=1), name="s")
    return path


def _other_sqlite(path: Path) -> Path:
    return sqlite_exec(path, "CREATE TABLE notes (text TEXT)", "INSERT INTO notes VALUES ('mine')")


def _set_version(path: Path, version: int) -> Path:
    return sqlite_exec(path, f"PRAGMA user_version = {version}")


def _damage(path: Path) -> Path:
    """Overwrite the pages after the first with garbage (the header stays valid)."""
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    data[4096:] = rng.integers(0, 256, len(data) - 4096, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


BAD = {
    "text": (lambda p, t: (p.write_text("name,value\na,1\n"), p)[1], "not a SQLite file"),
    "other-program": (lambda p, t: _other_sqlite(p), "another program"),
    "newer": (lambda p, t: _set_version(_lrlab_db(p, t), SCHEMA_VERSION + 1), "newer"),
    "older": (lambda p, t: _set_version(_lrlab_db(p, t), 0), "older"),  # no migration from 0
    "damaged": (lambda p, t: _damage(_lrlab_db(p, t)), "damaged"),
}


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_files_refused_untouched(tmp_path: Path, blobs, kind: str) -> None:
    make, message = BAD[kind]
    path = make(tmp_path / f"{kind}.db", blobs)
    before = path.read_bytes()
    for create in (True, False):
        with pytest.raises(LrlabError, match=message) as err:
            Store(path, create=create)
        assert "\n" not in str(err.value)
    assert path.read_bytes() == before


def test_a_missing_or_damaged_database_from_python_names_the_keyword(tmp_path: Path) -> None:
    """``load_result`` says the database to give as Python writes it, ``db=PATH`` (it said
    "or give --db PATH", the command line's flag; the CLI says it so, tested there)."""
    for path, needle in ((tmp_path / "none.db", "no lrlab database"),
                         (tmp_path, "is a directory"),
                         ((tmp_path / "t.db", (tmp_path / "t.db").write_text("hi"))[0],
                          "not a SQLite file")):
        with pytest.raises(LrlabError) as err:
            load_result(path, "s")
        assert needle in str(err.value) and "db=PATH" in str(err.value)
        assert "--db" not in str(err.value)


def test_missing_and_unknown(tmp_path: Path, blobs) -> None:
    """Reading a database that does not exist creates nothing; an unknown study names the
    ones there are; neither changes a byte."""
    with pytest.raises(LrlabError, match="no lrlab database"):
        Store(tmp_path / "none.db", create=False)
    assert not (tmp_path / "none.db").exists()
    path = _lrlab_db(tmp_path / "u.db", blobs)
    before = path.read_bytes()
    with pytest.raises(LrlabError, match=r"no study 'nope'.*recent: s"):
        load_result(path, "nope")
    with pytest.raises(LrlabError, match=r"^study must be a study's name .*, got None$"):
        load_result(path, None)  # was a TypeError: "object of type 'NoneType' has no len()"
    assert path.read_bytes() == before


def test_a_streams_diverged_epoch_is_stored_as_each_epoch_ends(tmp_path: Path) -> None:
    """A stream's steps per epoch are known only once its first epoch ended: the epoch a
    member diverged in is stored from the fit's own count as the epochs end (before: the
    study's 0 steps per epoch, a NumPy 'divide by zero' warning each epoch and epoch 0 kept
    for a run cut short)."""
    from torch import nn

    task = Task.from_loaders(lambda: nn.Linear(5, 1), Stream(96, 0), Stream(32, 1),
                             loss=nn.MSELoss(), batch_size=16, epochs=3)
    config = validated(lrs=[0.01, 100.0], epochs=3)

    def stop(report) -> None:
        if report.epoch == 2:
            raise KeyboardInterrupt

    with Store(tmp_path / "s.db") as store, warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(KeyboardInterrupt):
            run_study(store, task, config, name="cut", callbacks=[stop])
        members = store.result("cut").members
    # 6 steps an epoch; 100 fails in the first, 0.01 not at all
    assert members["diverged_epoch"].fillna(-1).tolist() == [-1, 1]

"""``lrlab ls``, ``show``, ``resume``, ``export``, ``report STUDY``, ``--db`` on the commands
that train, the progress lines, and bad databases: one ``error:`` line, exit 2, untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from helpers import assert_bad_input, run, sqlite_exec

from lrlab.store import SCHEMA_VERSION, Store

SWEEP = ("sweep", "blobs", "--lrs", "0.1,50", "--epochs", "2")


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """One sweep stored as study "s" (a member diverging), and its --out folder beside."""
    from lrlab.cli import main

    folder = tmp_path_factory.mktemp("cli")
    path = folder / "studies.db"
    assert main([*SWEEP, "-q", "--db", str(path), "--study", "s",
                 "--out", str(folder / "out")]) == 0
    return path


def test_ls_and_show(capsys, db: Path) -> None:
    code, out, err = run(capsys, "ls", "--db", db)
    assert code == 0, err
    row = next(line for line in out.splitlines() if " s " in line)
    assert "blobs" in row and "2/2" in row and "done" in row and "epoch 2" in row
    code, out, err = run(capsys, "show", "s", "--db", db)
    assert code == 0, err
    assert out.startswith("study s (sweep): blobs, 2 members, sgd; epoch 2 of 2, done")
    assert "lr=0.1" in out and "best: lr=0.1 " in out


def test_export_writes_what_out_wrote(capsys, tmp_path: Path, db: Path) -> None:
    """export --format csv: the same files as sweep --out, the same values (time aside)."""
    out_dir = db.parent / "out"
    code, _, err = run(capsys, "export", "s", "--db", db, "--out", tmp_path / "e")
    assert code == 0, err
    assert {p.name for p in (tmp_path / "e").iterdir()} == {p.name for p in out_dir.iterdir()}
    for name in ("records.csv", "members.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "e" / name),
                                      pd.read_csv(out_dir / name))
    exported = json.loads((tmp_path / "e" / "summary.json").read_text())
    assert exported == json.loads((out_dir / "summary.json").read_text())
    code, _, err = run(capsys, "export", "s", "--db", db, "--out", tmp_path / "p",
                       "--format", "parquet")
    assert code == 0, err
    assert pd.read_parquet(tmp_path / "p" / "records.parquet").shape == pd.read_csv(
        out_dir / "records.csv").shape


def test_report_reads_a_study(capsys, db: Path) -> None:
    code, out, err = run(capsys, "report", "s", "--db", db)
    assert code == 0, err
    assert "lr=0.1" in out


def test_progress_lines_and_study_line(capsys, tmp_path: Path) -> None:
    """Not quiet, stderr not a terminal: a log line per epoch with members alive, diverged
    and the best validation metric so far, then where the study went; --quiet: nothing."""
    path = tmp_path / "p.db"
    code, _, err = run(capsys, *SWEEP, "--db", path)
    assert code == 0, err
    lines = err.splitlines()
    assert lines[0].startswith("blobs: epoch 1/2  alive 1/2  diverged 1  best val auc so far ")
    assert lines[1].startswith("blobs: epoch 2/2  alive 1/2  diverged 1  ")
    assert lines[-1] == f"study sweep-1 written to {path}"
    code, _, err = run(capsys, *SWEEP, "--db", path, "-q")
    assert code == 0 and err == ""


def test_grid_stores_its_populations(capsys, tmp_path: Path) -> None:
    """A search's populations become finished studies NAME.stage1, ..., NAME.confirm; the
    progress lines number the populations."""
    path = tmp_path / "g.db"
    code, _out, err = run(capsys, "grid", "blobs", "--lrs", "0.1,0.01", "--epochs", "2",
                         "--confirm", "--db", path, "--study", "g")
    assert code == 0, err
    assert "blobs (population 2): epoch 2/2" in err
    with Store(path, create=False) as store:
        studies = store.studies()
        assert studies["name"].tolist() == ["g.stage1", "g.confirm"]
        assert store.result("g.stage1").members["label"].tolist() == ["lr=0.1", "lr=0.01"]
    code, _, err = run(capsys, "resume", "g.stage1", "--db", path)  # a stored search stage
    assert "is done; nothing to resume" in assert_bad_input(code, err)
    # the search's own name (its --study) names its populations (was: "no study 'g'")
    for command in ("show", "report", "resume"):
        code, _, err = run(capsys, command, "g", "--db", path)
        assert assert_bad_input(code, err).endswith(
            "'g' is a search: each population it trained is a study, g.stage1, g.confirm; "
            "give one of them"), command


def test_export_of_a_study_without_records_writes_nothing(capsys, tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    from lrlab.tasks import get_task
    from lrlab.train import validated

    config = validated(lrs=[0.1], epochs=2)
    with Store(path) as store:  # a study that stopped in its first epoch: members, no rows
        store.create_study(get_task("blobs"), config, config.members(),
                           task_spec={"name": "blobs"}, name="e", steps_per_epoch=10,
                           epochs=2)
    code, _, err = run(capsys, "export", "e", "--db", path, "--out", tmp_path / "x")
    assert "has no records yet" in assert_bad_input(code, err)
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


def test_a_malformed_summary_is_one_error_line(capsys, tmp_path: Path, db: Path) -> None:
    import shutil

    folder = tmp_path / "bad"
    shutil.copytree(db.parent / "out", folder)
    (folder / "summary.json").write_text("[]")
    code, _, err = run(capsys, "report", folder, "--out", tmp_path / "r.html")
    assert "not an lrlab summary" in assert_bad_input(code, err)
    assert not (tmp_path / "r.html").exists()


def test_ctrl_c_names_the_study_and_the_command_that_continues_it(
        capsys, tmp_path: Path, monkeypatch, user_module: str) -> None:
    """Ctrl-C in epoch 2 (after epoch 1's checkpoint): exit 130 and one line naming the
    command that continues the study, which then runs to the end. click turned the
    interrupt into a bare Abort, so the line said only 'interrupted'."""
    import importlib

    fit_module = importlib.import_module("lrlab.train._fit")

    def ctrl_c(name: str, epoch: int) -> None:
        if name == "epoch" and epoch == 2:
            raise KeyboardInterrupt

    db = tmp_path / "s.db"
    monkeypatch.setattr(fit_module, "kill_point", ctrl_c)
    code, _, err = run(capsys, "sweep", "blobs", "--lrs", "0.1", "--epochs", "3", "-q",
                       "--db", db, "--study", "b", "--checkpoint-every", "1")
    assert code == 130
    assert err.strip().splitlines()[-1] == (
        f"interrupted: study b stopped; it continues from its last checkpoint (epoch 1) with: "
        f"lrlab resume b --db {db}")
    code, _, err = run(capsys, "sweep", "blobs", "--lrs", "0.1", "--epochs", "3", "-q",
                       "--db", db, "--study", "c", "--checkpoint-every", "5")
    assert code == 130
    assert err.strip().splitlines()[-1] == (
        f"interrupted: study c stopped before its first checkpoint; lrlab resume c --db {db} "
        "trains it again from the start")
    code, _, err = run(capsys, "sweep", "--task", f"{user_module}:make", "--lrs", "0.1",
                       "--epochs", "3", "-q", "--db", db, "--study", "u", "--checkpoint-every", "1")
    assert code == 130 and err.strip().endswith(
        f"lrlab resume u --db {db} --task {user_module}:make")
    monkeypatch.setattr(fit_module, "kill_point", lambda name, epoch: None)
    for study in ("b", "c"):
        code, _, err = run(capsys, "resume", study, "--db", db, "-q")
        assert code == 0, err
        assert Store(db).info(study).epochs_done == 3


def test_resume_command_on_a_done_study(capsys, db: Path) -> None:
    code, _, err = run(capsys, "resume", "s", "--db", db)
    assert "is done; nothing to resume" in assert_bad_input(code, err)


# --- bad input: one line, exit 2, the database untouched -----------------------------------


def _newer(path: Path) -> Path:
    from lrlab.cli import main

    assert main([*SWEEP, "-q", "--db", str(path)]) == 0
    return sqlite_exec(path, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")


def _foreign(path: Path) -> Path:
    return sqlite_exec(path, "CREATE TABLE t (x)")


FILES = {
    "text": (lambda p: (p.write_text("hello\n"), p)[1], "not a SQLite file"),
    "foreign": (_foreign, "another program"),
    "newer": (_newer, "newer than this lrlab"),
}


@pytest.mark.parametrize("kind", list(FILES))
def test_bad_databases(capsys, tmp_path: Path, kind: str) -> None:
    """Every command that opens --db refuses the file before doing anything else."""
    make, message = FILES[kind]
    path = make(tmp_path / "x.db")
    capsys.readouterr()
    before = path.read_bytes()
    commands = (["ls"], ["show", "s"], ["resume", "s"], ["export", "s", "--out", tmp_path / "o"],
                [*SWEEP, "-q"], ["train", "blobs", "--lr", "0.1", "--epochs", "1", "-q"],
                ["grid", "blobs", "--lrs", "0.1", "--epochs", "1", "-q"])
    for argv in commands:
        code, out, err = run(capsys, *argv, "--db", path)
        assert message in assert_bad_input(code, err), argv
        assert "best:" not in out  # refused before training
        assert path.read_bytes() == before
    assert not (tmp_path / "o").exists()


def test_unknown_study_and_missing_database(capsys, tmp_path: Path, db: Path) -> None:
    before = db.read_bytes()
    for argv in (["show", "nope"], ["resume", "nope"], ["export", "nope", "--out", tmp_path],
                 ["report", "nope"]):
        code, _, err = run(capsys, *argv, "--db", db)
        assert "no study 'nope'" in assert_bad_input(code, err), argv
    assert db.read_bytes() == before
    code, _, err = run(capsys, "ls", "--db", tmp_path / "none.db")
    assert "no lrlab database" in assert_bad_input(code, err)
    assert "give --db PATH, the database" in err and "db=" not in err  # the library's db=PATH
    code, _, err = run(capsys, "show", "s", "--db", tmp_path)
    assert f"--db {tmp_path} is a directory; give --db PATH" in assert_bad_input(code, err)
    code, _, err = run(capsys, "ls", "--db", (tmp_path / "t.db", (tmp_path / "t.db").write_text(
        "hi"))[0])
    assert "not a SQLite file); give another --db PATH" in assert_bad_input(code, err)
    assert not (tmp_path / "none.db").exists()
    code, _, err = run(capsys, *SWEEP, "--db", db, "--study", "s", "-q")
    assert "already exists" in assert_bad_input(code, err)
    assert db.read_bytes() == before
    code, _, err = run(capsys, *SWEEP, "--db", db, "--checkpoint-every", "0", "-q")
    assert "checkpoint-every" in assert_bad_input(code, err)


def test_show_and_report_give_advice_in_the_commands_flags(capsys, tmp_path: Path) -> None:
    """A study whose rates beat no chance: its verdict's advice, ``(Task(..., monitor=...))``
    from Python, is said as the flag of the command that trains it again (``--monitor``) by
    ``show`` and by ``report`` (terminal, Markdown and page), which take no such option
    themselves (before: in Python form there)."""
    path = tmp_path / "d.db"
    code, _, err = run(capsys, "sweep", "digits", "--lrs", "1e-7", "--epochs", "1", "--subset",
                       "200", "-q", "--db", path, "--study", "tiny")
    assert code == 0, err
    code, out, err = run(capsys, "show", "tiny", "--db", path)
    assert code == 0, err
    assert "instead (--monitor METRIC)" in out and "Task(" not in out
    code, out, err = run(capsys, "report", "tiny", "--db", path, "--markdown", tmp_path / "t.md",
                         "--out", tmp_path / "t.html")
    assert code == 0, err
    assert "instead (--monitor METRIC)" in out and "Task(" not in out
    for name in ("t.md", "t.html"):
        assert "Task(" not in (tmp_path / name).read_text()
    assert "(--monitor METRIC)" in (tmp_path / "t.html").read_text()

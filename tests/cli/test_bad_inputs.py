"""Hostile and mistaken input, end to end: every case exits 2 with exactly one ``error:``
line, no traceback, and leaves the study database and the run folders as they were.

The cases cover the command line's options, sweep settings, users' tasks, data files, run
folders and databases (hand-edited rows included). One world is built per module: a
database with a finished study and an interrupted one of a user's task, a run folder, and
a module of broken tasks; each case runs ``lrlab`` in-process against copies of it.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from helpers import assert_bad_input, run

BROKEN_TASKS = '''
import torch
from torch import nn

from lrlab.tasks import Split, Task


def _data(n=60, f=4):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, f, generator=g)
    return x, (x[:, 0] > 0).long()


def good(**changes):
    x, y = _data()
    args = dict(name="mine", train=Split(x[:40], y[:40]), val=Split(x[40:], y[40:]),
                model=lambda: nn.Sequential(nn.Linear(4, 2)), num_classes=2, batch_size=10,
                epochs=1)
    args.update(changes)
    return Task(**args)


class _Dict(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(4, 2)

    def forward(self, x):
        return {"out": self.layer(x)}


def _boom():
    raise RuntimeError("boom")


def wrong_input_size():
    return good(model=lambda: nn.Sequential(nn.Linear(7, 2)))


def builder_raises():
    return good(model=_boom)


def forward_not_a_tensor():
    return good(model=_Dict)


def loss_a_scalar():
    return good(loss=lambda out, y: out.sum())


def loss_raises():
    return good(loss=lambda out, y: out @ out)


def unknown_monitor():
    return good(monitor="f1")


def regression_on_accuracy():
    x, _ = _data()
    y = x.sum(1, keepdim=True)
    return Task(name="reg", train=Split(x[:40], y[:40]), val=Split(x[40:], y[40:]),
                model=lambda: nn.Linear(4, 1), loss=lambda o, t: ((o - t) ** 2).mean(-1),
                batch_size=10, epochs=1, monitor="accuracy")


def numpy_split():
    x, y = _data()
    return good(train=Split(x[:40].numpy(), y[:40].numpy()))


def with_nan():
    x, y = _data()
    x[3, 1] = float("nan")
    return good(train=Split(x[:40], y[:40]))


def labels_out_of_range():
    x, y = _data()
    return good(train=Split(x[:40], y[:40] + 5))


def not_a_model():
    return good(model=lambda: "a string")


def huge():
    return good(model=lambda: nn.Sequential(nn.Linear(4, 1_000_000), nn.Linear(1_000_000, 2)))


def not_a_task():
    return 42
'''

MODULE = "lrlab_broken_tasks"


def _dump(db: Path) -> list[str]:
    """The database's content (schema and rows), read without writing."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def _state(root: Path) -> dict[str, object]:
    """Every file under ``root``: databases by content, the rest by bytes."""
    out: dict[str, object] = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.name.endswith(("-wal", "-shm")):
            continue
        key = str(p.relative_to(root))
        out[key] = _dump(p) if p.name == "studies.db" else p.read_bytes()
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with a finished study (``done``) and an interrupted one of a user task
    (``mine``), a run folder (``run``), a module of broken tasks on ``sys.path``."""
    from lrlab.cli import main

    root = tmp_path_factory.mktemp("world")
    (root / f"{MODULE}.py").write_text(BROKEN_TASKS)
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(root))
        db = root / "studies.db"
        assert main(["sweep", "blobs", "--lrs", "0.1,0.01", "--epochs", "1", "--quiet",
                     "--db", str(db), "--study", "done", "--out", str(root / "run")]) == 0
        assert main(["sweep", "--task", f"{MODULE}:good", "--lrs", "0.1", "--quiet",
                     "--db", str(db), "--study", "mine"]) == 0
    with sqlite3.connect(db) as conn:  # "mine": its process gone before the end
        conn.execute("UPDATE studies SET status = 'running', pid = 999999999 "
                     "WHERE name = 'mine'")
    conn.close()
    (root / "file.txt").write_text("not a folder\n")
    (root / "not-sqlite.db").write_text("hello\n")
    foreign = sqlite3.connect(root / "foreign.sqlite")
    foreign.execute("CREATE TABLE t (x)")
    foreign.commit()
    foreign.close()
    (root / "empty").mkdir()
    (root / "mnist-bad").mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (root / "mnist-bad" / name).write_bytes(b"\x1f\x8b not really gzip")
    return root


def _edit_db(db: Path, sql: str) -> None:
    conn = sqlite3.connect(db)
    conn.execute(sql)
    conn.commit()
    conn.close()


def _edit_run(run: Path, change) -> None:
    records = pd.read_csv(run / "records.csv")
    change(records).to_csv(run / "records.csv", index=False)


def _other_run(name: str):
    """An edit making ``{w}/other``, a folder that another command's --out wrote: its
    marker file ``name`` (a learning curve's, a reproduction's, a study's claims)."""
    def edit(w: Path) -> None:
        (w / "other").mkdir()
        (w / "other" / name).write_text("{}\n")
    return edit


def _text_value(r: pd.DataFrame) -> pd.DataFrame:
    r = r.astype({"value": object})
    r.loc[0, "value"] = "oops"
    return r


# Each case: (argv with {w} for the world's copy and {m} for the broken-tasks module,
# a fragment the one line must hold, and an optional edit of the world before the run).
SWEEP = ["sweep", "blobs", "--epochs", "1", "--db", "{w}/studies.db", "-q"]
MINE = ["sweep", "--db", "{w}/studies.db", "-q", "--task"]
CASES: dict[str, tuple[list[str], str, object]] = {
    # -- the command line: sweep settings --
    "seeds negative": ([*SWEEP, "--seeds", "-1"], "every value of --seeds must be at least 0",
                       None),
    "seeds huge": ([*SWEEP, "--seeds", "99999999999999999999999"], "--seeds must be at most",
                   None),
    "seeds twice": ([*SWEEP, "--seeds", "0,0"], "--seeds lists 0 twice", None),
    # the flag named (was "subset fraction must be in (0, 1], got 2.5; or give ...")
    "subset fraction above 1": (
        [*SWEEP, "--subset", "2.5"],
        "error: --subset must be a fraction in (0, 1] or a whole number of examples, got 2.5",
        None),
    # as sweep says it (was "--seeds must be seeds >= 0, got '0,-2'")
    "find seeds negative": (["find", "blobs", "--seeds", "0,-2"],
                            "error: every value of --seeds must be at least 0, got -2", None),
    # the library's line (range_test's seeds=), said as the flag: the CLI has no check of its own
    "find seeds twice": (["find", "blobs", "--seeds", "0,0"],
                         "error: --seeds lists 0 twice; the tests of one seed run", None),
    "seeds text": ([*SWEEP, "--seeds", "a,b"], "comma list of integers", None),
    "epochs huge": ([*SWEEP[:2], "--epochs", "99999999999999999999", *SWEEP[4:]],
                    "--epochs must be at most 1000000", None),
    "epochs zero": ([*SWEEP[:2], "--epochs", "0", *SWEEP[4:]],
                    "--epochs must be at least 1, got 0; e.g. --epochs 1", None),
    "batch size zero": ([*SWEEP, "--batch-size", "0"], "--batch-size must be at least 1", None),
    "batch larger than the data": ([*SWEEP, "--batch-size", "100000"], "larger than", None),
    "device mps": ([*SWEEP, "--device", "mps"], "use cpu, cuda or cuda:N", None),
    "device meta": ([*SWEEP, "--device", "meta"], "use cpu, cuda or cuda:N", None),
    # the flag named (was "device: unknown device ...", the setting's Python name)
    "device banana": ([*SWEEP, "--device", "banana"], "error: --device: unknown device", None),
    "device cuda:7": ([*SWEEP, "--device", "cuda:7"], "not available", None),
    # a hyperparameter out of range is said as the user gave it, then its rule: the momentum
    # rule's momentum read "momentum: momentum must be in [0, 1)" (the rule as a prefix), and
    # given through --hp it was said as a flag the user never typed
    "momentum out of range by --hp": (
        [*SWEEP, "--optimizer", "momentum", "--hp", "momentum=1.5"],
        "error: momentum=1.5 must be in [0, 1) for the update rule momentum", None),
    "momentum out of range by its flag": (
        [*SWEEP, "--optimizer", "momentum", "--momentum", "1.5"],
        "error: --momentum 1.5 must be in [0, 1) for the update rule momentum", None),
    "beta1 out of range by its flag": (
        [*SWEEP, "--optimizer", "adam", "--beta1", "1.5"],
        "error: --beta1 1.5 must be in [0, 1) for the update rule adam", None),
    "playground momentum out of range": (
        ["playground", "quadratic", "--optimizers", "sgd,momentum", "--hp", "momentum=1.5"],
        "error: momentum=1.5 must be in [0, 1) for the update rule momentum", None),
    "train at a negative rate": (["train", *SWEEP[1:], "--lr", "-0.1"],
                                 "--lr must be a positive", None),
    "train at rate nan": (["train", *SWEEP[1:], "--lr", "nan"], "--lr must be a positive",
                          None),
    "auto seeds as a list": (["auto", *SWEEP[1:], "--seeds", "0,1,2"], "is not a count", None),
    # the bound of a pair said as its flag too (was "... must be below end=1.0")
    "find start not below end": (["find", "blobs", "--start", "1", "--end", "1"],
                                 "--start 1.0 must be below --end 1.0", None),
    "halving start not above min-lr": (["halving", *SWEEP[1:], "--min-lr", "10"],
                                       "--start 10 must be above --min-lr 10", None),
    "find in too few steps": (["find", "blobs", "--steps", "5", "--out", "{w}/f"],
                              "--steps 5 is too few to read a curve: give --steps 10 or more",
                              None),
    # no upper bound: 10**11 steps failed allocating 745 GiB ("unexpected MemoryError")
    "find in too many steps": (["find", "blobs", "--steps", "100000000000", "--out", "{w}/f"],
                               ("--steps 100000000000 is more than a range test takes: give "
                                "--steps 100000 or fewer"), None),
    # the example names the flag at fault only (was "e.g. --start 1e-7, end=10")
    "find ending at infinity": (["find", "blobs", "--end", "inf"],
                                "--end inf must be a finite rate > 0: e.g. --end 10", None),
    "cooldown at a negative rate": (["cooldown", "blobs", "--lr", "-1", "--epochs", "4"],
                                    "--lr must be a finite number > 0, got -1.0; e.g. --lr 0.1",
                                    None),
    "auto under plateau": (["auto", *SWEEP[1:], "--schedule", "plateau"],
                           "follows a validation metric", None),
    "auto warm-up longer than training": (["auto", *SWEEP[1:], "--schedule", "cosine:warmup=5"],
                                          "shorter than training", None),
    "auto given two schedules": (["auto", *SWEEP[1:], "--schedule", "cosine", "--schedule",
                                  "constant"], "--schedule is given 2 times; give it once", None),
    "rates twice": ([*SWEEP, "--lrs", "0.1,0.1"], "--lrs lists 0.1 twice", None),
    "rate below float32": ([*SWEEP, "--lrs", "1e-300"], "--dtype float64", None),
    "rate negative": ([*SWEEP, "--lrs", "-1"], "positive", None),
    "rate text": ([*SWEEP, "--lrs", "abc"], "cannot read rates", None),
    "logspace of ten million": ([*SWEEP, "--lrs", "logspace:1e-5:1:10000000"],
                                "at most 10,000", None),
    "linspace from zero": ([*SWEEP, "--lrs", "linspace:0:1:5"], "positive LO", None),
    "step every zero": ([*SWEEP, "--schedule", "step:every=0"], "every", None),
    "exp decay zero": ([*SWEEP, "--schedule", "exp:decay=0"], "exp:decay=0", None),
    "warm-up longer than training": ([*SWEEP, "--schedule", "cosine:warmup=50"],
                                     "shorter than training", None),
    "unknown schedule": ([*SWEEP, "--schedule", "nosuch"], "nosuch", None),
    "schedule twice": ([*SWEEP, "--schedule", "cosine", "--schedule", "cosine"],
                       "--schedule lists cosine twice", None),
    # a subcommand's own flags (was "epochs must be ...": the flags of lrlab schedule, none)
    "schedule drawn over no epochs": (["schedule", "plot", "cosine", "--epochs", "0", "--out",
                                       "{w}/p.png"], "error: --epochs must be a whole number",
                                      None),
    "plateau drawn": (["schedule", "plot", "plateau", "--out", "{w}/p.png"],
                      "follows the validation metric", None),
    "exp decay zero says decay": ([*SWEEP, "--schedule", "exp:decay=0"],
                                  "decay=0 must be >= 1", None),
    "plateau monitor": ([*SWEEP, "--schedule", "plateau:monitor=f1"], "monitor", None),
    "lr-mult matching nothing": ([*SWEEP, "--lr-mult", "zz*=2"],
                                 "error: --lr-mult pattern 'zz*' matches no", None),
    "lr-mult zero": ([*SWEEP, "--lr-mult", "0.*=0"], "positive", None),
    "subset of one": ([*SWEEP, "--subset", "1"], "one example per class", None),
    "subset beyond the data": ([*SWEEP, "--subset", "1000000"], "more than the", None),
    "learning-curve sizes beyond the data": (["learning-curve", "blobs", "--sizes", "100,100000",
                                              "--epochs", "1", "-q"], "more than the", None),
    "subset text": ([*SWEEP, "--subset", "abc"], "neither a count nor a fraction", None),
    "subset zero": ([*SWEEP, "--subset", "0"], "at least 1", None),
    "unknown rule": ([*SWEEP, "--optimizer", "nosuch"], "unknown update rule", None),
    "momentum on plain sgd": ([*SWEEP, "--momentum", "0.9"], "sgd takes no 'momentum'", None),
    "beta1 twice": ([*SWEEP, "--optimizer", "adam", "--beta1", "0.9", "--hp", "beta1=0.8"],
                    "given twice", None),
    "hp not a number": ([*SWEEP, "--optimizer", "adam", "--hp", "beta1=abc"],
                        "'abc' is not a number", None),
    "hp without a name": ([*SWEEP, "--hp", "=3"], "NAME=VALUE", None),
    "hp unknown": ([*SWEEP, "--optimizer", "adam", "--hp", "nosuch=1"], "takes no", None),
    "beta1 out of range": ([*SWEEP, "--optimizer", "adam", "--beta1", "1.5"], "beta1", None),
    "too many members": ([*SWEEP, "--lrs", "logspace:1e-5:1:10000", "--seeds",
                          ",".join(map(str, range(11)))], "more than one study trains", None),
    "dtype float16": ([*SWEEP, "--dtype", "float16"], "float16", None),
    "clip zero": ([*SWEEP, "--clip-grad-norm", "0"], "--clip-grad-norm must be greater than 0", None),
    "clip nan": ([*SWEEP, "--clip-grad-norm", "nan"], "--clip-grad-norm must be a finite number", None),
    "checkpoint every zero": ([*SWEEP, "--checkpoint-every", "0"], "checkpoint-every", None),
    "study name with spaces": ([*SWEEP, "--study", " x"], "surrounding spaces", None),
    "study name taken": ([*SWEEP, "--study", "done"], "already exists", None),
    # said as the option's flag (was: "members per task ...; give --members-per-task")
    "members per chunk zero": ([*SWEEP, "--members-per-chunk", "0"],
                               "--members-per-chunk must be a whole number of at least 1, got 0",
                               None),
    # said as the flag typed (was "--members-per-chunk ..." for --members-per-task 0)
    "members per task zero": ([*SWEEP, "--members-per-task", "0"],
                              "error: --members-per-task must be a whole number of at least 1",
                              None),
    "study name with a slash": ([*SWEEP, "--study", "a/b"],  # report would read it as a folder
                                "holds a slash, and lrlab report would read it as a folder",
                                None),
    # -- where things are written --
    "out empty": ([*SWEEP, "--out", ""], "is empty", None),
    "out holding a run": ([*SWEEP, "--out", "{w}/run"], "already holds a run", None),
    "out holding a learning curve": ([*SWEEP, "--out", "{w}/other"], "already holds a run",
                                     _other_run("learning_curve.json")),
    "out holding a reproduction": ([*SWEEP, "--out", "{w}/other"], "already holds a run",
                                   _other_run("evidence.json")),
    "out holding a study's claims": ([*SWEEP, "--out", "{w}/other"], "already holds a run",
                                     _other_run("claims.csv")),
    "out a file": ([*SWEEP, "--out", "{w}/file.txt"], "is a file", None),
    "report a folder": ([*SWEEP, "--report", "{w}/empty/"], "is a directory", None),
    "report over a file lrlab did not write": ([*SWEEP, "--report", "{w}/file.txt"],
                                               "is not a page lrlab wrote", None),
    "report --out over a file lrlab did not write": (
        ["report", "{w}/run", "--out", "{w}/file.txt"], "is not a page lrlab wrote", None),
    "report in a missing folder": ([*SWEEP, "--report", "{w}/nowhere/r.html"],
                                   "does not exist", None),
    "export out empty": (["export", "done", "--db", "{w}/studies.db", "--out", ""], "is empty",
                         None),
    "export into a run": (["export", "done", "--db", "{w}/studies.db", "--out", "{w}/run"],
                          "already holds a run", None),
    # -- tasks --
    "no task": (["sweep", "--db", "{w}/studies.db", "-q"], "give a task", None),
    "unknown task": (["sweep", "nosuch", "--db", "{w}/studies.db", "-q"], "unknown task", None),
    "task twice": ([*SWEEP, "--task", "{m}:good"], "not both", None),
    "model for another input size": ([*MINE, "{m}:wrong_input_size"], "shape (4,)", None),
    "model builder raises": ([*MINE, "{m}:builder_raises"], "boom", None),
    "forward returns a dict": ([*MINE, "{m}:forward_not_a_tensor"], "returned dict", None),
    "loss returns a scalar": ([*MINE, "{m}:loss_a_scalar"], "shape (K, B)", None),
    "loss raises": ([*MINE, "{m}:loss_raises"], "its loss fails", None),
    "unknown monitor": ([*MINE, "{m}:unknown_monitor"], "monitor 'f1'", None),
    "regression on accuracy": ([*MINE, "{m}:regression_on_accuracy"],
                               "a regression task", None),
    "numpy arrays in a Split": ([*MINE, "{m}:numpy_split"], "not a torch tensor", None),
    "NaN in the data": ([*MINE, "{m}:with_nan"], "NaN", None),
    "labels out of range": ([*MINE, "{m}:labels_out_of_range"], "labels span", None),
    "model not a module": ([*MINE, "{m}:not_a_model"], "not a torch.nn.Module", None),
    "not a task": ([*MINE, "{m}:not_a_task"], "not_a_task", None),
    "missing module": ([*MINE, "lrlab_no_such_module:make"], "lrlab_no_such_module", None),
    # a file's path where the module goes (was "No module named 'mypackage/tasks'")
    "task as a file": ([*MINE, "mypackage/tasks.py:my_task"],
                       ("names a file; give its module as Python imports it, from the folder "
                        "lrlab runs in: mypackage.tasks:my_task"), None),
    "missing function": ([*MINE, "{m}:nosuch"], "nosuch", None),
    "chunks beyond the memory limit": ([*MINE, "{m}:huge", "--lrs", "logspace:1e-4:1:100",
                                        "--members-per-task", "100", "--memory-limit", "1GB"],
                                       "100 members at once need about", None),
    # the limit that would hold it, as the flag (was "about 0.00 GiB ...; raise the limit")
    "one member beyond the memory limit": ([*MINE, "{m}:huge", "--memory-limit", "1MB"],
                                           "or give --memory-limit", None),
    # -- data files --
    "data dir missing": ([*SWEEP[:1], "mnist-linear", *SWEEP[2:], "--data-dir", "{w}/nowhere"],
                         "does not exist", None),
    "data files missing": ([*SWEEP[:1], "mnist-linear", *SWEEP[2:], "--data-dir", "{w}/empty",
                            "--no-download"], "empty", None),
    "data files damaged": ([*SWEEP[:1], "mnist-linear", *SWEEP[2:], "--data-dir", "{w}/mnist-bad",
                            "--no-download"], "mnist-bad", None),
    # -- run folders --
    "report a missing folder": (["report", "{w}/nowhere"], "does not exist", None),
    "report an empty folder": (["report", "{w}/empty"], "empty", None),
    "records with text": (["report", "{w}/run"], "records.csv",
                          lambda w: _edit_run(w / "run", _text_value)),
    "records without members": (["report", "{w}/run"], "member",
                                lambda w: _edit_run(w / "run",
                                                    lambda r: r.drop(columns="member"))),
    "records of an unknown member": (["report", "{w}/run"], "member",
                                     lambda w: _edit_run(w / "run",
                                                         lambda r: r.assign(member=7))),
    # -- databases --
    "db a folder": (["ls", "--db", "{w}/empty"], "is a directory", None),
    "db not SQLite": (["ls", "--db", "{w}/not-sqlite.db"], "not a SQLite file", None),
    "db of another program": (["ls", "--db", "{w}/foreign.sqlite"], "another program", None),
    "db missing": (["ls", "--db", "{w}/nowhere.db"], "no lrlab database", None),
    "unknown study": (["show", "nosuch", "--db", "{w}/studies.db"], "no study 'nosuch'", None),
    "config not JSON": (["show", "done", "--db", "{w}/studies.db"], "is damaged",
                        lambda w: _edit_db(w / "studies.db",
                                           "UPDATE studies SET config = '{oops' "
                                           "WHERE name = 'done'")),
    "config of another rule": (["export", "done", "--db", "{w}/studies.db", "--out", "{w}/x"],
                               "is damaged",
                               lambda w: _edit_db(w / "studies.db",
                                                  "UPDATE studies SET config = json_set(config,"
                                                  " '$.optimizer', 'nosuch') "
                                                  "WHERE name = 'done'")),
    "text in the records": (["export", "done", "--db", "{w}/studies.db", "--out", "{w}/x"],
                            "is damaged",
                            lambda w: _edit_db(w / "studies.db",
                                               "UPDATE records SET value = 'oops' WHERE rowid "
                                               "= (SELECT min(rowid) FROM records)")),
    "resume with a bad config": (["resume", "mine", "--db", "{w}/studies.db"], "is damaged",
                                 lambda w: _edit_db(w / "studies.db",
                                                    "UPDATE studies SET config = '[]' "
                                                    "WHERE name = 'mine'")),
    "resume a user task unnamed": (["resume", "mine", "--db", "{w}/studies.db"],
                                   "--task {m}:good", None),
    "resume with another task": (["resume", "mine", "--db", "{w}/studies.db", "--task",
                                  "{m}:huge"], "not {m}:huge", None),
    "resume where the database names code": (
        ["resume", "mine", "--db", "{w}/studies.db"], "runs no code a database names",
        lambda w: _edit_db(w / "studies.db",
                           "UPDATE studies SET task_spec = json_set(task_spec, '$.name', "
                           "'os:getpid', '$.task_opt', NULL) WHERE name = 'mine'")),
    "resume where the database names code as a user task": (
        ["resume", "mine", "--db", "{w}/studies.db", "--task", "{m}:good"], "not {m}:good",
        lambda w: _edit_db(w / "studies.db",
                           "UPDATE studies SET task_spec = json_set(task_spec, '$.task_opt', "
                           "'os:getpid') WHERE name = 'mine'")),
    "resume a finished study": (["resume", "done", "--db", "{w}/studies.db"], "is done", None),
    "rm without --yes": (["rm", "done", "--db", "{w}/studies.db"], "--yes", None),
    "rm an unknown study": (["rm", "nosuch", "--yes", "--db", "{w}/studies.db"],
                            "no study 'nosuch'", None),
    "rm nothing": (["rm", "--db", "{w}/studies.db"], "name the studies", None),
}


@pytest.mark.parametrize("argv, needle, edit", list(CASES.values()), ids=list(CASES))
def test_bad_input_is_one_line_and_touches_nothing(
        argv: list[str], needle: str, edit, world: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Exit 2, exactly one ``error:`` line holding ``needle``, no traceback, and every
    file of the world (the database by content) as it was before the command."""
    w = tmp_path / "w"
    shutil.copytree(world, w)
    monkeypatch.syspath_prepend(str(w))
    monkeypatch.chdir(tmp_path)
    if edit is not None:
        edit(w)
    before = _state(w)
    fill = {"w": str(w), "m": MODULE}
    code, _, err = run(capsys, *(a.format(**fill) for a in argv))
    line = assert_bad_input(code, err)
    assert needle.format(**fill) in line, line
    assert _state(w) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w"]  # nothing beside it


def test_there_are_sixty_cases_or_more() -> None:
    """The issue's floor: at least 60 hostile inputs, across every kind of input."""
    assert len(CASES) >= 60


def test_failed_checks_leave_no_study(world: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A task that fails only once training runs (a model raising in its second batch)
    leaves no study behind: a study exists only when training could start."""
    w = tmp_path / "w"
    shutil.copytree(world, w)
    monkeypatch.syspath_prepend(str(w))
    (w / "late_failure.py").write_text(
        "from torch import nn\n"
        f"from {MODULE} import good\n"
        "from lrlab._errors import LrlabError\n"
        "class Late(nn.Module):\n"
        "    calls = 0\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.layer = nn.Linear(4, 2)\n"
        "    def forward(self, x):\n"
        "        Late.calls += 1\n"
        "        if Late.calls > 9:\n"
        "            raise LrlabError('late failure')\n"
        "        return self.layer(x)\n"
        "def make():\n"
        "    return good(model=Late)\n")
    before = _dump(w / "studies.db")
    code, _, err = run(capsys, "sweep", "--task", "late_failure:make", "--db",
                       w / "studies.db", "-q", "--epochs", "3")
    assert assert_bad_input(code, err) == "error: late failure"
    assert _dump(w / "studies.db") == before


def test_rm_removes_a_study_and_the_failed_ones(world: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """``lrlab rm NAME --yes`` removes the study with its records; ``--all-failed`` takes
    the interrupted studies without a checkpoint and keeps the rest."""
    w = tmp_path / "w"
    shutil.copytree(world, w)
    db = w / "studies.db"
    _edit_db(db, "DELETE FROM checkpoints WHERE study = (SELECT id FROM studies "
                 "WHERE name = 'mine')")
    code, _, err = run(capsys, "rm", "--all-failed", "--yes", "--db", db)
    assert code == 0 and "removed mine" in err
    code, out, _ = run(capsys, "ls", "--db", db)
    assert "done" in out and "mine" not in out
    code, _, err = run(capsys, "rm", "done", "--yes", "--db", db)
    assert code == 0
    conn = sqlite3.connect(db)
    assert [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("studies", "members", "records", "checkpoints")] == [0, 0, 0, 0]
    conn.close()


def test_resume_of_a_user_task_named_on_the_command_line(
        world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The same ``--task`` the study was trained with resumes it to the end."""
    w = tmp_path / "w"
    shutil.copytree(world, w)
    monkeypatch.syspath_prepend(str(w))
    code, _, err = run(capsys, "resume", "mine", "--task", f"{MODULE}:good", "--db",
                       w / "studies.db", "-q")
    assert code == 0, err
    code, out, _ = run(capsys, "show", "mine", "--db", w / "studies.db")
    assert "done" in out


def test_bare_lrlab_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert code == 0 and "Usage: lrlab" in out and not err
    # a bare group too (was its help as an "error: Usage: ..." of many lines, exit 2)
    code, out, err = run(capsys, "schedule")
    assert code == 0 and "Usage: lrlab schedule" in out and not err


def test_a_missing_choice_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """``lrlab list`` without WHAT: click lists the choices one per line; said in one."""
    code, _, err = run(capsys, "list")
    assert assert_bad_input(code, err) == (
        "error: Missing argument 'WHAT'. Choose from: tasks, schedules, surfaces, "
        "experiments, rules, plots")

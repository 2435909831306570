"""The database's schema, and opening a file only when it is an lrlab database of a
version this code reads.

An lrlab database is a SQLite file whose header carries ``PRAGMA application_id`` =
:data:`APPLICATION_ID` (the bytes ``lrlb``) and ``PRAGMA user_version`` = the schema
version. Opening reads those two header fields before anything else and writes nothing
until both check out, so a file that is not lrlab's, a damaged one or one of a newer schema
is refused with one line and left exactly as it was. A fresh file (missing, empty, or a
SQLite database holding nothing) gets the schema, in one transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from lrlab._errors import LrlabError

__all__ = ["APPLICATION_ID", "PIECE_BYTES", "SCHEMA_VERSION", "connect"]

#: ``PRAGMA application_id`` of every lrlab database: ``b"lrlb"`` as a big-endian integer.
APPLICATION_ID = int.from_bytes(b"lrlb", "big")
#: The schema this code reads and writes.
SCHEMA_VERSION = 4
#: Seconds a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT = 60.0

_SCHEMA = """
CREATE TABLE studies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    command TEXT NOT NULL,             -- what created it: sweep, train, grid, ...
    task TEXT NOT NULL,                -- the task's name
    task_spec TEXT NOT NULL,           -- JSON: how to load the task again (resume)
    config TEXT NOT NULL,              -- JSON: the SweepConfig
    monitor TEXT NOT NULL,
    higher_is_better INTEGER NOT NULL,
    epochs INTEGER NOT NULL,
    steps_per_epoch INTEGER NOT NULL,
    parts TEXT NOT NULL,               -- JSON: [start, stop, fingerprint] per population
    status TEXT NOT NULL CHECK (status IN ('running', 'done')),
    epochs_done INTEGER NOT NULL DEFAULT 0,
    pid INTEGER,                       -- the process training it (while running)
    host TEXT,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    chance REAL,                       -- the monitor for always answering the majority class
    val_examples INTEGER NOT NULL DEFAULT 0,  -- validation examples scored (0: not known)
    noise_examples REAL                -- what an own share-like metric's noise counts
);
CREATE TABLE members (
    study INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    member INTEGER NOT NULL,
    label TEXT NOT NULL,
    lr REAL NOT NULL,
    seed INTEGER NOT NULL,
    spec TEXT NOT NULL,                -- JSON: the Member (every hyperparameter)
    diverged_step INTEGER NOT NULL DEFAULT -1,   -- -1: not diverged (so far)
    diverged_epoch INTEGER NOT NULL DEFAULT -1,
    PRIMARY KEY (study, member)
);
CREATE TABLE records (
    study INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    member INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    step INTEGER,                      -- NULL for a per-epoch record, else the step
    split TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL                         -- NULL: NaN
);
CREATE INDEX records_by_epoch ON records (study, epoch);
{checkpoints}"""

#: Checkpoints: a checkpoint's bytes in pieces of at most ``PIECE_BYTES`` (SQLite refuses
#: a value over about 1 GB, which a population of a real network's weights and optimizer
#: state passes easily).
_CHECKPOINTS = """
CREATE TABLE {name} (
    study INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    part TEXT NOT NULL,                -- the fingerprint of the population it belongs to
    epoch INTEGER NOT NULL,
    piece INTEGER NOT NULL,            -- 0, 1, ...: the bytes in order
    created TEXT NOT NULL,
    data BLOB NOT NULL,                -- Checkpoint.to_bytes()[piece * PIECE_BYTES:][:PIECE_BYTES]
    PRIMARY KEY (study, part, epoch, piece)
);
"""
_SCHEMA = _SCHEMA.format(checkpoints=_CHECKPOINTS.format(name="checkpoints"))

#: The most bytes one row of ``checkpoints`` holds.
PIECE_BYTES = 1 << 28

#: Upgrades: ``MIGRATIONS[v]`` is the SQL taking a version-``v`` database to ``v + 1``; an
#: older database without a path here is refused, never rewritten.
MIGRATIONS: dict[int, str] = {
    # 1 -> 2: checkpoints in pieces (a version-1 checkpoint is one piece)
    1: _CHECKPOINTS.format(name="checkpoints_2") + """;
INSERT INTO checkpoints_2 (study, part, epoch, piece, created, data)
    SELECT study, part, epoch, 0, created, data FROM checkpoints;
DROP TABLE checkpoints;
ALTER TABLE checkpoints_2 RENAME TO checkpoints""",
    # 2 -> 3: what the verdict needs to say no rate beat the majority class
    2: """ALTER TABLE studies ADD COLUMN chance REAL;
ALTER TABLE studies ADD COLUMN val_examples INTEGER NOT NULL DEFAULT 0""",
    # 3 -> 4: what a task's own share-like metric's noise counts (its verdict's allowance)
    3: "ALTER TABLE studies ADD COLUMN noise_examples REAL",
}

_MAGIC = b"SQLite format 3\x00"


def connect(path: Path, *, create: bool) -> sqlite3.Connection:
    """An open connection to the lrlab database at ``path`` (autocommit; writers use
    ``BEGIN IMMEDIATE``), with WAL journaling, foreign keys and a busy timeout.

    Args:
        path: the database file.
        create: give a missing or empty file the schema; else such a file is refused.

    Raises:
        LrlabError: one line, the file left as it was: missing (``create=False``), not a
            SQLite file, another program's database, damaged, or of another schema version.
    """
    fresh = _check_file(path, create)
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    except sqlite3.Error as err:
        raise LrlabError(f"cannot open {path} ({err}); give another db=PATH") from None
    try:
        _check_header(conn, path, create=create, fresh=fresh)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL: a crashed process loses nothing
        conn.execute("PRAGMA foreign_keys = ON")
        if _version(conn) == (0, 0):
            _initialise(conn, path)
        _quick_check(conn, path)
    except sqlite3.Error as err:
        conn.close()
        text = " ".join(str(err).split())
        if "locked" in text or "busy" in text:
            raise LrlabError(f"{path} stayed locked by another process for {BUSY_TIMEOUT:g} s;"
                             " try again when it is done") from None
        raise LrlabError(f"cannot open {path} ({text}); give another db=PATH") from None
    except BaseException:
        conn.close()
        raise
    return conn


def _check_file(path: Path, create: bool) -> bool:
    """Refuse what is plainly not a database; whether the file is missing or empty."""
    if path.is_dir():
        raise LrlabError(f"db={path} is a directory; give db=PATH, a database file")
    if not path.exists():
        if not create:
            raise LrlabError(f"no lrlab database at {path}; give db=PATH, the "
                             "database a study was stored in (lrlab sweep ... writes one)")
        if not path.parent.is_dir():
            raise LrlabError(f"cannot create {path}: {path.parent} is not a directory; "
                             "give another db=PATH")
        return True
    try:
        with path.open("rb") as f:
            head = f.read(len(_MAGIC))
    except OSError as err:
        raise LrlabError(f"cannot read {path} ({err.strerror}); give another db=PATH") from None
    if head and head != _MAGIC:
        raise LrlabError(f"{path} is not an lrlab database (not a SQLite file); give another "
                         "db=PATH")
    return not head


def _version(conn: sqlite3.Connection) -> tuple[int, int]:
    app = conn.execute("PRAGMA application_id").fetchone()[0]
    return app, conn.execute("PRAGMA user_version").fetchone()[0]


def _check_header(conn: sqlite3.Connection, path: Path, *, create: bool, fresh: bool) -> None:
    """Read the application id and schema version; writes nothing."""
    try:
        conn.execute("BEGIN")  # one snapshot: another process may be initialising the file
        try:
            app, version = _version(conn)
            empty = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
        finally:
            conn.execute("COMMIT")
    except sqlite3.OperationalError as err:
        if "locked" in str(err) or "busy" in str(err):
            raise LrlabError(f"{path} stayed locked by another process for {BUSY_TIMEOUT:g} s;"
                             " try again when it is done") from None
        raise LrlabError(f"{path} is damaged ({err}); restore it from a copy or give another "
                         "db=PATH") from None
    except sqlite3.DatabaseError as err:
        raise LrlabError(f"{path} is damaged ({err}); restore it from a copy or give another "
                         "db=PATH") from None
    if app == 0 and version == 0 and empty:
        if not create:
            raise LrlabError(f"{path} holds no lrlab studies yet; train something first "
                             "(lrlab sweep ... writes one) or give another db=PATH")
        return
    if app != APPLICATION_ID:
        raise LrlabError(f"{path} is a SQLite database of another program, not lrlab's "
                         f"(application_id {app:#x}); give another db=PATH")
    if version > SCHEMA_VERSION:
        raise LrlabError(f"{path} has schema version {version}, newer than this lrlab reads "
                         f"({SCHEMA_VERSION}); upgrade lrlab (pip install -U lrlab)")
    if version < SCHEMA_VERSION:
        missing = next((v for v in range(version, SCHEMA_VERSION) if v not in MIGRATIONS), None)
        if missing is not None:
            raise LrlabError(f"{path} has schema version {version}, older than this lrlab's "
                             f"({SCHEMA_VERSION}), and no migration from it exists; open it "
                             "with the lrlab that wrote it (export the studies) or give "
                             "another db=PATH")
        _migrate(conn, path, version)


def _migrate(conn: sqlite3.Connection, path: Path, version: int) -> None:
    """Upgrade an older schema in one transaction (all steps or none)."""
    import warnings

    conn.execute("BEGIN IMMEDIATE")
    try:
        for v in range(version, SCHEMA_VERSION):
            _run_script(conn, MIGRATIONS[v])
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    warnings.warn(f"lrlab: migrated {path} from schema version {version} to {SCHEMA_VERSION}",
                  UserWarning, stacklevel=4)


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Each statement of ``script`` inside the caller's transaction (``executescript``
    would commit it)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _initialise(conn: sqlite3.Connection, path: Path) -> None:
    """The schema, once: another process may be initialising the same fresh file."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if _version(conn) == (0, 0):  # re-read under the write lock
            _run_script(conn, _SCHEMA)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _quick_check(conn: sqlite3.Connection, path: Path) -> None:
    try:
        result = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
    except sqlite3.DatabaseError as err:
        result = str(err)
    if result != "ok":
        detail = " ".join(result.replace("*** in database main ***", "").split())[:120]
        raise LrlabError(f"{path} is damaged ({detail}); restore it from a copy or give "
                         "another db=PATH")

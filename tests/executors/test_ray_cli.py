"""``lrlab sweep --executor ray``: the driver alone writes the study; its records equal
those of the same chunks trained here."""

from __future__ import annotations

import pandas as pd
from helpers import no_time, run

from lrlab.store import load_result

SWEEP = ("sweep", "blobs", "--lrs", "50,0.5,0.05", "--epochs", "3", "-q",
         "--members-per-task", "2")


def test_a_ray_sweep_is_stored_like_a_local_one(ray_session, capsys, tmp_path) -> None:
    db = tmp_path / "studies.db"
    code, _, err = run(capsys, *SWEEP, "--executor", "ray", "--db", db, "--study", "on-ray",
                       "--out", tmp_path / "out")
    assert code == 0, err
    code, _, err = run(capsys, *SWEEP, "--db", db, "--study", "here")
    assert code == 0, err
    on_ray, here = load_result(db, "on-ray"), load_result(db, "here")
    pd.testing.assert_frame_equal(no_time(on_ray.records), no_time(here.records),
                                  check_exact=True)
    pd.testing.assert_frame_equal(on_ray.members, here.members, check_exact=True)
    saved = pd.read_csv(tmp_path / "out" / "records.csv")
    assert len(saved) == len(on_ray.records)
    assert sorted(on_ray.records["epoch"].unique().tolist()) == [1, 2, 3]

"""Tests for the kinds of a search's warnings and notes (lrlab.search._findings)."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import pickle

import pandas as pd
import pytest

from lrlab.search import KINDS, Confidence, Finding, assess
from lrlab.search._auto import SAYS_MORE, short_on_loss, with_loss_warning


def table(lrs, scores, finals=None, diverged=None) -> pd.DataFrame:
    return pd.DataFrame({"lr": lrs, "score": scores,
                         "final": finals if finals is not None else scores,
                         "diverged": diverged or [False] * len(lrs)})


def test_a_finding_is_its_text_with_a_kind() -> None:
    w = Finding("a tie across more than half a decade: 1 scored within noise", "wide_tie")
    assert w == "a tie across more than half a decade: 1 scored within noise"
    assert w.kind == "wide_tie" and str(w) == w and hash(w) == hash(str(w))
    assert json.dumps([w]) == json.dumps([str(w)])
    for again in (pickle.loads(pickle.dumps(w)), copy.deepcopy(w), copy.copy(w)):
        assert again == w and again.kind == "wide_tie"
    with pytest.raises(ValueError, match="unknown finding kind 'wide'"):
        Finding("x", "wide")


def test_each_rule_of_assess_names_its_kind() -> None:
    cases = [  # (table, pick, chance, monitor, the warnings' kinds, the notes' kinds)
        (table([1e-7, 1e-6, 1e-5], [0.251, 0.249, 0.262]), 1e-5, 0.25, "accuracy",
         ("no_rate_learned",), ()),
        (table([0.01, 0.1, 1.0], [0.90, 0.40, 0.901]), 0.01, 0.25, "accuracy",
         ("wide_tie", "lowest_searched"), ()),
        (table([0.1, 0.3], [0.90, 0.95], finals=[0.9, 0.25]), 0.1, 0.25, "accuracy",
         ("next_failed", "lowest_searched"), ()),
        (table([0.03, 0.1, 0.3], [0.80, 0.90, math.nan], finals=[0.80, 0.90, math.nan],
               diverged=[False, False, True]), 0.1, 0.25, "accuracy", (), ("next_failed",)),
        (table([0.004, 0.007, 0.67], [1.0, 1.0, 0.44], finals=[1.0, 1.0, 0.33]), 0.004, 0.35,
         "accuracy", (), ("lowest_searched",)),
    ]
    for t, lr, chance, monitor, warned, noted in cases:
        c = assess(t, lr, higher_is_better=True, chance=chance, monitor=monitor, n=1000)
        assert c.kinds == warned and tuple(n.kind for n in c.notes) == noted, (lr, c)
        assert c.to_dict()["warning_kinds"] == list(warned)
        assert c.to_dict()["note_kinds"] == list(noted)
    moving = table([0.205, 0.364, 0.647, 1.15], [2214.0, 1517.0, 1474.0, 1935.0])
    moving["pace"] = [7489.0, 3337.0, 2387.0, 2049.0]
    c = assess(moving, 0.364, higher_is_better=False, chance=41448.0, monitor="loss", n=400)
    assert c.kinds == ("moving_tie",)
    assert set(c.kinds) <= set(KINDS)


def test_the_loss_line_is_left_out_where_a_warning_that_says_more_is_there() -> None:
    """auto's blanket line for a race ranked by a loss (short_on_loss) is added unless a tie
    still moving, no rate learned (by chance or in the budget) or a rate learned only in the
    longer race is already said (review s8: dropping that guard failed no test)."""
    lossy = short_on_loss(2, 14, "loss")
    bare = Confidence(0.1, 0.01, 0.3, 1.0)
    assert with_loss_warning(bare, lossy).warnings == (lossy,)
    assert with_loss_warning(bare, "") is bare
    for kind in KINDS:
        c = dataclasses.replace(bare, warnings=(Finding("some line", kind),))
        said = with_loss_warning(c, lossy)
        assert said.kinds == ((kind,) if kind in SAYS_MORE else (kind, "short_on_loss")), kind
    assert set(SAYS_MORE) == {"moving_tie", "no_rate_learned", "race_unlearned",
                              "learned_longer"}

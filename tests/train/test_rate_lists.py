"""Every list of learning rates is checked by one check (:func:`lrlab._checks.positive_rates`):
a sweep's, a search's, a study's rule and the playground's refuse a rate that is not
positive and finite in the same words, naming the value (the sweep's was "lrs.1: learning
rates must be ...", a grid of text or of a word was "grid lrs is empty" or Python's
ValueError "could not convert string to float")."""

from __future__ import annotations

import math

import pytest

from lrlab import LrlabError, sweep
from lrlab.playground import trajectories
from lrlab.search import fastest, grid
from lrlab.studies import parse_entry
from lrlab.train import parse_lrs

REFUSED = {
    "sweep": (lambda: sweep("blobs", lrs=[0.1, -1], epochs=1),
              r"^every value of lrs must be positive and finite, got -1$"),
    "sweep, inf": (lambda: sweep("blobs", lrs=[0.1, math.inf], epochs=1),
                   r"^every value of lrs must be positive and finite, got inf$"),
    "grid": (lambda: grid("blobs", lrs=[0.1, -1]),
             r"^grid lrs must be positive and finite, got -1$"),
    "fastest": (lambda: fastest("blobs", lrs=[0.0]),
                r"^fastest lrs must be positive and finite, got 0$"),
    "a rule of a race": (lambda: parse_entry("adam:lr=0.1/-1"),
                         r"^adam:lr=0.1/-1: rates must be positive and finite, got -1$"),
    "the command line's --lrs": (
        lambda: parse_lrs("0.1,-2"),
        r"^learning rates must be positive and finite, got -2 in '0.1,-2'$"),
    "the playground": (lambda: trajectories("beale", ["sgd"], [0.1, math.nan]),
                       r"^lrs must be positive and finite, got nan$"),
    "grid of text": (lambda: grid("blobs", lrs="0.1,0.01"),
                     r"^grid lrs must be a list of learning rates, got '0.1,0.01'$"),
    "grid of a word": (lambda: grid("blobs", lrs=[0.1, "x"]),
                       r"^grid lrs must be numbers, got 'x'$"),
    "grid of one number": (lambda: grid("blobs", lrs=0.1),
                           r"^grid lrs must be a list of learning rates, got 0.1$"),
    "empty grid": (lambda: grid("blobs", lrs=[]),
                   r"^grid lrs is empty; give at least one positive learning rate$"),
}


@pytest.mark.parametrize(("call", "said"), REFUSED.values(), ids=REFUSED.keys())
def test_a_bad_rate_is_one_line_naming_it(call, said):
    with pytest.raises(LrlabError, match=said):
        call()


def test_one_check_decides_what_a_rate_is(monkeypatch):
    """The searches, the race's rules, the command line's rates and the playground all ask
    :func:`lrlab._checks.is_rate`: no copy of the rule is left beside it."""
    import lrlab._checks as checks

    monkeypatch.setattr(checks, "is_rate", lambda v: v != 0.5)
    for call in (lambda: parse_entry("adam:lr=0.5"), lambda: grid("blobs", lrs=[0.5]),
                 lambda: parse_lrs("0.5"), lambda: trajectories("beale", ["sgd"], [0.5])):
        with pytest.raises(LrlabError, match="must be positive and finite, got 0.5"):
            call()

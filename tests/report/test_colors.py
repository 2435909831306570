"""One colour per rate on a whole page: a search's stages train different rates, and every
plot of the page draws a rate in the one colour the page's mapping gives it."""

from __future__ import annotations

import re

import pytest
from helpers import made_run
from matplotlib.colors import to_rgba

from lrlab import LrlabError
from lrlab.report import curves_info, plot_curves, rate_colors, report_content
from lrlab.report._report import SearchRun, page_colors

COARSE = [(1.0, 0, "c", 0.6), (0.1, 0, "c", 0.9), (0.01, 0, "c", 0.7)]
FINE = [(0.1, 0, "c", 0.9), (0.05, 0, "c", 0.92), (0.02, 0, "c", 0.8)]
RATES = {lr for lr, *_ in COARSE + FINE}


def drawn_colours(figures) -> list[tuple[float, tuple]]:
    """(rate, colour) of every line labelled ``lr=...`` and every dot of the sensitivity
    plots (their x is the rate)."""
    pairs = []
    for caption, fig in figures:
        for ax in fig.axes:
            for line in ax.get_lines():
                found = re.match(r"lr=([0-9.e+-]+)", str(line.get_label()))
                if found:
                    pairs.append((float(found[1]), to_rgba(line.get_color())))
            if "against the rate" in caption:
                for dots in ax.collections:
                    faces = dots.get_facecolors()
                    if len(faces) == len(dots.get_offsets()) > 0:
                        pairs += [(float(x), tuple(c)) for (x, _), c in
                                  zip(dots.get_offsets(), faces) if x in RATES]
    return pairs


def test_every_plot_of_a_search_page_gives_a_rate_one_colour() -> None:
    coarse, fine = made_run(COARSE), made_run(FINE)
    content = report_content(SearchRun({"procedure": "grid"}, (coarse, fine), None),
                             plots=["curves", "sensitivity"])
    pairs = drawn_colours(content.figures)
    page = page_colors(coarse, fine)
    assert sorted(page) == [0.01, 0.02, 0.05, 0.1, 1.0]
    assert {lr for lr, _ in pairs} == set(page)  # every rate of both stages was drawn
    for lr, colour in pairs:
        assert colour[:3] == pytest.approx(to_rgba(page[lr])[:3]), lr
    # each stage on its own would have drawn 0.1 differently (middle of 3, top of 3)
    assert rate_colors([1.0, 0.1, 0.01])[0.1] != rate_colors([0.1, 0.05, 0.02])[0.1]


def test_a_page_mapping_must_hold_every_rate_drawn() -> None:
    run = made_run(COARSE)
    with pytest.raises(LrlabError, match="no colour for rate 0.01"):
        plot_curves(curves_info(run, "auc"), colors=rate_colors([1.0, 0.1]))

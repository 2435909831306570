"""``write_report``: the right page for a sweep, a run folder, a range test, a search and a
learning curve; bad runs and bad plot names refused in one line."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from lrlab import LrlabError
from lrlab.report import (
    PLOTS,
    LearningCurve,
    learning_curve,
    load_run,
    report_content,
    write_content,
    write_report,
)
from lrlab.search import grid


def _parts(path: Path) -> dict:
    text = path.read_text()
    return {"text": text,
            "verdict": re.search(r'id="verdict">(.*?)</p>', text).group(1),
            "tables": re.findall(r'<h3 id="table-\d+">(.*?)</h3>', text),
            "figures": re.findall(r"<figcaption>(.*?)</figcaption>", text)}


def test_a_sweep_gets_verdict_tables_and_every_plot(blobs_run, report_page: Path) -> None:
    """The page ``lrlab sweep --report`` wrote: verdict, both tables, every plot."""
    page = _parts(report_page)
    assert page["verdict"] == blobs_run.verdict()
    assert len(page["tables"]) == 3  # per member, the spread over seeds, the basin
    assert page["tables"][0].startswith("per member (target: validation auc &gt;= ")
    assert page["tables"][2].startswith("sensitivity: the basin of good rates (final ")
    assert page["figures"] == ["loss per epoch", "error per epoch", "auc per epoch",
                               "sse per epoch", "validation auc: rate x epoch",
                               "training SSE per rate, first and last epoch",
                               "gradient norm per epoch", "learning rate over training",
                               ("final validation auc against the rate, the basin of good "
                               "rates shaded")]


def test_plots_choose_what_is_drawn(run, tmp_path: Path) -> None:
    page = _parts(write_report(run, tmp_path / "r.html", plots=["heatmap"], target=0.8))
    assert page["figures"] == ["validation auc: rate x epoch"]
    assert "auc &gt;= 0.8, given" in page["tables"][0]


@pytest.mark.parametrize("plots, words", [
    (["heatmap", "pie"], "unknown plot 'pie'; choose from " + ", ".join(PLOTS)),
    (["range_test"], "plot 'range_test' does not apply to a sweep"),
    (["curves", "curves"], "plots lists 'curves' twice; give each once"),  # was drawn once
])
def test_bad_plot_names_are_refused(run, tmp_path: Path, plots, words: str) -> None:
    with pytest.raises(LrlabError, match=re.escape(words)):
        write_report(run, tmp_path / "r.html", plots=plots)
    assert not list(tmp_path.iterdir())


def test_content_is_written_only_over_a_page_lrlab_wrote(run, tmp_path: Path) -> None:
    """The page of a report's content (as the command line writes it, its advice in flags)
    replaces lrlab's own page and refuses anything else, leaving it as it was."""
    content = report_content(run, plots=["sse"])
    page = write_content(content, tmp_path / "r.html")  # lrlab's own page: replaced
    assert write_content(content, page) == page
    notes = tmp_path / "notes.html"
    notes.write_text("<p>mine</p>")
    with pytest.raises(LrlabError, match="is not a page lrlab wrote"):
        write_content(content, notes)
    assert notes.read_text() == "<p>mine</p>"


def test_a_saved_run_folder_reads_back_to_the_same_page(run, tmp_path: Path) -> None:
    run.save(tmp_path / "run")
    a = _parts(write_report(run, tmp_path / "a.html", plots=["sse"]))
    b = _parts(write_report(tmp_path / "run", tmp_path / "b.html", plots=["sse"]))
    assert a["verdict"] == b["verdict"] and "diverged: lr=1 seed=0" in a["verdict"]
    assert a["tables"] == b["tables"] and a["figures"] == b["figures"]
    table = re.compile(r'<table class="lrlab-table">.*?</table>', re.DOTALL)
    assert table.findall(a["text"]) == table.findall(b["text"])


def test_a_search_shows_each_stage(tmp_path: Path) -> None:
    result = grid("blobs", lrs=[1.0, 0.1], epochs=2, confirm=True)
    page = _parts(write_report(result, tmp_path / "g.html", plots=["curves"]))
    assert page["verdict"] == result.verdict()
    assert any(t.startswith("stage 1: per member") for t in page["tables"])
    assert any(t.startswith("confirmation: per member") for t in page["tables"])
    assert "scores" in page["tables"]
    assert "stage 1: loss per epoch" in page["figures"]
    assert "confirmation: auc per epoch" in page["figures"]
    assert result.explanation.split(".")[0] in page["text"]


def test_a_learning_curve_saved_and_reported(tmp_path: Path) -> None:
    curve = learning_curve("blobs", sizes=[60, 120], lrs=[1.0, 0.1], epochs=2)
    curve.save(tmp_path / "lc")
    loaded = load_run(tmp_path / "lc")
    assert isinstance(loaded, LearningCurve) and loaded.sizes == (60, 120)
    pd.testing.assert_frame_equal(loaded.table(), curve.table(), check_dtype=False)
    page = _parts(write_report(tmp_path / "lc", tmp_path / "lc.html",
                               plots=["learning_curve"]))
    assert len(page["figures"]) == 1 and page["figures"][0].startswith("learning curve")
    assert page["verdict"].startswith("with all 120 examples, best: ")


def test_a_learning_curve_refuses_a_size_listed_twice() -> None:
    with pytest.raises(LrlabError, match=r"^sizes lists 60 twice; one size's runs train"):
        learning_curve("blobs", sizes=[60, 120, 60], lrs=[0.1], epochs=1)
    with pytest.raises(LrlabError, match=r"^sizes lists 0.5 twice"):
        learning_curve("blobs", sizes=[0.5, 0.5], lrs=[0.1], epochs=1)


def test_folders_without_records_are_refused(tmp_path: Path, blobs_dir: Path) -> None:
    with pytest.raises(LrlabError, match="does not exist"):
        load_run(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LrlabError, match="holds no lrlab records"):
        load_run(tmp_path / "empty")
    hollow = tmp_path / "hollow"
    hollow.mkdir()
    (hollow / "summary.json").write_text((blobs_dir / "summary.json").read_text())
    (hollow / "members.csv").write_text((blobs_dir / "members.csv").read_text())
    (hollow / "records.csv").write_text("member,epoch,split,metric,value\n")
    with pytest.raises(LrlabError, match="holds no records"):
        load_run(hollow)
    with pytest.raises(LrlabError, match="cannot report on a dict"):
        write_report({"lr": 0.1}, tmp_path / "x.html")


def test_a_range_test_from_python_keeps_its_warnings(tmp_path: Path) -> None:
    """A RangeTestResult given directly (not a run folder ``lrlab find --out`` wrote) shows
    the warnings it carries, as the CLI's page does (it showed none)."""
    import dataclasses

    from report_helpers import range_result

    result = dataclasses.replace(range_result(1), monitor="loss")  # adds the three rates
    assert result.warnings
    text = write_report(result, tmp_path / "r.html", plots=["range_test"]).read_text()
    assert 'id="warnings"' in text
    assert all(w.split(":")[0] in text for w in result.warnings)

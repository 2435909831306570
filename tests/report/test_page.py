"""``write_page``: one self-contained, escaped page, written whole or not at all."""

from __future__ import annotations

import base64
import io
import os
import re
import stat
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

from lrlab import LrlabError
from lrlab.report import write_page

EVIL = '<script>alert("x")</script> & "quotes"'


def _figure(n: int = 3) -> Figure:
    fig = Figure(figsize=(3, 2))
    fig.add_subplot().plot(range(n))
    return fig


def _page(tmp_path: Path, **changes) -> Path:
    args = {"title": f"title {EVIL}", "verdict": f"verdict {EVIL}",
            "settings": {"task": EVIL, "nested": {"k": [1, EVIL]}},
            "tables": [(f"caption {EVIL}", pd.DataFrame({"name": [EVIL], "x": [0.5]}))],
            "figures": [(f"figure {EVIL}", _figure())], "notes": f"notes {EVIL}"}
    return write_page(tmp_path / "page.html", **(args | changes))


def test_every_user_string_is_escaped(tmp_path: Path) -> None:
    text = _page(tmp_path).read_text()
    assert "<script>alert" not in text and "alert(&quot;x&quot;)" in text
    assert text.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; ") >= 7
    assert text.count("<script>") == 1  # the page's own self-check only


def test_the_page_needs_nothing_outside_itself(tmp_path: Path) -> None:
    text = _page(tmp_path).read_text()
    sources = re.findall(r'src="([^"]*)"', text)
    rest = re.sub(r'src="data:image/png;base64,[A-Za-z0-9+/=]*"', "", text)
    assert not re.search(r"\w+://|//[\w.-]+\.[a-z]{2,}", rest)  # no address of any kind
    assert not re.search(r"<link|@import|url\(|href=", rest)
    assert len(sources) == 1 and sources[0].startswith("data:image/png;base64,")
    png = base64.b64decode(sources[0].split(",", 1)[1])
    assert Image.open(io.BytesIO(png)).size == (300, 200)  # 3 x 2 inches at 100 dpi


def test_order_verdict_settings_tables_plots_notes(tmp_path: Path) -> None:
    text = _page(tmp_path).read_text()
    marks = ['id="verdict"', 'id="settings"', 'id="tables"', 'id="plots"', 'id="notes"']
    at = [text.index(m) for m in marks]
    assert at == sorted(at)
    assert 'name="viewport"' in text and "@media (max-width:600px)" in text


def test_warnings_follow_the_verdict_escaped(tmp_path: Path) -> None:
    text = _page(tmp_path, warnings=[f"a tie {EVIL}", "no rate learned"]).read_text()
    at = [text.index(m) for m in ('id="verdict"', 'id="warnings"', 'id="settings"')]
    assert at == sorted(at)
    assert "<p>warning: a tie &lt;script&gt;" in text and "<p>warning: no rate learned</p>" in text
    assert 'id="warnings"' not in _page(tmp_path).read_text()  # none: no box


def test_tables_show_missing_values_and_round(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [0.123456789, float("nan")], "b": pd.array([1, None], "Int64")})
    text = _page(tmp_path, tables=[("t", frame)]).read_text()
    assert "<td>0.1235</td>" in text and text.count("<td>-</td>") == 2


def test_written_whole_or_not_at_all(tmp_path: Path) -> None:
    out = _page(tmp_path)
    before = out.read_bytes()

    class Broken(Figure):
        def savefig(self, *args, **kwargs):
            raise RuntimeError("drawing failed")

    with pytest.raises(RuntimeError):
        _page(tmp_path, figures=[("ok", _figure()), ("broken", Broken())])
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]  # no temporary left
    mode = stat.S_IMODE(out.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # readable like any new file, not private


@pytest.mark.parametrize("where, words", [
    ("missing/page.html", "does not exist"),
    (".", "is a directory"),
])
def test_bad_output_paths_are_one_line(tmp_path: Path, where: str, words: str) -> None:
    with pytest.raises(LrlabError, match=words) as err:
        write_page(tmp_path / where, title="t", verdict="v", settings={}, tables=[],
                   figures=[])
    assert "\n" not in str(err.value)


def test_a_file_lrlab_did_not_write_is_kept(tmp_path: Path) -> None:
    """A report over the user's own file (``--report notes.txt``, a typo for a folder's
    report.html) replaced it silently; an lrlab page, or an empty file, is still replaced."""
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    with pytest.raises(LrlabError, match="exists and is not a page lrlab wrote") as err:
        write_page(notes, title="t", verdict="v", settings={}, tables=[], figures=[])
    assert "\n" not in str(err.value) and notes.read_text() == "my notes\n"
    first = _page(tmp_path).read_text()
    assert _page(tmp_path, verdict="again").read_text() != first  # lrlab's own: replaced
    empty = tmp_path / "empty.html"
    empty.touch()
    write_page(empty, title="t", verdict="v", settings={}, tables=[], figures=[])
    assert "written by lrlab" in empty.read_text()


def test_a_path_ending_in_a_slash_is_a_directory_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(LrlabError, match="is a directory"):
        write_page(f"{tmp_path}/new/", title="t", verdict="v", settings={}, tables=[],
                   figures=[])
    assert not (tmp_path / "new").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(LrlabError, match="cannot write"):
            write_page(folder / "p.html", title="t", verdict="v", settings={}, tables=[],
                       figures=[])
    finally:
        folder.chmod(0o700)


def test_pyplot_figures_are_closed(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    fig = pyplot.figure()
    fig.add_subplot().plot([1, 2])
    _page(tmp_path, figures=[("pyplot", fig)])
    assert not pyplot.fignum_exists(fig.number)

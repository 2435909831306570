"""The self-contained HTML page: a verdict, the settings, tables and figures, nothing external.

:func:`write_page` is the low-level builder every report uses. The page needs no network
and no other file: the CSS is inline and each figure is an inline base64 PNG (a ``data:``
URL). Every string that comes from a user (title, verdict, settings, table cells, captions,
notes) passes through :func:`html.escape`. The file is written atomically.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from lrlab._checks import PAGE_FOOTER, page_file
from lrlab._io import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["figure_png", "format_cell", "table_html", "write_page"]

#: Text columns whose cells are all this short (labels, names) are kept on one line.
_WORD = 24

_CSS = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;
margin:0;background:#f6f7f9}
main{max-width:1900px;margin:0 auto;padding:16px 24px}
h1{font-size:1.5em;margin:.4em 0 .6em;overflow-wrap:anywhere}
h2{font-size:1.2em;margin:1.4em 0 .5em;border-bottom:1px solid #d5d9e0;padding-bottom:.2em}
h3{font-size:1em;margin:1em 0 .4em}
.verdict{background:#e9f4ec;border-left:5px solid #2e7d45;padding:12px 14px;font-size:1.1em;
border-radius:4px;overflow-wrap:anywhere}
.warnings{background:#fdf3e1;border-left:5px solid #c77700;padding:8px 14px;border-radius:4px;
overflow-wrap:anywhere}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%}
table{border-collapse:collapse;background:#fff;font-size:.9em;margin:.3em 0 1em}
th,td{border:1px solid #d5d9e0;padding:4px 7px;text-align:right;white-space:nowrap}
th{background:#eef0f4;white-space:normal;vertical-align:bottom;min-width:3.5em}
td.text,th.text{text-align:left}
td.text{white-space:normal;min-width:5em;max-width:36em}
td.word{white-space:nowrap}
table.settings td{white-space:normal;overflow-wrap:anywhere;text-align:left}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,560px),1fr));
gap:14px;align-items:start}
figure{margin:0;background:#fff;padding:8px;border:1px solid #d5d9e0;border-radius:4px}
figure img{display:block;width:100%;height:auto}
figcaption{font-size:.9em;color:#4a5263;margin-top:4px}
.notes{white-space:pre-wrap;background:#fff;border:1px solid #d5d9e0;padding:10px;
overflow-wrap:anywhere}
footer{color:#6b7385;font-size:.8em;margin:2em 0 1em}
@media (max-width:600px){body{font-size:14px}main{padding:8px}th,td{padding:3px 5px}
td.text{min-width:4em}}
"""

# The page's self-check, run by the browser once everything has loaded: a figure it could
# not decode is reported as an error on the console (a healthy page logs nothing), and the
# count of figures shown, the page's width and how many tables need their own scrollbar
# (wider than their box) are left on <body> for a test to read.
_SELF_CHECK = """
window.addEventListener("load", function () {
  var shown = 0, overflowing = 0;
  document.querySelectorAll("figure img").forEach(function (img) {
    if (img.complete && img.naturalWidth > 0) { shown += 1; }
    else { console.error("lrlab: figure not shown: " + img.alt); }
  });
  document.querySelectorAll("div.scroll").forEach(function (box) {
    if (box.scrollWidth > box.clientWidth) { overflowing += 1; }
  });
  var body = document.body;
  body.setAttribute("data-figures-shown", String(shown));
  body.setAttribute("data-page-width", String(document.scrollingElement.scrollWidth));
  body.setAttribute("data-viewport-width", String(window.innerWidth));
  body.setAttribute("data-tables-overflowing", String(overflowing));
});
"""


def format_cell(value: object) -> str:
    """A table cell as text: floats to 4 significant digits, missing values as ``-``."""
    if value is None or value is pd.NA or value is pd.NaT:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4g}"
    if hasattr(value, "item"):  # a numpy scalar
        return format_cell(value.item())
    return str(value)


def figure_png(fig: Figure, *, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (drawn with the Agg canvas; no pyplot state is touched)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def write_page(out: str | os.PathLike, *, title: str, verdict: str, settings: dict,
               tables: list[tuple[str, pd.DataFrame]],
               figures: list[tuple[str, Figure]], notes: str | None = None,
               warnings: Sequence[str] = ()) -> Path:
    """Write one self-contained HTML page: verdict, warnings, settings, tables, figures, notes.

    Args:
        out: the ``.html`` file to write (replaced whole, or left untouched on failure).
        title: the page's title and heading.
        verdict: the opening line, e.g. which rate and why.
        settings: shown as a two-column table; nested values are written as JSON.
        tables: ``(caption, frame)`` pairs, each shown as an HTML table (index dropped
            unless it is named).
        figures: ``(caption, matplotlib figure)`` pairs, each embedded as a base64 PNG.
            Figures made with pyplot are closed once drawn.
        notes: free text shown at the end, or ``None``.
        warnings: lines shown under the verdict, each marked as a warning (weak evidence).

    Returns:
        ``out`` as a :class:`~pathlib.Path`.

    Example:
        >>> import pandas as pd
        >>> write_page("/tmp/page.html", title="demo", verdict="lr 0.1",
        ...            settings={"epochs": 3}, tables=[("t", pd.DataFrame({"a": [1]}))],
        ...            figures=[])
        PosixPath('/tmp/page.html')
    """
    out = page_file(out)
    sections = [f"<h1>{_e(title)}</h1>", f'<p class="verdict" id="verdict">{_e(verdict)}</p>']
    if warnings:
        sections.append('<div class="warnings" id="warnings">' + "".join(
            f"<p>warning: {_e(line)}</p>" for line in warnings) + "</div>")
    if settings:
        sections += ['<h2 id="settings">Settings</h2>', _settings_table(settings)]
    if tables:
        sections.append('<h2 id="tables">Tables</h2>')
        for i, (caption, frame) in enumerate(tables, start=1):
            sections += [f'<h3 id="table-{i}">{_e(caption)}</h3>', table_html(frame)]
    if figures:
        sections.append('<h2 id="plots">Plots</h2>\n<div class="plots">')
        sections += [_figure_html(i, caption, fig)
                     for i, (caption, fig) in enumerate(figures, start=1)]
        sections.append("</div>")
    if notes:
        sections += ['<h2 id="notes">Notes</h2>', f'<div class="notes">{_e(notes)}</div>']
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n"
        f"<script>{_SELF_CHECK}</script>\n</head>\n<body>\n<main>\n"
        + "\n".join(sections)
        + f"\n{PAGE_FOOTER}\n</main>\n</body>\n</html>\n"
    )
    return atomic_write(out, lambda p: p.write_text(page, encoding="utf-8"))


def table_html(frame: pd.DataFrame) -> str:
    """A DataFrame as an escaped HTML table inside a horizontally scrolling box."""
    if frame.index.name is not None or any(n is not None for n in frame.index.names[1:]):
        frame = frame.reset_index()
    text = [not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])
            for c in frame.columns]
    cells = [[format_cell(v) for v in row] for row in frame.itertuples(index=False)]
    width = [max((len(row[i]) for row in cells), default=0) for i in range(len(frame.columns))]
    kind = [("word" if w <= _WORD else "text") if t else "" for t, w in zip(text, width)]
    head = "".join(f'<th{_cls(k)}>{_header(str(c))}</th>' for c, k in zip(frame.columns, kind))
    rows = "".join("<tr>" + "".join(f"<td{_cls(k)}>{_e(v)}</td>" for v, k in zip(row, kind))
                   + "</tr>\n" for row in cells)
    return (f'<div class="scroll"><table class="lrlab-table">\n<thead><tr>{head}</tr></thead>\n'
            f"<tbody>\n{rows}</tbody></table></div>")


def _header(name: str) -> str:
    """A column name that may break after each ``_`` (``epochs_to_target`` over three
    lines when the table needs the room, whole when it does not)."""
    return _e(name).replace("_", "_<wbr>")


def _settings_table(settings: Mapping) -> str:
    rows = "".join(f'<tr><th{_cls("text")}>{_e(str(k))}</th><td>{_e(_setting(v))}</td></tr>\n'
                   for k, v in settings.items())
    return f'<div class="scroll"><table class="settings">\n{rows}</table></div>'


def _setting(value: object) -> str:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return format_cell(value)


def _figure_html(i: int, caption: str, fig: Figure) -> str:
    data = base64.b64encode(figure_png(fig)).decode("ascii")
    _close(fig)
    return (f'<figure class="lrlab-plot" id="plot-{i}"><img src="data:image/png;base64,{data}" '
            f'alt="{_e(caption)}"><figcaption>{_e(caption)}</figcaption></figure>')


def _close(fig: Figure) -> None:
    """Release a figure pyplot keeps track of (a no-op for figures pyplot never saw)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)


def _cls(kind: str) -> str:
    """``text``: left-aligned and wrapped; ``word``: left-aligned, short enough to keep
    whole (a member's label); ``""``: a number, right-aligned."""
    return {"text": ' class="text"', "word": ' class="text word"'}.get(kind, "")


def _e(text: str) -> str:
    """Escape for HTML text and attribute values; control characters become spaces."""
    return html.escape(re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", " ", text), quote=True)

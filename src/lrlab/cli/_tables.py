"""Tables in the terminal that fit its width without cutting a number.

Rich squeezes a table that is too wide by shortening its columns, and a number shortened
ends in "…" (``6.557e+…``): a wrong value on the screen. Here every number is written
compactly (4 significant digits, a short exponent: ``6.557e4``) and its column is never
narrower than its widest cell; a label stays whole; column names break between words. When
the columns still do not fit, the least telling ones are left out (the gradient norms and
clock times first, then from the right) and a last line names them. ``--csv`` and
``--markdown`` keep every column.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["compact", "print_frame"]

#: Text cells up to this long are kept on one line (``epoch 3``, ``constant``).
_WORD = 12

#: Columns left out first when a table is too wide (patterns, in order).
_LESS = (r"grad_norm_max", r"grad_norm_mean", r"wall_time_s", r"seconds_to_target",
         r".*_min", r".*_max", r"final_train_loss", r"final_val_loss", r".*_std",
         r"open_(low|high)", r"best_epoch", r"diverged_epoch")


def compact(value: object) -> str:
    """A cell as short text: 4 significant digits, ``e4`` for ``e+04``, ``-`` if missing,
    ``yes``/``no`` for booleans.

    Example:
        >>> [compact(v) for v in (65570.0, 0.000123456, 1.5, float("nan"), True, 3)]
        ['6.557e4', '0.0001235', '1.5', '-', 'yes', '3']
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if hasattr(value, "item") and not isinstance(value, str):  # a numpy scalar
        return compact(value.item())
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return re.sub(r"e([+-])0*(\d)", lambda m: "e" + m[1].replace("+", "") + m[2],
                      f"{value:.4g}")
    return str(value)


def print_frame(console: Console, frame: pd.DataFrame, title: str, *,
                whole: str | None = None, headers: dict[str, str] | None = None) -> list[str]:
    """Print ``frame`` as a table that fits ``console``'s width; the column names left out.

    Args:
        console: where to print (its width is the limit).
        frame: the table; numeric columns right-aligned and never cut.
        title: the caption above it.
        whole: a text column kept on one line (a member's label); default: ``label`` when
            there is one, else the first column. It is never left out.
        headers: shown names by column (default: the name with ``_`` as spaces).
    """
    headers = headers or {}
    whole = whole if whole is not None else "label" if "label" in frame.columns \
        else frame.columns[0]
    cells = {c: [compact(v) for v in frame[c]] for c in frame.columns}
    shown = {c: headers.get(c, str(c).replace("_", " ")) for c in frame.columns}
    number = {c: pd.api.types.is_numeric_dtype(frame[c])
              and not pd.api.types.is_bool_dtype(frame[c]) for c in frame.columns}
    one_line = {c: number[c] or c == whole or max(map(len, cells[c]), default=0) <= _WORD
                for c in frame.columns}  # numbers, the label, short words: never broken
    need = {c: max([len(w) for w in shown[c].split()]
                   + [len(v) if one_line[c] else _longest_word(v) for v in cells[c]])
            for c in frame.columns}
    kept = _fitting(list(frame.columns), need, console.width, whole)
    spare = console.width - (sum(need[c] + 3 for c in kept) + 1)
    for c in kept:  # room left: whole column names, from the left
        if one_line[c] and spare > 0:
            wider = max(need[c], min(len(shown[c]), need[c] + spare))
            spare -= wider - need[c]
            need[c] = wider
    table = Table(title=Text(title), title_justify="left")  # Text: no rich markup read
    for c in kept:
        table.add_column(Text(shown[c], no_wrap=False, overflow="fold"),  # between words
                         justify="right" if number[c] else "left",
                         no_wrap=one_line[c], width=need[c] if one_line[c] else None)
    for i in range(len(frame)):
        table.add_row(*(Text(cells[c][i]) for c in kept))  # a name holding "[/x]" as written
    console.print(table)
    left_out = [shown[c] for c in frame.columns if c not in kept]
    if left_out:
        console.print(f"(left out at {console.width} columns: {', '.join(left_out)}; --csv "
                      "or --markdown keep every column)", markup=False)
    return left_out


def _longest_word(text: str) -> int:
    return max((len(w) for w in text.split()), default=1)


def _fitting(columns: Sequence[str], need: dict[str, int], width: int, whole: str) -> list[str]:
    """``columns`` less the least telling ones until they fit ``width`` (a rich table with
    a box: each column takes its width plus 3, the table 1 more)."""
    kept = list(columns)

    def total() -> int:
        return sum(need[c] + 3 for c in kept) + 1

    order = [c for pattern in _LESS for c in kept if re.fullmatch(pattern, str(c))]
    order += [c for c in reversed(kept) if c not in order]
    for c in dict.fromkeys(order):
        if total() <= width or len(kept) <= 2:
            break
        if c != whole:
            kept.remove(c)
    return kept

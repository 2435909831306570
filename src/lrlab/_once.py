"""Said once per call: lines a call may find out many times, such as "this model cannot be
vectorised", which every population of a search finds out anew (the untrained model's
evaluation, the range test, each race), in whichever mode (evaluating, training).

:func:`warn_once` scopes a call: every search, ``sweep``, ``fit`` and the command line run
inside one (an inner one joins the outer); :func:`first_time` says whether a line is new in
it. Code that silences warnings (a probe of the first batch) runs in :func:`unheard`: what
it says there does not count as said. Nothing is remembered past the outermost, so each call says it again whatever the
warnings filters did (the warnings module's own registry, which dedupes a line per place,
is cleared by every filter change, and lrlab changes filters in places).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["first_time", "unheard", "warn_once"]

#: What has been said in the current :func:`warn_once` scope, or None outside one.
_SAID: ContextVar[set[tuple[str, ...]] | None] = ContextVar("lrlab_said", default=None)


@contextmanager
def warn_once() -> Iterator[None]:
    """A scope in which each line :func:`first_time` is asked about is said once; usable as a
    decorator (``@warn_once()``).

    Example:
        >>> with warn_once():
        ...     first_time("Model", "why"), first_time("Model", "why")
        (True, False)
        >>> first_time("Model", "why")  # outside any scope: always
        True
    """
    if _SAID.get() is not None:
        yield
        return
    token = _SAID.set(set())
    try:
        yield
    finally:
        _SAID.reset(token)


@contextmanager
def unheard() -> Iterator[None]:
    """A scope whose warnings its caller silences: lines said in it are not said outside it
    (a fresh scope, dropped at its end)."""
    token = _SAID.set(set())
    try:
        yield
    finally:
        _SAID.reset(token)


def first_time(*key: str) -> bool:
    """Whether the line identified by ``key`` is to be said now: always outside
    :func:`warn_once`, inside it the first time only."""
    said = _SAID.get()
    if said is None:
        return True
    if key in said:
        return False
    said.add(key)
    return True

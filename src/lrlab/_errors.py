"""The one exception type for bad input.

Every check of user input raises :class:`LrlabError` with a single line that says what is
wrong and how to fix it. It subclasses :class:`ValueError` so Python callers can catch the
usual type; the command line turns it into that line on stderr and exit code 2.
"""

from __future__ import annotations

__all__ = ["DataError", "LrlabError", "ResultWarning", "first_line"]


class LrlabError(ValueError):
    """Bad input: the message is one line saying what is wrong and what to do."""


class DataError(LrlabError):
    """A data file or directory is missing, truncated or not what it claims to be."""


class ResultWarning(UserWarning):
    """A warning about a result just made (a study's optimum at the edge of the rates it
    swept), not about its input: the command line says it after the tables it is about."""


def first_line(err: BaseException, empty: str | None = None) -> str:
    """The first line of ``err``'s message, to quote it in one line; ``empty`` (default: the
    error's type name) when it has none.

        >>> first_line(RuntimeError("shapes differ\\nmore")), first_line(KeyError())
        ('shapes differ', 'KeyError')
    """
    said = str(err).strip()
    return said.splitlines()[0] if said else (type(err).__name__ if empty is None else empty)

"""The one exception type for bad input.

Every check of user input raises :class:`LrlabError` with a single line that says what is
wrong and how to fix it. It subclasses :class:`ValueError` so Python callers can catch the
usual type; the command line turns it into that line on stderr and exit code 2.
"""

from __future__ import annotations

__all__ = ["DataError", "LrlabError"]


class LrlabError(ValueError):
    """Bad input: the message is one line saying what is wrong and what to do."""


class DataError(LrlabError):
    """A data file or directory is missing, truncated or not what it claims to be."""

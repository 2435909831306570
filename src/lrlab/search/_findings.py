"""What a line of a search's evidence is about: every warning and note a :class:`Confidence`
holds, and every warning of a range test (:attr:`RangeTestResult.warnings
<lrlab.search.RangeTestResult.warnings>`), is a :class:`Finding`, its text with a ``kind``.

The text is for people and may be reworded; the kind is for programs (``auto``'s guards,
tests, a user's script reading ``search.json`` or ``range_test.json``) and stays: one short code per rule that
writes lines (:data:`KINDS`). A finding prints, compares, hashes and serialises as its
text, so code that reads warnings as strings reads them as before.

Example:
    >>> w = Finding("a tie across more than half a decade: ...", "wide_tie")
    >>> w.kind, w.startswith("a tie")
    ('wide_tie', True)
    >>> kind_of("a line from elsewhere")
    ''
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Self

__all__ = ["KINDS", "Finding", "by_kind", "kind_of", "kinds_of", "one_advice", "split_advice"]

#: Every kind of line, and what writes it.
KINDS: dict[str, str] = {
    # assess (every search that ranks rates by a validation score)
    "no_rate_learned": "no rate's score beat chance by more than the noise",
    "wide_tie": "a rate more than half a decade away (the runner-up or another) scored "
                "within the noise",
    "moving_tie": "a tie on a loss while both losses still fell fast",
    "next_failed": "the pick's next higher rate diverged or collapsed (warning or note)",
    "highest_searched": "the pick is the highest rate searched (warning or note)",
    "lowest_searched": "the pick is the lowest rate searched (warning or note)",
    # fastest
    "slowest_improving": "the score still improved at the slowest rate tried",
    # auto
    "race_unlearned": "no rate learned in auto's budget: the pick is a guess",
    "learned_longer": "nothing learned in the race; a rate learned in the longer race",
    "spike_recovered": "the pick was unstable after a one-epoch race and came back, learning, "
                       "in one more epoch",
    "no_clear_descent": "the range test showed no clear descent",
    "past_bottom": "the pick lies past the bottom of the range test's loss trend",
    "short_of_bottom": "the pick lies half a decade or more below that bottom",
    "lone_learner": "the only rate near it to beat chance: the lower neighbour taken",
    "lone_kept": "the only rate near it to beat chance, kept: the rates above showed no "
                 "sign of the edge",
    "lone_at_top": "the highest rate raced alone beat chance: the lowest loss of the others",
    "edge_moved": "the next higher rate blew up later: a quarter decade below taken",
    "few_steps": "the race trained each rate too few optimizer steps",
    "before_peak": "the race ended before the full training's schedule reached its peak",
    "short_on_loss": "a race ranked by a loss in fewer epochs than the training",
    "early_race": "the race ended while the pick's training loss had fallen by less than a "
                  "fifth: it ranked how fast the rates start",
    "costly": "the search cost more than a grid trained in full would (a note)",
    # find (RangeTestResult.warnings; "no_clear_descent" too)
    "too_few_steps": "too few steps to read the range test's curve",
    "next_step": "the curve reads better with another range (more steps, a lower start, "
                 "a higher end)",
    "dip_read_flat": "a shallow dip read as flat: the suggestion is read from where the "
                     "loss broke",
    "early_rise": "the loss rose above its start and fell again only at higher rates",
    "fell_back": "the loss rose past its low and fell back to about it at higher rates: read "
                 "below the rise",
    "bounded_loss": "a loss that never blew up: read halfway down its descent",
    "class_shares": "the first test's loss fell only to the loss of predicting the classes' "
                    "shares: a denser test below its break was read",
    "shallow_descent": "a descent of few noise units: the rate is placed roughly",
    "noisy_loss": "a loss whose noise is a large share of its level",
    "ragged_bottom": "a loss that scatters more at its bottom than it fell: the bottom is "
                     "placed by chance",
    "catapult_raised": "a flat curve's reading raised because it catapulted and settled",
    "unstable_reading": "a flat curve's reading unstable when trained: a lower rate taken",
    "plateau": "a flat curve under an SGD-like rule: which rate leaves the plateau may be "
               "the seed's luck; an adaptive rule may train it",
    "ranked_by_loss": "a task ranked by its loss: three rates to train for the full epochs",
    "short_training": "a training of few steps: the rates to train for the full epochs",
    "heavy_ball": "a training under heavy-ball momentum: the suggestion x (1 - m) up to it "
                  "(half a decade apart at most), and twice it",
    "slow_learner": "a training that ends still learning at the test's pace: the rates to "
                    "train for the full epochs",
    "seeds_disagree": "the seeds' own suggestions span more than a decade",
}


class Finding(str):
    """One line of evidence (a warning or a note) and its ``kind``, a key of :data:`KINDS`.

    Args:
        text: the line as printed.
        kind: which rule wrote it (a key of :data:`KINDS`; another raises ``ValueError``).

    Example:
        >>> import pickle
        >>> w = Finding("no rate learned: ...", "no_rate_learned")
        >>> pickle.loads(pickle.dumps(w)).kind
        'no_rate_learned'
    """

    kind: str

    def __new__(cls, text: str, kind: str) -> Self:
        if kind not in KINDS:
            raise ValueError(f"unknown finding kind {kind!r}: one of {', '.join(KINDS)}")
        self = super().__new__(cls, text)
        self.kind = kind
        return self

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]
        return str(self), self.kind


def kind_of(line: str) -> str:
    """The kind of ``line``: a :class:`Finding`'s, ``""`` for a plain string."""
    return getattr(line, "kind", "")


def kinds_of(lines: Iterable[str]) -> tuple[str, ...]:
    """The kind of each line (:func:`kind_of`)."""
    return tuple(kind_of(line) for line in lines)


#: Where a line's advice begins: the first clause, after ``"; "`` or ``": "``, that tells a
#: user what to do (every warning that advises ends with its advice).
_ADVICE = re.compile(r"(?:; |: )(?=(?:train |check the pick|compare |search on to |"
                     r"where a few percent matter|check the suggestion|check it against|"
                     r"to see how rates train|start lower|end higher|run the test|"
                     r"check the data|check that they reach))")


def split_advice(line: str) -> tuple[str, str]:
    """``line`` as its fact and its advice (the clause to its end that says what to do; ``""``
    where it advises nothing), each a :class:`Finding` of the line's kind where it is one.

    Example:
        >>> split_advice(Finding("no clear descent: placed from the top; check the pick "
        ...                      "against the rates either side", "no_clear_descent"))
        ('no clear descent: placed from the top', 'check the pick against the rates either side')
        >>> split_advice("the next higher rate 1 diverged: the pick sits near the edge")[1]
        ''
    """
    found = _ADVICE.search(line)
    if found is None:
        return line, ""
    kind = kind_of(line)
    fact, advice = line[:found.start()], line[found.end():]
    return (Finding(fact, kind), Finding(advice, kind)) if kind else (fact, advice)


def by_kind(order: Sequence[str]) -> Callable[[str], int]:
    """A line's place by its kind in ``order`` (after every kind there when not in it)."""
    return lambda line: (order.index(kind_of(line)) if kind_of(line) in order
                         else len(order))


def one_advice(lines: Sequence[str], rank: Callable[[str], int], *,
               it: str) -> tuple[tuple[str, ...], str]:
    """``lines`` and the one thing to do where two or more of them end with advice
    (:func:`split_advice`): each line's fact (its kind kept), and the advice of the first
    advising line by ``rank`` (lowest first; the earlier line among equals), its "it" said
    as ``it``. Otherwise ``lines`` unchanged and ``""``.

    Example:
        >>> one_advice([Finding("a noisy loss: check the suggestion against rates", "noisy_loss"),
        ...             Finding("ranked by a loss: train 1, 2 and 4", "ranked_by_loss")],
        ...            by_kind(("ranked_by_loss",)), it="the suggestion")
        (('a noisy loss', 'ranked by a loss'), 'train 1, 2 and 4')
    """
    advising = [w for w in lines if split_advice(w)[1]]
    if len(advising) < 2:
        return tuple(lines), ""
    first = min(advising, key=rank)
    advice = re.sub(r"^(train|compare|check) it\b", rf"\1 {it}", str(split_advice(first)[1]))
    return tuple(split_advice(w)[0] for w in lines), advice

"""A sweep's settings refused in plain words: the argument, what it must be, the value given
and an example, not the validation library's wording ("Input should be a valid list")."""

from __future__ import annotations

import pytest

from lrlab import LrlabError
from lrlab.train import validated

CASES = {
    "rates as one text": ({"lrs": "0.1,0.01"},
                          "lrs must be a list, got '0.1,0.01'; e.g. lrs=[0.1, 0.01]"),
    "no epochs": ({"lrs": [0.1], "epochs": 0},
                  "epochs must be at least 1, got 0; e.g. epochs=1"),
    "epochs not whole": ({"lrs": [0.1], "epochs": 2.5},
                         "epochs must be a whole number, got 2.5"),
    "a negative seed": ({"lrs": [0.1], "seeds": [0, -1]},
                        "every value of seeds must be at least 0, got -1"),
}


@pytest.mark.parametrize(("settings", "said"), CASES.values(), ids=CASES.keys())
def test_a_refused_setting_is_said_in_plain_words(settings, said):
    with pytest.raises(LrlabError) as err:
        validated(**settings)
    assert str(err.value) == said

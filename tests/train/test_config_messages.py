"""A sweep's settings refused in plain words: the argument, what it must be, the value given
and an example, not the validation library's wording ("Input should be a valid list")."""

from __future__ import annotations

import pytest

from lrlab import LrlabError
from lrlab.train import validated

CASES = {
    "rates as one text": ({"lrs": "0.1,0.01"},
                          "lrs must be a list, got '0.1,0.01'; e.g. lrs=[0.1, 0.01]"),
    "one rate, not a list": ({"lrs": 0.1}, "lrs must be a list, got 0.1; e.g. lrs=[0.1]"),
    "a count of seeds": ({"lrs": [0.1], "seeds": 3},  # find_lr's seeds=K
                         ("seeds must be a list, got 3; e.g. seeds=[0, 1, 2] for 3 seeds, or "
                         "seed=3 for one")),
    "no epochs": ({"lrs": [0.1], "epochs": 0},
                  "epochs must be at least 1, got 0; e.g. epochs=1"),
    "epochs not whole": ({"lrs": [0.1], "epochs": 2.5},
                         "epochs must be a whole number, got 2.5"),
    "a negative seed": ({"lrs": [0.1], "seeds": [0, -1]},
                        "every value of seeds must be at least 0, got -1"),
    # Python takes True for 1: norm_batches=True (meant as "yes") ran as one batch
    "a bool for a count": ({"lrs": [0.1], "norm_batches": True},
                           "norm_batches must be a whole number, not a bool, got True"),
    "a bool for epochs": ({"lrs": [0.1], "epochs": True},
                          "epochs must be a whole number, not a bool, got True"),
    "a bool for a seed": ({"lrs": [0.1], "seeds": [0, False]},
                          "every value of seeds must be a whole number, not a bool, got False"),
    # dict settings (were "lr_mults.0: Input should be a valid dictionary", "hparams: ...",
    # "lr_mults: List should have at least 1 item after validation, not 0")
    "a layer-wise variant as the command line's text": (
        {"lrs": [0.1], "lr_mults": ["head.*=10"]},
        ("every value of lr_mults must be a dict, got 'head.*=10'; e.g. "
         "lr_mults=[{}, {'head.*': 10}] ({} is the uniform rate)")),
    "one layer-wise variant, not a list": (
        {"lrs": [0.1], "lr_mults": {"head.*": 10}},
        ("lr_mults must be a list, got {'head.*': 10}; e.g. lr_mults=[{}, {'head.*': 10}] "
         "({} is the uniform rate)")),
    "no layer-wise variant": ({"lrs": [0.1], "lr_mults": []},
                              ("lr_mults must be a non-empty list, got []; e.g. "
                               "lr_mults=[{}, {'head.*': 10}] ({} is the uniform rate)")),
    "a multiplier as text": ({"lrs": [0.1], "lr_mults": [{"head.*": "x"}]},
                             "lr_mults[0]['head.*'] must be a number, got 'x'"),  # was lr_mults.0.*
    "hyperparameters as text": ({"lrs": [0.1], "hparams": "momentum=0.9"},
                                ("hparams must be a dict, got 'momentum=0.9'; e.g. "
                                 "hparams={'momentum': 0.9}")),
    "a dtype torch has but lrlab trains in no": ({"lrs": [0.1], "dtype": "float16"},
                                                 ("dtype must be 'float32' or 'float64', got "
                                                  "'float16'")),
    "no rates": ({"lrs": []}, "lrs must be a non-empty list, got []"),
    # keywords no setting takes (were "momentum: Extra inputs are not permitted, got 0.9"):
    # an update rule's hyperparameter, as the command line's --momentum, goes in hparams
    "a hyperparameter as a setting": ({"lrs": [0.1], "momentum": 0.9},
                                      ("momentum is an update rule's hyperparameter, not a "
                                      "setting: give hparams={'momentum': 0.9}")),
    "the task's monitor": ({"lrs": [0.1], "monitor": "mae"},  # the CLI's --monitor
                           ("monitor is the task's, not a setting: give "
                            "task.replace(monitor='mae') (or Task(..., monitor=...))")),
    "a misspelt setting": ({"lrs": [0.1], "epoch": 3},
                           "no setting 'epoch'; did you mean 'epochs'?"),
    "no such setting": ({"lrs": [0.1], "colour": 3},
                        ("no setting 'colour'; the settings: lrs, optimizer, hparams, epochs, "
                        "batch_size, seed, seeds, lr_mults, schedules, device, dtype, path, "
                        "divergence_factor, record_steps, eval_batch_size, compile, "
                        "clip_grad_norm, schedule_over, norm_batches")),
}


@pytest.mark.parametrize(("settings", "said"), CASES.values(), ids=CASES.keys())
def test_a_refused_setting_is_said_in_plain_words(settings, said):
    with pytest.raises(LrlabError) as err:
        validated(**settings)
    assert str(err.value) == said


def test_a_bool_for_a_count_is_refused_by_sweep_before_training():
    """``lrlab.sweep(..., norm_batches=True)`` is refused in one line, not run with one batch;
    a count runs."""
    from lrlab import sweep

    with pytest.raises(LrlabError, match=r"^norm_batches must be a whole number, not a bool"):
        sweep("blobs", lrs=[0.1], epochs=1, norm_batches=True)
    assert validated(lrs=[0.1], norm_batches=10).norm_batches == 10


def test_a_hyperparameter_given_to_auto_as_a_setting_is_refused_before_training():
    """``auto(task, momentum=0.9)`` (the CLI's ``--momentum 0.9`` written as Python) says
    where it goes, before anything trains."""
    from lrlab.search import auto

    with pytest.raises(LrlabError, match=r"^momentum is an update rule's hyperparameter, not a "
                       r"setting: give hparams=\{'momentum': 0.9\}$"):
        auto("blobs", optimizer="momentum", momentum=0.9)

"""Where the best rate of an SGD training ranked by a loss sits against the edge of
stability that ``auto``'s race saw (issue 13, session 12).

For each scenario and seed: ``lrlab.search.auto`` runs as a user would (its race kept: each
raced rate's row as ``auto`` reads it, the untrained model's losses and the rates that blew
up), then the scenario's grid, every raced rate and a ladder of eighths of a decade below
the race's edge, the lowest raced rate above the pick that failed (:func:`_failed`), train
for the full epochs from that seed. One JSON line per run goes to ``--out``; ``--show`` reads
such a file and prints per run the edge, the grid's best and ``auto``'s pick against it, and
the two rules tried (:func:`below_edge`: the highest raced rate half a decade or more below
the edge; :func:`below_blowup`: a decade or more below the lowest raced rate that diverged or
blew up), each with its excess loss over the grid's best; then per scenario the mean and worst.
``--rates`` adds every trained rate's row. The race is kept by wrapping the private
``_auto._Race.__init__`` for the one call (:func:`run`): a benchmark's probe, not an API.

Run from benchmarks/ (``PYTHONPATH=../src:.``)::

    python edge_margin.py --out E.jsonl --seeds 0,1,2 "finder_tasks:regression sgd 1e-4 10"
    python edge_margin.py --out E.jsonl --seeds 0,1,2 "new_user:regression momentum"
    python edge_margin.py --show E.jsonl
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import warnings

import numpy as np

import lrlab
from lrlab.search import _auto

#: A raced rate whose training loss ended its race above this share of the untrained
#: model's learned next to nothing: the ladder starts below the lowest such rate.
STUCK = 0.9


def _spec(text: str) -> tuple:
    """``(make, rule, (low, high), floor)`` of ``module:function optimizer low high`` or of
    ``new_user:SCENARIO`` (a scenario of ``new_user.py``, its name as there)."""
    head, *rest = text.split()
    module, name = head.split(":")
    if module == "new_user":
        import new_user
        make, rule, span, _, floor = new_user._scenario(" ".join([name, *rest]))
        return make, rule, span, floor
    make = getattr(importlib.import_module(module), name)
    optimizer, low, high = rest[0], float(rest[1]), float(rest[2])
    rule = {"optimizer": optimizer}
    if len(rest) > 3:
        rule["hparams"] = {"momentum": float(rest[3])}
    return make, rule, (low, high), 0.0


def _failed(row: dict, untrained: float) -> bool:
    """Whether a raced rate failed in its race: diverged, unstable, blew up (its training
    loss over 2x the untrained model's after being stable), its validation loss over 2x the
    untrained model's, or its training loss ended the race above :data:`STUCK` of the
    untrained model's (it learned next to nothing)."""
    return (bool(row["diverged"]) or not bool(row.get("stable", True)) or bool(row["blew"])
            or not float(row.get("vloss", 0.0)) <= 2 * untrained
            or not float(row.get("last", 0.0)) <= STUCK)


def run(text: str, seed: int, grid: int) -> dict:
    make, rule, span, floor = _spec(text)
    races: list = []
    init = _auto._Race.__init__

    def keep(self, *a, **k):
        init(self, *a, **k)
        races.append(self)

    _auto._Race.__init__ = keep
    try:
        result = lrlab.search.auto(make(), seed=seed, **rule)
    finally:
        _auto._Race.__init__ = init
    race = races[-1]
    table = race.table().sort_values("lr")
    blew = race.blew_up()
    rows = [{k: (float(v) if isinstance(v, (int, float, np.floating, np.integer))
                 and not isinstance(v, (bool, np.bool_)) else
                 bool(v) if isinstance(v, (bool, np.bool_)) else str(v))
             for k, v in r.items()} for r in table.to_dict("records")]
    for r in rows:
        r["blew"] = any(math.isclose(r["lr"], b) for b in blew)
    edge = _edge(rows, result.lr, race.start[1])
    if not math.isfinite(edge):
        edge = max(r["lr"] for r in rows)
    rates = {float(f"{v:.3g}") for v in np.geomspace(*span, grid)}
    ladder = {float(f"{edge * 10 ** (-k / 8):.3g}") for k in range(1, 11)}
    lrs = sorted(rates | {r["lr"] for r in rows} | ladder | {result.lr})
    swept = lrlab.sweep(make(), lrs=lrs, seeds=[seed], **rule)
    best = swept.summary().groupby("lr")[f"best_val_{swept.monitor}"].mean()
    return {"spec": text, "seed": seed, "pick": result.lr, "race": rows, "edge": edge,
            "start": list(race.start), "horizon": race.horizon, "epochs": race.p.epochs,
            "grid": sorted(rates), "floor": floor, "higher": swept.higher_is_better,
            "monitor": swept.monitor, "kinds": list(result.confidence.kinds),
            "full": {repr(float(k)): float(v) for k, v in best.items()}}


def _edge(rows: list[dict], pick: float, untrained: float) -> float:
    """The lowest raced rate above ``pick`` that failed (:func:`_failed`); ``inf`` if none."""
    return min((r["lr"] for r in rows if r["lr"] > pick * (1 + 1e-9)
                and _failed(r, untrained)), default=math.inf)


def below_edge(r: dict, margin: float = 10 ** 0.5) -> float:
    """The rule tried: where a raced rate above the pick failed, the highest raced rate that
    did not fail and lies ``margin`` (half a decade, the race's step) or more below the
    lowest such failure, if that is above the pick; else the pick."""
    edge = _edge(r["race"], r["pick"], r["start"][1])
    ok = [x["lr"] for x in r["race"] if not _failed(x, r["start"][1])
          and x["lr"] <= edge / margin * 1.01]
    return max([r["pick"], *ok]) if math.isfinite(edge) else r["pick"]


def below_blowup(r: dict, margin: float = 10.0) -> float:
    """The second rule tried: where a raced rate above the pick diverged, was unstable or
    blew up, the highest raced rate that did not fail (:func:`_failed`) and lies ``margin``
    (a decade) or more below the lowest such rate, if that is above the pick; else the pick."""
    gone = [x["lr"] for x in r["race"] if x["lr"] > r["pick"] * (1 + 1e-9)
            and (x["diverged"] or not x.get("stable", True) or x["blew"])]
    if not gone:
        return r["pick"]
    ok = [x["lr"] for x in r["race"] if not _failed(x, r["start"][1])
          and x["lr"] <= min(gone) / margin * 1.01]
    return max([r["pick"], *ok])


def _excess(r: dict, lr: float) -> float:
    full = {float(k): v for k, v in r["full"].items()}
    finite = [full[g] for g in r["grid"] if math.isfinite(full[g])]
    best = min(finite)
    mine = full.get(lr, math.nan)
    if not math.isfinite(mine):
        mine = max(finite)
    return 100 * ((mine - r["floor"]) / (best - r["floor"]) - 1)


def show(path: str, rates: bool = False) -> None:
    """One row per run of ``path`` (a JSON line each), and per scenario the mean and worst
    excess loss of ``auto``, :func:`below_edge` and :func:`below_blowup`; ``rates``: every
    rate's row too."""
    print("| scenario | seed | race | edge | grid best (/ edge) | auto (/ edge) | excess "
          "| below edge | excess | below blow-up | excess |")
    print("| :-- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |")
    totals: dict[str, list[tuple[float, float, float]]] = {}
    with open(path) as f:
        runs = [json.loads(line) for line in f]
    for r in runs:
        if r["monitor"] != "loss":
            print(f"| {r['spec']} | {r['seed']} | ranked by {r['monitor']}: not a loss |")
            continue
        full = {float(k): v for k, v in r["full"].items()}
        bl = min((g for g in r["grid"] if math.isfinite(full[g])), key=lambda g: full[g])
        edge = _edge(r["race"], r["pick"], r["start"][1])
        rule, blown = below_edge(r), below_blowup(r)
        mine, moved, down = _excess(r, r["pick"]), _excess(r, rule), _excess(r, blown)
        totals.setdefault(r["spec"], []).append((mine, moved, down))
        on = [f" ({v / edge:.2f})" if math.isfinite(edge) else "" for v in (bl, r["pick"])]
        print(f"| {r['spec']} | {r['seed']} | {r['horizon']}/{r['epochs']} | "
              f"{edge:.3g} | {bl:.3g}{on[0]} | {r['pick']:.3g}{on[1]} | "
              f"{mine:+.1f}% | {rule:.3g} | {moved:+.1f}% | {blown:.3g} | {down:+.1f}% |")
        if not rates:
            continue
        raced = {row["lr"]: row for row in r["race"]}
        for lr in sorted(full):
            row = raced.get(lr)
            tag = ("R" if row else " ") + ("*" if math.isclose(lr, r["pick"]) else " ")
            race = (f"score {row['score']:.4g} last {row.get('last', math.nan):.3f} "
                    f"failed {int(_failed(row, r['start'][1]))}" if row else "")
            print(f"    {tag} {lr:<9.3g} full {_excess(r, lr):+8.1f}%  {race}")
    print()
    for spec, v in totals.items():
        a = np.array(v)
        print(f"{spec}: auto mean {a[:, 0].mean():+.1f}% worst {a[:, 0].max():+.1f}%; "
              f"below edge mean {a[:, 1].mean():+.1f}% worst {a[:, 1].max():+.1f}%; "
              f"below blow-up mean {a[:, 2].mean():+.1f}% worst {a[:, 2].max():+.1f}% "
              f"({len(a)} runs)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("specs", nargs="*")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--grid", type=int, default=13)
    ap.add_argument("--out")
    ap.add_argument("--show")
    ap.add_argument("--rates", action="store_true", help="with --show: every rate's row")
    a = ap.parse_args()
    if a.show:
        show(a.show, a.rates)
        return
    for text in a.specs:
        for s in a.seeds.split(","):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = run(text, int(s), a.grid)
            with open(a.out, "a") as f:
                f.write(json.dumps(r) + "\n")
            print(f"{text} s{s}: pick {r['pick']} edge {r['edge']}", flush=True)


if __name__ == "__main__":
    main()

"""How varied a trace set's objective landscapes are across models: distinct optima, rank correlation, knob effects.

    python -m harness.sim.landscape sets=[traces/sim-v2,traces/sim-v1,traces/falcon-release] shares=traces/falcon-release
"""

from __future__ import annotations

import json

import hydra
import numpy as np
import pandas as pd
from hydra.utils import to_absolute_path
from omegaconf import DictConfig
from scipy.stats import spearmanr

from harness.config import one_line_errors
from harness.paths import CONF_DIR
from harness.traces import TraceSet


def objective_matrix(traces: TraceSet) -> pd.DataFrame:
    """True objective per configuration (rows) and model (columns)."""
    return pd.DataFrame({m: traces.load(m).true_objective for m in traces.models})


def summary(traces: TraceSet) -> dict:
    table = objective_matrix(traces)
    optima = table.idxmax(axis=0)
    rho = spearmanr(table.to_numpy()).statistic
    rho = np.atleast_2d(rho)
    upper = np.triu_indices(len(table.columns), k=1)
    pairs = rho[upper]
    pearson = np.corrcoef(table.to_numpy().T)[upper]
    space = traces.space
    best = pd.DataFrame([space.config(int(i)) for i in optima], index=optima.index)
    normalised = table / table.max(axis=0)
    effects = {}
    configs = pd.DataFrame(list(space))
    for knob in space.names:  # spread of the mean normalised objective over a knob's values, mean over models
        means = normalised.groupby(configs[knob]).mean()
        effects[knob] = round(float((means.max() - means.min()).mean()), 3)
    return {"trace_set": traces.name, "models": len(table.columns),
            "distinct_optima": int(optima.nunique()),
            "rank_correlation_mean": round(float(pairs.mean()), 3),
            "rank_correlation_min": round(float(pairs.min()), 3),
            "rank_correlation_max": round(float(pairs.max()), 3),
            "pearson_correlation_mean": round(float(pearson.mean()), 3),
            "knob_effect": effects,
            "optimum_knob_values": {k: best[k].astype(str).value_counts().to_dict() for k in space.names},
            "feasible_fraction": round(float((table > 0).to_numpy().mean()), 3)}


def op_share_comparison(simulated: TraceSet, reference: TraceSet) -> pd.DataFrame:
    """Per model with a model-wide profile in `reference` (config_index -1, e.g. the authors' target models):
    its time share per operator type next to the simulated model-wide share."""
    rows = []
    for model in reference.models:
        ref = reference.load(model).operators
        if ref is None or model not in simulated.models:
            continue
        ops = simulated.load(model).operators
        ours = ops[ops["config_index"] == -1].set_index("op_type")["time_share"]
        theirs = ref[ref["config_index"] == -1].set_index("op_type")["time_share"]
        for op in sorted(set(ours.index) | set(theirs.index)):
            rows.append({"model": model, "op_type": op, "reference": float(theirs.get(op, 0.0)),
                         "simulated": round(float(ours.get(op, 0.0)), 4)})
    return pd.DataFrame(rows)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="sim/landscape")
def main(cfg: DictConfig) -> None:
    with one_line_errors("landscape"):
        sets = [TraceSet(to_absolute_path(p)) for p in cfg.sets]
        shares = TraceSet(to_absolute_path(cfg.shares)) if cfg.shares else None
        for traces in sets:
            print(json.dumps(summary(traces), indent=1))
        if shares is not None:
            table = op_share_comparison(sets[0], shares)
            print(table[(table["reference"] > 0.01) | (table["simulated"] > 0.01)].to_string(index=False))


if __name__ == "__main__":
    main()

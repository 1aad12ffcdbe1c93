"""The fits of what simulator v2 adds, run by `python -m harness.sim.calibrate mode=executor|gpus|cpu`.

- executor: operator time shares of the 12 target models under each executor setting, against the authors'
  released shares (model-operator/<m>/operators.csv): mean Jaccard of the key operators at 5 % and mean
  absolute share error. Shares are over the paper's four GPUs and six batch sizes at full power.
- gpus: the per-GPU corrections (K80 sustained clock, V100 compute efficiency) by least squares on the log of
  GPU-to-M60 forward-time ratios of the `public_forward_ms.fitted` models; the other models are held out.
- cpu: the CPU-serving parameters by least squares on log requests/s of a measured CPU trace set, fitted on all
  models but one and scored on that one (leave-one-model-out), then on all of them for the shipped values.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf
from scipy.optimize import least_squares

from harness.sim.simulator import Simulator
from harness.traces import TraceSet

PAPER_GPUS = ("K80", "M60", "T4", "V100")
PAPER_BATCHES = (4, 8, 16, 32, 64, 128)
KOP_THRESHOLD = 0.05
REFERENCE_GPU = "M60"


def model_shares(sim: Simulator, model: str) -> pd.Series:
    """Time share per operator type, summed over the paper's GPUs and batch sizes at full power."""
    total = pd.Series(dtype=float)
    for g, b in itertools.product(PAPER_GPUS, PAPER_BATCHES):
        t = pd.Series(sim.kernel_times_us(model, g, b), index=sim.batch_ops(model, b).op_types)
        total = total.add(t.groupby(level=0).sum(), fill_value=0.0)
    return total / total.sum()


def reference_shares(folder: Path) -> dict[str, pd.Series]:
    out = {}
    for f in sorted(Path(folder).glob("*/operators.csv")):
        table = pd.read_csv(f)
        out[f.parent.name] = table.set_index("op_name")["running time percentage"].astype(float) / 100.0
    return out


def share_agreement(sim: Simulator, reference: dict[str, pd.Series]) -> dict:
    """Mean Jaccard of key operators (>= 5 %) and mean |share difference| over types >= 1 % on either side."""
    jaccard, error, per_model = [], [], {}
    for model, theirs in reference.items():
        ours = model_shares(sim, model)
        a, b = set(ours[ours >= KOP_THRESHOLD].index), set(theirs[theirs >= KOP_THRESHOLD].index)
        jaccard.append(len(a & b) / len(a | b))
        types = [t for t in set(ours.index) | set(theirs.index) if max(ours.get(t, 0), theirs.get(t, 0)) > 0.01]
        error.append(float(np.mean([abs(ours.get(t, 0.0) - theirs.get(t, 0.0)) for t in types])))
        per_model[model] = {"jaccard": round(jaccard[-1], 2), "ours": sorted(a), "theirs": sorted(b)}
    return {"kop_jaccard": round(float(np.mean(jaccard)), 3), "share_error": round(float(np.mean(error)), 4),
            "per_model": per_model}


def score_executors(params, shares_dir: Path, grid) -> pd.DataFrame:
    reference = reference_shares(shares_dir)
    rows = [{"executor": "eager", **_score(OmegaConf.merge(params, {"executor": "eager"}), reference)}]
    for ef, te in itertools.product(grid.epilogue_fraction, grid.transpose_efficiency):
        p = OmegaConf.merge(params, {"executor": "fused", "executor_params": {"epilogue_fraction": ef,
                                                                              "transpose_efficiency": te}})
        rows.append({"executor": "fused", "epilogue_fraction": ef, "transpose_efficiency": te, **_score(p, reference)})
    return pd.DataFrame(rows)


def _score(params, reference) -> dict:
    s = share_agreement(Simulator(params), reference)
    return {"kop_jaccard": s["kop_jaccard"], "share_error": s["share_error"]}


# -- GPU corrections -----------------------------------------------------------------------------------------
def gpu_ratio_errors(params) -> pd.DataFrame:
    """Per (model, GPU): simulated and public forward-time ratio to the M60, and the relative error."""
    pub = params.public_forward_ms
    sim = Simulator(OmegaConf.merge(params, {"executor": pub.executor}))
    rows = []
    for model, times in pub.times.items():
        t = {g: float(sim.kernel_times_us(model, g, int(pub.batch_size)).sum()) for g in times}
        for g in times:
            if g == REFERENCE_GPU:
                continue
            simulated, public = t[g] / t[REFERENCE_GPU], times[g] / times[REFERENCE_GPU]
            rows.append({"model": model, "gpu": g, "fitted": model in pub.fitted, "simulated_ratio": simulated,
                         "public_ratio": public, "error": simulated / public - 1.0})
    return pd.DataFrame(rows)


def fit_gpu_corrections(params) -> dict:
    """K80 sustained clock in [base, boost] and V100 compute efficiency in [1, 2], fitted on the fitted models."""
    def with_values(x):
        return OmegaConf.merge(params, {"gpu_corrections": {"K80": {"sustained_clock_mhz": float(x[0])},
                                                            "V100": {"compute_efficiency": float(x[1])}}})

    def residuals(x):
        e = gpu_ratio_errors(with_values(x))
        return np.log1p(e.loc[e["fitted"], "error"].to_numpy())

    result = least_squares(residuals, x0=[750.0, 1.2], bounds=([562.0, 1.0], [875.0, 2.0]), diff_step=1e-3)
    fitted = with_values(result.x)
    uncorrected = OmegaConf.create(OmegaConf.to_container(params))
    uncorrected.gpu_corrections = {}
    before = gpu_ratio_errors(uncorrected)
    after = gpu_ratio_errors(fitted)
    summary = lambda e, held: round(float(e.loc[e["fitted"] != held, "error"].abs().median()) * 100, 1)
    return {"K80.sustained_clock_mhz": round(float(result.x[0])), "V100.compute_efficiency": round(float(result.x[1]), 2),
            "median_abs_ratio_error_pct": {"uncorrected_fitted": summary(before, False),
                                           "uncorrected_held_out": summary(before, True),
                                           "corrected_fitted": summary(after, False),
                                           "corrected_held_out": summary(after, True)},
            "per_model": after.round(3).to_dict(orient="records")}


# -- CPU serving -----------------------------------------------------------------------------------------------
CPU_FREE = ("conv_gflops", "gemm_gflops", "mem_gbps", "op_overhead_us", "parallel_efficiency", "request_scale")
CPU_BOUNDS = ([1.0, 1.0, 0.5, 0.5, 0.05, 0.1], [500.0, 500.0, 100.0, 500.0, 1.0, 20.0])


def measured_cpu(traces: Path) -> dict[str, pd.DataFrame]:
    """Median requests/s and objective per (cores, batch) of each measured model."""
    ts = TraceSet(traces)
    out = {}
    for model in ts.models:
        m = ts.load(model).measurements
        m = m[m["feasible"]]
        out[model] = m.groupby(["cpu_cores", "batch_size"], as_index=False)[["rps", "objective"]].median()
    return out


_CPU_SIMS: dict[int, Simulator] = {}


def _cpu_sim(params, x) -> Simulator:
    """A simulator with CPU-serving values `x` and no model effects; one per parameter set, reused so the
    inventories are read once."""
    values = dict(zip(CPU_FREE, map(float, x)))
    if id(params) not in _CPU_SIMS:
        _CPU_SIMS[id(params)] = Simulator(params)
    sim = _CPU_SIMS[id(params)]
    sim.params = OmegaConf.merge(params, {"cpu_serving": values, "noise": {"model_effect_scale": 0.0}})
    return sim


def _predict_cpu(sim: Simulator, model: str, table: pd.DataFrame) -> dict:
    return sim.simulate(model, {"cpu_cores": table["cpu_cores"].to_numpy(), "batch_size": table["batch_size"].to_numpy()})


def _fit_cpu(params, data: dict[str, pd.DataFrame]) -> np.ndarray:
    start = np.array([params.cpu_serving[k] for k in CPU_FREE], dtype=float)

    def residuals(logx):
        sim = _cpu_sim(params, np.exp(logx))
        return np.concatenate([np.log(_predict_cpu(sim, m, t)["rps"]) - np.log(t["rps"].to_numpy())
                               for m, t in data.items()])

    result = least_squares(residuals, np.log(np.clip(start, CPU_BOUNDS[0], CPU_BOUNDS[1])),
                           bounds=(np.log(CPU_BOUNDS[0]), np.log(CPU_BOUNDS[1])), loss="soft_l1", f_scale=0.2)
    return np.exp(result.x)


def _cpu_errors(sim: Simulator, model: str, t: pd.DataFrame) -> dict:
    e = _predict_cpu(sim, model, t)
    rps_err = np.abs(e["rps"] / t["rps"].to_numpy() - 1.0)
    best_sim, best_meas = int(np.argmax(e["objective"])), int(np.argmax(t["objective"].to_numpy()))
    regret = 1.0 - t["objective"].iloc[best_sim] / t["objective"].iloc[best_meas]
    return {"median_rps_error_pct": round(float(np.median(rps_err)) * 100, 1),
            "optimum_simulated": {"cpu_cores": int(t["cpu_cores"].iloc[best_sim]),
                                  "batch_size": int(t["batch_size"].iloc[best_sim])},
            "optimum_measured": {"cpu_cores": int(t["cpu_cores"].iloc[best_meas]),
                                 "batch_size": int(t["batch_size"].iloc[best_meas])},
            "optimum_regret_pct": round(float(regret) * 100, 1)}


def fit_cpu_serving(params, traces: Path) -> dict:
    data = measured_cpu(traces)
    held_out = {}
    for model in data:
        x = _fit_cpu(params, {m: t for m, t in data.items() if m != model})
        held_out[model] = _cpu_errors(_cpu_sim(params, x), model, data[model])
    x = _fit_cpu(params, data)
    sim = _cpu_sim(params, x)
    return {"fitted_on_all": {k: float(f"{v:.3g}") for k, v in zip(CPU_FREE, x)},
            "in_sample": {m: _cpu_errors(sim, m, t) for m, t in data.items()},
            "leave_one_model_out": held_out}

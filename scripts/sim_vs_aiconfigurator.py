"""Hold sim-v2's GPU kernel model to AIConfigurator's measured kernel tables (docs/simulator.md, "sim-v2 against
measured LLM kernels"): GEMMs and attention at the tables' shapes on the GPUs both know (A100, H100, H200).

    python scripts/sim_vs_aiconfigurator.py          # needs the `llm` extra (aiconfigurator-core)

sim-v2 models FP32 kernels on CUDA cores only (harness/sim/opcost.py: 4 bytes per value, fp32_tflops); the
tables hold BF16 (and FP8) tensor-core kernels, as LLM serving runs them. No FP32 table exists, so the nearest
match is sim-v2's FP32 prediction against the measured BF16 time; the printed ratios say how far that is.
Attention has no operator of its own in sim-v2: it is costed as the Relay operators a compiler would emit
(batch_matmul Q.K^T, softmax, batch_matmul P.V), with K and V expanded to every query head.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.sim import predict_op

GPUS = {"A100": "a100_sxm", "H100": "h100_sxm", "H200": "h200_sxm"}  # sim-v2 name -> AIConfigurator system
MAX_ROWS = 4000  # per GPU and table: an evenly spaced, deterministic sample keeps the run to a minute


def _table(system: str, kind: str, name: str) -> pd.DataFrame:
    from aiconfigurator_core import __file__ as package

    folders = sorted((Path(package).parent / "systems" / "data" / system / kind / "vllm").iterdir())
    df = pd.read_parquet(folders[-1] / name)  # the newest vLLM version collected on this GPU
    return df


def _sample(df: pd.DataFrame) -> pd.DataFrame:
    step = max(1, len(df) // MAX_ROWS)
    return df.iloc[::step]


def gemm_rows(sim_gpu: str, system: str) -> pd.DataFrame:
    df = _table(system, "gemm", "gemm_perf.parquet")
    df = _sample(df[df.gemm_dtype == "bfloat16"].sort_values(["m", "n", "k"]).reset_index(drop=True))
    pred = [predict_op("dense", f"((-1, {k}), ({n}, {k}))", int(m), sim_gpu) for m, n, k in zip(df.m, df.n, df.k)]
    return pd.DataFrame({"gpu": sim_gpu, "kind": np.where(df.m <= 16, "gemm m<=16 (decode)", np.where(
        df.m >= 1024, "gemm m>=1024 (prefill)", "gemm 16<m<1024")), "measured_ms": df.latency.to_numpy(),
        "sim_ms": pred})


def attention_rows(sim_gpu: str, system: str, phase: str) -> pd.DataFrame:
    df = _table(system, "attention", f"{phase}_attention_perf.parquet")
    full = df.window_size == 0 if "window_size" in df else True  # sliding-window rows left out
    df = df[(df.attn_dtype == "bfloat16") & (df.kv_cache_dtype == "bfloat16") & full]
    df = _sample(df.sort_values(["batch_size", "isl", "num_heads", "head_dim", "step"]).reset_index(drop=True))
    pred = []
    for b, isl, h, d, step in zip(df.batch_size, df.isl, df.num_heads, df.head_dim, df.step):
        q, kv = (int(isl), int(isl)) if phase == "context" else (1, int(isl) + int(step))
        heads = int(b) * int(h)
        pred.append(predict_op("batch_matmul", f"(({heads}, {q}, {d}), ({heads}, {kv}, {d}))", 1, sim_gpu)
                    + predict_op("softmax", f"(({heads}, {q}, {kv}),)", 1, sim_gpu)
                    + predict_op("batch_matmul", f"(({heads}, {q}, {kv}), ({heads}, {d}, {kv}))", 1, sim_gpu))
    return pd.DataFrame({"gpu": sim_gpu, "kind": f"attention ({phase})", "measured_ms": df.latency.to_numpy(),
                         "sim_ms": pred})


def compare() -> pd.DataFrame:
    rows = []
    for sim_gpu, system in GPUS.items():
        rows += [gemm_rows(sim_gpu, system), attention_rows(sim_gpu, system, "context"),
                 attention_rows(sim_gpu, system, "generation")]
    df = pd.concat(rows, ignore_index=True)
    df = df[df.measured_ms > 0]
    df["ratio"] = df.sim_ms / df.measured_ms
    df["abs_error"] = (df.ratio - 1).abs()
    return df


def summary(df: pd.DataFrame) -> pd.DataFrame:
    return df.groupby(["kind", "gpu"]).agg(
        n=("ratio", "size"), median_abs_error=("abs_error", "median"), median_ratio=("ratio", "median"),
        ratio_p10=("ratio", lambda r: r.quantile(0.1)), ratio_p90=("ratio", lambda r: r.quantile(0.9)),
        within_2x=("ratio", lambda r: float(((r > 0.5) & (r < 2)).mean())))


if __name__ == "__main__":
    table = compare()
    pd.set_option("display.width", 160)
    print(summary(table).round(3).to_string())
    print(f"\nall {len(table)} kernels: median |sim/measured - 1| = {table.abs_error.median():.3f}, "
          f"median sim/measured = {table.ratio.median():.3f}")

"""The shipped measured CPU trace set: it validates, carries its provenance, and searches run on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from baselines.random_search import RandomSearch
from harness.results import read_job
from harness.job import check_job, run_job
from harness.job import replay_search
from harness.space import load_space
from harness.traces import TraceSet

REPO = Path(__file__).resolve().parents[2]
SET = REPO / "traces" / "measured-cpu"
SPLIT = OmegaConf.load(REPO / "conf" / "split" / "measured_cpu.yaml")


@pytest.fixture(scope="module")
def measured() -> TraceSet:
    return TraceSet(SET)


def test_the_set_is_complete_real_and_documented(measured):
    assert measured.models == sorted(SPLIT.source + SPLIT.target)
    assert measured.space == load_space("cpu_local")
    for model in measured.models:
        trace = measured.load(model)  # checks the SHA-256 of every file and validates the tables
        md = trace.metadata
        assert md["provenance"] == "measured" and md["backend"] == "cpu"
        assert md["machine"]["cpu"] and md["sessions"] and all(s["load_avg"] for s in md["sessions"])
        assert md["software"]["torch"] and md["date_start"] <= md["date_end"]
        assert md["price_model"]["per_core_usd_per_h"] > 0 and "c6i" in md["price_model"]["source"]
        assert trace.n_reps == 3 and trace.feasible.any()
        failed = trace.measurements[~trace.measurements["feasible"]]
        assert failed["reason"].str.len().gt(0).all()  # an outcome such as a timeout is recorded with its reason
        m = trace.measurements[trace.measurements["feasible"]]
        assert (m["rps"] > 0).all() and (m["latency_p99_ms"] >= m["latency_p50_ms"]).all()
        np.testing.assert_allclose(m["objective"], m["rps"] * 3600 / m["price_per_hour"])
        assert {"power_w", "gpu_mem_used_gb"} <= set(md["missing_fields"])  # no GPU here: absent, not zero
        for index in np.flatnonzero(trace.feasible):  # a configuration that timed out has no profile
            ops = trace.op_profile(int(index))
            assert ops and sum(o.time_share for o in ops.values()) == pytest.approx(1.0)


def test_random_search_on_the_measured_target(measured):
    trace = measured.load(SPLIT.target[0])
    for seed in range(3):
        records = list(replay_search(RandomSearch(), trace, seed, trials=len(trace.space)))
        accuracy = [r.accuracy for r in records]
        assert all(0 < a <= 1 for a in accuracy) and accuracy == sorted(accuracy)
        assert accuracy[-1] == 1.0  # every configuration tried: the optimum is found


@pytest.mark.parametrize("method", ["falcon", "gp_bo"])
def test_falcon_and_a_baseline_run_on_the_measured_set_through_the_run_app(tmp_path, method):
    """Falcon learns its curves from the measured sources' per-configuration operator profiles."""
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("run", overrides=["traces=measured_cpu", "split=measured_cpu", f"method={method}",
                                        f"target={SPLIT.target[0]}", "trials=6", "seed=0",
                                        f"results_dir={tmp_path}", f"traces.path={SET}"])
    job, records = read_job(run_job(check_job(cfg)))
    assert job["method"] == method and job["trace_set"] == "measured-cpu" and len(records) == 6
    assert len({r["index"] for r in records}) == 6
    assert all(0 < r["accuracy"] <= 1 for r in records)
    if method == "falcon":
        assert records[0]["phase"] == "profile"

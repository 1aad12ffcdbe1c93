"""Leave-one-model-out (`split=lomo`): every model of a trace set is a target once, the others its sources; no
fold applies tuned values that saw its target; the statistics take its targets as blocks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from harness import stats
from harness.config import ConfigError
from harness.hpo.tuned_values import tuned_file, tuned_source
from harness.job import JobError, check_job, compose_run, sources_for
from harness.paths import CONF_DIR, trace_set_path
from harness.results import read_jobs
from harness.sweep import plan
from harness.traces import TraceSet
from harness.worlds import run_study
from hydra_plugins.falcon_bench.split_sweeper import SplitSweeper

SIM_V1 = ["traces=sim_v1", "split=lomo"]
SWEEP_METHODS = list(OmegaConf.load(CONF_DIR / "sweep.yaml").methods)


@pytest.fixture(scope="module")
def sim_v1_models() -> list[str]:
    return TraceSet(trace_set_path(compose_run(["traces=sim_v1"]).traces.path)).models


def test_lomo_on_sim_v1_plans_all_30_models_each_with_the_other_29_as_sources(tmp_path, sim_v1_models):
    jobs = plan(["falcon"], None, 1, str(tmp_path), [*SIM_V1, "tuned=false"])
    assert len(sim_v1_models) == 30
    assert [job.cfg.target for job in jobs] == sim_v1_models
    for job in jobs:
        others = [m for m in sim_v1_models if m != job.cfg.target]
        assert sources_for(job.cfg, job.traces) == others
        assert job.identity["split"] == {"name": "lomo", "source": others}
    assert len({json.dumps(job.identity, sort_keys=True) for job in jobs}) == 30
    assert len({job.folder for job in jobs}) == 30


def test_the_paper_split_keeps_its_12_targets_and_its_identity(tmp_path):
    jobs = plan(["random"], None, 1, str(tmp_path), ["traces=sim_v1"])
    split = compose_run([]).split
    assert [job.cfg.target for job in jobs] == list(split.target)
    assert all(job.identity["split"] == {"name": "paper", "source": list(split.source)} for job in jobs)


@pytest.mark.parametrize("method", [*SWEEP_METHODS, "falcon_cutoff090"])
def test_no_fold_applies_tuned_values_tuned_with_its_target_among_their_sources(tmp_path, method, sim_v1_models):
    """sim-v1 has tuned values for every method: tuned=true is refused in one line for every fold, for a target the
    tuning saw (resnet-152, a source of the paper split) and one it did not (vgg16); tuned=false applies nothing."""
    for target in ("vgg16", "resnet-152"):
        cfg = compose_run([*SIM_V1, f"method={method}", f"target={target}", f"results_dir={tmp_path}"])
        assert tuned_file("sim-v1", tuned_source(cfg.method)[0]).is_file()
        with pytest.raises(JobError, match=r"^split 'lomo' is leave-one-model-out: .*set tuned=false") as e:
            check_job(cfg)
        assert "\n" not in str(e.value)
    jobs = plan([method], None, 1, str(tmp_path), [*SIM_V1, "tuned=false"])
    assert [job.cfg.target for job in jobs] == sim_v1_models
    assert all("applied" not in (job.cfg.method.get("tuning") or {}) for job in jobs)
    assert all("applied" not in (job.identity["method"].get("tuning") or {}) for job in jobs)


def test_lomo_with_tuned_true_applies_nothing_on_a_world_without_tuned_values(tmp_path):
    assert not tuned_file("measured-cpu", "falcon").is_file()
    jobs = plan(["falcon"], None, 1, str(tmp_path), ["traces=measured_cpu", "split=lomo", "trials=10"])
    assert len(jobs) == 6 and all("applied" not in (job.cfg.method.get("tuning") or {}) for job in jobs)


def test_a_lomo_split_that_also_names_models_is_refused(tmp_path):
    cfg = compose_run([*SIM_V1, "tuned=false", "split.source=[vgg16]", f"results_dir={tmp_path}",
                       "target=gru"])
    with pytest.raises(ConfigError, match="leave_one_out=true .* leave split.source and split.target empty"):
        check_job(cfg)


def test_the_split_sweeper_globs_over_every_model_under_lomo(sim_v1_models):
    sweeper = SplitSweeper()
    sweeper.config = compose_run(SIM_V1)
    assert sweeper.expand("target=glob(*)") == "target=" + ",".join(sim_v1_models)
    # resnet-152 is a source of the paper split: under LOMO it is a target too
    assert sweeper.expand("target=glob(res*,exclude=*-v2)") == "target=resnet-101,resnet-152"
    sweeper.config = compose_run(["traces=sim_v1"])
    assert sweeper.expand("target=glob(res*)") == "target=resnet-101,resnet-152-v2"


def test_the_statistics_take_the_30_lomo_targets_as_30_blocks(sim_v1_models):
    rng = np.random.default_rng(0)
    rows = [{"trace_set": "sim-v1", "method": m, "target": t, "seed": s, "trial": 6, "accuracy": rng.random()}
            for m in ("a", "b", "c") for t in sim_v1_models for s in range(3)]
    table = stats.score_table(pd.DataFrame(rows), 6, ["a", "b", "c"])
    assert sorted(table.index) == sorted(f"sim-v1/{t}" for t in sim_v1_models)
    assert stats.compare(table).blocks == 30


@pytest.mark.slow
def test_the_study_runs_a_lomo_world_on_every_model_with_defaults(tmp_path):
    cfg = OmegaConf.load(CONF_DIR / "worlds.yaml")
    del cfg["defaults"]
    cfg.methods, cfg.tuned, cfg.n_jobs, cfg.seeds, cfg.trials = ["random", "source_best", "ernest"], True, 1, 1, 3
    cfg.results_dir, cfg.cache_dir = str(tmp_path / "results"), str(tmp_path / "cache")
    cfg.worlds, cfg.leave_one_model_out = ["measured-cpu"], True
    text = run_study(cfg).read_text()
    models = TraceSet(trace_set_path(compose_run(["traces=measured_cpu"]).traces.path)).models
    assert f"| measured-cpu | conf/traces/measured_cpu.yaml | {len(models)} | none (defaults) |" in text
    jobs = read_jobs(tmp_path / "results")
    assert sorted({j.job["target"] for j in jobs}) == sorted(models)
    assert {j.job["split"] for j in jobs} == {"lomo"}


def test_hyperparameter_tuning_refuses_a_leave_one_out_split_with_one_line():
    from harness.hpo.protocol import HPOProtocol, TuningError, check

    with pytest.raises(TuningError, match="split=lomo is leave-one-model-out: it names no source models to tune on"):
        check(["random"], ["split=lomo"], HPOProtocol())

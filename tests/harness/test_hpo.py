"""harness.hpo: one hyperparameter-tuning protocol for every method, reproducible, on source models only; the
tuned values runs apply (harness.hpo.tuned_values)."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pandas as pd
import pytest
from omegaconf import OmegaConf

import harness.traces
from harness.paths import CONF_DIR
from harness.results import read_job
from harness.job import JobError, check_job, compose_run, run_job
from harness.hpo.protocol import HPOProtocol as Protocol, TuningError, check, params_of, source_folds, tune_method, write_record
from harness.hpo.tuned_values import apply_tuned, tuned_file

SOURCES = ["resnet-152", "densenet-121", "wgan", "dcgan"]
SPLIT = [f"split.source=[{','.join(SOURCES)}]"]
TINY = Protocol(budget=3, folds=2, seeds=1, trials=3, seed=0)


def without_time(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "seconds"}


@pytest.fixture(scope="module")
def tuned_twice():
    """Vesta (a transfer method) tuned twice by the same call, with every trace file read recorded."""
    reads: list[str] = []
    real_read, real_hash = pd.read_parquet, harness.traces.sha256_file

    def spy_read(path, *args, **kwargs):
        reads.append(str(path))
        return real_read(path, *args, **kwargs)

    def spy_hash(path):
        reads.append(str(path))
        return real_hash(path)

    with mock.patch.object(pd, "read_parquet", spy_read), mock.patch.object(harness.traces, "sha256_file", spy_hash):
        records = [tune_method("vesta", SPLIT, Protocol(**TINY.__dict__)) for _ in range(2)]
    return records, reads


def test_the_same_command_gives_the_same_tuned_values(tuned_twice):
    (first, second), _ = tuned_twice
    assert without_time(first) == without_time(second)
    assert len(first["trials"]) == 3 and set(first["values"]) == {"searcher.temperature", "searcher.n_labels"}
    # the configured defaults are the first candidate
    assert first["trials"][0]["values"] == first["defaults"] == {"searcher.temperature": 0.2, "searcher.n_labels": 12}
    assert first["best_objective"] == max(t["objective"] for t in first["trials"])


def test_no_target_model_is_read_during_tuning(tuned_twice):
    _, reads = tuned_twice
    targets = set(compose_run([]).split.target)
    read_models = {Path(p).parent.name for p in reads}
    assert read_models and read_models <= set(SOURCES)
    assert not read_models & targets


def test_folds_deal_the_sources_round_robin():
    assert source_folds(["a", "b", "c", "d", "e"], 2) == [["a", "c", "e"], ["b", "d"]]
    assert source_folds(["a", "b", "c"], 3) == [["a"], ["b"], ["c"]]


def test_methods_without_parameters_score_only_their_defaults():
    record = tune_method("source_best", SPLIT, Protocol(**TINY.__dict__))
    assert record["values"] == {} and len(record["trials"]) == 1


@pytest.mark.parametrize("block, message", [
    ({"params": {"searcher.nope": {"low": 0, "high": 1}}}, "not a key of the method config"),
    ({"params": {"searcher.temperature": {"low": 1.0, "high": 0.5}}}, "needs numbers low < high"),
    ({"params": {"searcher.temperature": {"low": 0.5, "high": 1.0}}}, "outside the range"),
    ({"params": {"searcher.temperature": {"low": 0.0, "high": 1.0, "log": True}}}, "log range needs low > 0"),
    ({"params": {"searcher.temperature": {"lo": 0.0, "high": 1.0}}}, "unknown field"),
    ({"of": "falcon"}, "variant of 'falcon'"),
    ({}, "has no `tuning"),
])
def test_bad_tuning_blocks_get_one_clear_message(block, message):
    method = compose_run(["method=vesta"]).method
    OmegaConf.set_struct(method, False)
    method.tuning = block
    with pytest.raises(TuningError, match=message):
        params_of(method)


def test_a_bad_protocol_is_refused_before_any_work():
    with pytest.raises(TuningError, match="folds=5: must be between 2"):
        check(["random"], SPLIT, Protocol(folds=5))
    with pytest.raises(TuningError, match="budget=0"):
        check(["random"], SPLIT, Protocol(budget=0))


def test_every_method_of_the_sweep_declares_a_valid_tuning_block():
    for method in OmegaConf.load(CONF_DIR / "sweep.yaml").methods:
        params_of(compose_run([f"method={method}"]).method)


# -- applying tuned values (harness/hpo/tuned_values.py, harness/job.py) ---------------------------------------------------
@pytest.fixture
def tuned_root(tmp_path, tuned_twice):
    (record, _), _ = tuned_twice
    record = {**record, "values": {"searcher.temperature": 0.5, "searcher.n_labels": 7}}
    write_record(record, tmp_path / "tuned")
    return tmp_path / "tuned", record


def test_a_run_applies_the_tuned_values_and_records_them(tuned_root, tmp_path):
    root, record = tuned_root
    cfg = compose_run(["method=vesta", "target=vgg16", "trials=2", f"results_dir={tmp_path / 'r'}"])
    with mock.patch("harness.job.apply_tuned", lambda c, s, d: apply_tuned(c, s, d, root)):
        folder = run_job(check_job(cfg))
    job, _ = read_job(folder)
    assert job["method_config"]["searcher"]["temperature"] == 0.5
    assert job["method_config"]["searcher"]["n_labels"] == 7
    assert job["method_config"]["tuning"]["applied"]["values"] == record["values"]


def test_tuned_false_keeps_the_configured_values(tuned_root, tmp_path):
    root, _ = tuned_root
    cfg = compose_run(["method=vesta", "target=vgg16", "trials=2", "tuned=false", f"results_dir={tmp_path}"])
    with mock.patch("harness.job.apply_tuned", lambda c, s, d: apply_tuned(c, s, d, root)):
        job, _ = read_job(run_job(check_job(cfg)))
    assert job["method_config"]["searcher"]["temperature"] == 0.2 and "applied" not in job["method_config"]["tuning"]


def test_a_variant_takes_the_tuned_values_except_what_it_fixes(tmp_path):
    write_record({"method": "falcon", "trace_set": "sim-v1", "trace_set_digest": "d", "sources": SOURCES,
                  "values": {"searcher.cp": 0.3, "searcher.cutoff": 0.9}}, tmp_path)
    cfg = compose_run(["method=falcon_cutoff080", "target=vgg16"])
    assert apply_tuned(cfg, "sim-v1", "d", tmp_path) == {"searcher.cp": 0.3}
    assert cfg.method.searcher.cp == 0.3 and cfg.method.searcher.cutoff == 0.80


def test_stale_or_leaking_tuned_values_are_refused(tmp_path):
    write_record({"method": "vesta", "trace_set": "sim-v1", "trace_set_digest": "old", "sources": SOURCES,
                  "values": {"searcher.temperature": 0.5}}, tmp_path)
    with pytest.raises(ValueError, match="another version of trace set 'sim-v1'"):
        apply_tuned(compose_run(["method=vesta", "target=vgg16"]), "sim-v1", "new", tmp_path)
    with pytest.raises(ValueError, match="target model 'wgan' among its source models"):
        apply_tuned(compose_run(["method=vesta", "target=wgan"]), "sim-v1", "old", tmp_path)
    assert tuned_file("sim-v1", "vesta", tmp_path).is_file()
    cfg = compose_run(["method=vesta", "target=vgg16", f"results_dir={tmp_path / 'r'}"])
    with mock.patch("harness.job.apply_tuned", lambda c, s, d: apply_tuned(c, s, d, tmp_path)), \
            pytest.raises(JobError, match="another version"):
        run_job(check_job(cfg))
    assert not (tmp_path / "r").exists()

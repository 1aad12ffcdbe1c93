"""harness.worlds: worlds made on the fly and cached by config digest, and the study's statistics report."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from harness.paths import CONF_DIR
from harness.traces import TraceSet
from harness.worlds import WorldError, resolve, run_study, simulated_world


def study_config(tmp_path, **overrides):
    cfg = OmegaConf.load(CONF_DIR / "worlds.yaml")
    del cfg["defaults"]
    cfg.methods = ["random", "source_best", "ernest"]
    cfg.tuned, cfg.n_jobs = True, 1
    cfg.results_dir, cfg.cache_dir = str(tmp_path / "results"), str(tmp_path / "cache")
    for key, value in overrides.items():
        OmegaConf.update(cfg, key, value, merge=False)
    return cfg


@pytest.mark.slow
def test_a_simulated_world_is_reused_only_while_its_config_digest_matches(tmp_path, capsys):
    tiny = {"models": "[vgg16]", "reps": 1}
    first = simulated_world("w-test", {**tiny, "sim.noise.world_seed": 5}, tmp_path)
    assert TraceSet(first).name == "w-test" and TraceSet(first).models == ["vgg16"]
    assert "simulated in" in capsys.readouterr().out
    stamp = (first / "MANIFEST.json").stat().st_mtime_ns
    assert simulated_world("w-test", {**tiny, "sim.noise.world_seed": 5}, tmp_path) == first
    assert "simulated in" not in capsys.readouterr().out and (first / "MANIFEST.json").stat().st_mtime_ns == stamp
    other = simulated_world("w-test", {**tiny, "sim.noise.world_seed": 6}, tmp_path)
    assert other != first and TraceSet(other).digest() != TraceSet(first).digest()


def test_a_bad_simulator_key_gets_one_clear_message(tmp_path):
    with pytest.raises(WorldError, match="harness.sim .*sim.noise.nope"):
        simulated_world("w-test", {"sim.noise.nope": 1}, tmp_path)


def test_the_release_world_is_skipped_when_its_source_is_absent(tmp_path, capsys):
    spec = OmegaConf.create({"split": "paper", "import_from": str(tmp_path / "absent")})
    assert resolve("falcon-release", spec, tmp_path, 30) is None
    assert "skipped" in capsys.readouterr().out


def test_unknown_worlds_are_refused_before_any_work(tmp_path):
    with pytest.raises(WorldError, match=r"worlds \['nowhere'\] are not defined"):
        run_study(study_config(tmp_path, worlds=["nowhere"]))
    assert not (tmp_path / "results").exists()


def test_the_study_reports_ranks_and_tests_per_world_and_over_all(tmp_path):
    summary = run_study(study_config(tmp_path, worlds=["measured-cpu"], seeds=3))
    text = summary.read_text()
    assert "## measured-cpu" in text and "## Over all worlds" in text and "mean rank" in text
    found = json.loads((summary.parent / "statistics.json").read_text())
    # one target: its 3 (target, seed) runs are the blocks; 10 configurations cap the trials at 10
    assert found["measured-cpu"]["6"]["blocks"] == 3 and set(found["measured-cpu"]) == {"6"}
    assert set(found["all"]["6"]["mean_ranks"]) == {"random", "source_best", "ernest"}

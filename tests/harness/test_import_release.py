import numpy as np
import pytest

from harness.import_release import import_release
from harness.space import load_space
from harness.traces import TraceError, TraceSet


def test_release_becomes_30_traces_with_flagged_missing_fields(release_set):
    assert len(release_set.models) == 30
    vgg = release_set.load("vgg16")
    assert vgg.metadata["role"] == "target" and release_set.load("yolo").metadata["role"] == "source"
    assert {"rps", "price_per_hour"} <= set(vgg.metadata["missing_fields"])
    assert 0.0 <= vgg.true_objective.min() and vgg.true_objective.max() <= 1.0
    assert vgg.true_objective.max() == pytest.approx(1.0, abs=0.01)


def test_operator_shares_and_curves_of_target_models(release_set):
    gru = release_set.load("gru")
    profile = gru.op_profile(123)
    assert profile["multiply"].time_share == pytest.approx(0.2981)
    assert np.isnan(profile["multiply"].mem_share)
    curves = gru.auxiliary["kop_curves"]
    assert set(curves["shape"]) == {"slope", "convex", "concave"}
    assert {"knob_a", "knob_b", "a_pos", "b_pos", "value"} <= set(curves.columns)
    assert release_set.load("resnet-152").operators is None  # sources come without operator data


def test_tacotron_concat_alias_is_merged(release_set):
    profile = release_set.load("tacotron2").op_profile(0)
    assert profile["concatenate"].time_share == pytest.approx(0.0417 + 0.0096)


def test_failed_import_writes_nothing(tmp_path):
    src = tmp_path / "release"
    (src / "models" / "sources").mkdir(parents=True)
    (src / "models" / "sources" / "reg-bad.csv").write_text(
        "batchsize,cpus,gpumem,gpupower,gputype,norm.(rps/budget)\n4,1,0.8,50,A100,0.5\n")
    with pytest.raises(TraceError, match="gpu_type.*A100"):
        import_release(src, tmp_path / "out", "x", load_space("paper"))
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release"]


def test_not_a_release_is_refused(tmp_path):
    with pytest.raises(TraceError, match="does not look like the Falcon release"):
        import_release(tmp_path, tmp_path / "out", "x", load_space("paper"))


def test_checkout_layout_is_found(tmp_path, release_dir):
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "data").symlink_to(release_dir)
    traces = import_release(tmp_path / "repo", tmp_path / "out", "x", load_space("paper"))
    assert len(traces) == 30 and TraceSet(tmp_path / "out").models[0] == "bert-base"

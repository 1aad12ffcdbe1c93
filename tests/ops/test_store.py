"""Stored inventories load with pandas alone and agree with their summary."""
import json

import pytest

from harness.models import MODELS
from harness.ops import BATCH_SIZES, COLUMNS, load_inventory
from harness.ops.store import DATA_DIR, FORMAT_VERSION, read_summary


def test_every_model_is_stored_at_every_paper_batch_size():
    summary = read_summary()
    assert summary["format_version"] == FORMAT_VERSION
    assert set(summary["models"]) == set(MODELS)
    for entries in summary["models"].values():
        assert set(entries) == {str(b) for b in BATCH_SIZES}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_stored_inventory_is_consistent(name):
    small, large = load_inventory(name, 4), load_inventory(name, 128)
    for inv in (small, large):
        assert list(inv.ops.columns) == COLUMNS and len(inv.ops) > 0
        assert (inv.ops[["flops", "bytes_read", "bytes_written", "param_bytes"]] >= 0).all().all()
        assert inv.activation_peak_bytes > 0
        entry = read_summary()["models"][name][str(inv.batch_size)]
        assert inv.total_flops == pytest.approx(entry["total_flops"])
    assert small.param_bytes == large.param_bytes
    assert large.total_flops > small.total_flops and large.activation_peak_bytes > small.activation_peak_bytes
    # parameters are float32: 4 bytes each, buffers (batch-norm statistics, ...) on top
    assert small.param_bytes >= 4 * MODELS[name].params_published * 0.97


def test_shapes_use_the_authors_notation():
    ops = load_inventory("resnet-18", 4).ops
    first = ops.iloc[0]
    assert (first.op_type, first.input_shapes, first.output_shape) == (
        "conv2d", "((4, 3, 224, 224), (64, 3, 7, 7))", "(4, 64, 112, 112)")


def test_bad_requests_get_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="known models"):
        load_inventory("resnet-99", 4)
    with pytest.raises(ValueError, match="stored batch sizes"):
        load_inventory("resnet-18", 5)
    summary = json.loads((DATA_DIR / "summary.json").read_text())
    (tmp_path / "summary.json").write_text(json.dumps({**summary, "format_version": FORMAT_VERSION + 1}))
    with pytest.raises(ValueError, match="format version"):
        load_inventory("resnet-18", 4, data_dir=tmp_path)

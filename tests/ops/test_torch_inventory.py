"""The torch.export front end: known FLOPs, one export for all batch sizes, regeneration of a stored file."""
import pandas as pd
import pytest

pytestmark = pytest.mark.torch
pytest.importorskip("torch")  # the torch extra is installed in CI (scripts/test)

from harness.ops import load_inventory  # noqa: E402
from harness.ops.torch_inventory import inventories, inventory  # noqa: E402
from harness.ops.make_inventories import make_inventories  # noqa: E402
from harness.relay_names import ATEN_TO_RELAY  # noqa: E402


def test_resnet18_operators_and_flops():
    inv = inventory("resnet-18", 2)
    counts = inv.ops["op_type"].value_counts()
    assert counts["conv2d"] == 20 and counts["batch_norm"] == 20 and counts["dense"] == 1
    # 1.814 GMACs per 224x224 image (torchvision documents 1.81 GFLOPS counted as multiply-adds)
    conv_dense = inv.ops[inv.ops["op_type"].isin(["conv2d", "dense"])]["flops"].sum()
    assert conv_dense / 2 / 2 == pytest.approx(1.814e9, rel=0.01)
    assert inv.param_bytes == pytest.approx(4 * 11_689_512 + 4 * 2 * 9_600 + 8 * 20, rel=0.001)
    # every parameter is counted in one row (the fc bias in its bias_add row only); no operator reads batch
    # norm's int64 num_batches_tracked counters
    assert inv.ops["param_bytes"].sum() == inv.param_bytes - 8 * 20


def test_dynamic_batch_export_equals_per_batch_export():
    dynamic = inventories("sgan", (4, 16))[1]
    static = inventory("sgan", 16)
    pd.testing.assert_frame_equal(dynamic.ops, static.ops)
    assert dynamic.activation_peak_bytes == static.activation_peak_bytes


def test_regenerated_file_equals_the_shipped_one(tmp_path):
    make_inventories(["dcgan"], tmp_path)
    for batch in (4, 128):
        fresh, shipped = load_inventory("dcgan", batch, tmp_path), load_inventory("dcgan", batch)
        pd.testing.assert_frame_equal(fresh.ops, shipped.ops)
        assert fresh.activation_peak_bytes == shipped.activation_peak_bytes


def test_unmapped_operator_is_named(monkeypatch):
    monkeypatch.delitem(ATEN_TO_RELAY, "tanh")
    with pytest.raises(ValueError, match="aten.tanh"):
        inventory("dcgan", 4)


def test_recurrent_layers_are_unrolled_into_relay_operators():
    types = set(inventory("gru", 2).ops["op_type"])
    assert {"dense", "split", "sigmoid", "tanh", "multiply", "add"} <= types

"""The TVM front end (ONNX -> Relax) agrees with the torch.export front end; where they differ, the difference
is the one documented in harness/ops/relax_names.py."""
import pytest

pytestmark = pytest.mark.tvm
pytest.importorskip("tvm")  # the tvm and torch extras are installed in CI (scripts/test)
torch = pytest.importorskip("torch")

from harness.ops import inventory  # noqa: E402
from harness.ops import tvm_frontend  # noqa: E402
from harness.ops.torch_inventory import module_inventory  # noqa: E402
from harness.ops.relax_names import RELAX_TO_RELAY  # noqa: E402

COLUMNS = ["op_type", "input_shapes", "output_shape", "flops", "bytes_read", "bytes_written", "param_bytes"]


@pytest.fixture(scope="module")
def resnet18():
    return inventory("resnet-18", 2, frontend="torch"), inventory("resnet-18", 2, frontend="tvm")


def test_resnet18_rows_agree(resnet18):
    by_torch, by_tvm = resnet18
    counts = by_tvm.ops["op_type"].value_counts()
    assert (counts["conv2d"], counts["batch_norm"], counts["dense"], counts["bias_add"]) == (20, 20, 1, 1)
    # documented: torchvision's adaptive_avg_pool2d((1, 1)) arrives as ONNX GlobalAveragePool -> Relax mean
    expected = by_torch.ops.assign(op_type=by_torch.ops["op_type"].replace({"adaptive_avg_pool2d": "mean"}))
    # both count the fc layer's bias once, in its bias_add row
    assert expected.loc[expected["op_type"] == "bias_add", "param_bytes"].tolist() == [1000 * 4]
    assert expected[COLUMNS].values.tolist() == by_tvm.ops[COLUMNS].values.tolist()
    assert by_tvm.activation_peak_bytes == by_torch.activation_peak_bytes


def test_resnet18_parameters_differ_by_the_batch_norm_counters_only(resnet18):
    by_torch, by_tvm = resnet18
    # ONNX does not carry batch norm's int64 num_batches_tracked buffers; torch counts them as buffers
    assert by_torch.param_bytes - by_tvm.param_bytes == 20 * 8
    assert by_tvm.ops["param_bytes"].sum() == by_tvm.param_bytes  # each parameter counted once


def _tiny_bert(layers=2):
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=64, attn_implementation="eager")
    torch.manual_seed(0)
    return BertModel(config).eval(), (torch.randint(0, 1000, (2, 16)),)


def test_bert_like_model_agrees_up_to_the_documented_differences():
    layers = 2
    model, inputs = _tiny_bert(layers)
    by_torch = module_inventory(model, inputs, "tiny-bert")
    by_tvm = tvm_frontend.module_inventory(model, inputs, "tiny-bert")
    a, b = by_torch.by_type(), by_tvm.by_type()
    for op in ["dense", "batch_matmul", "bias_add", "layer_norm", "softmax", "erf", "tanh", "take", "reshape"]:
        assert a.loc[op, "count"] == b.loc[op, "count"], op
    assert a.loc[["dense", "batch_matmul"], "flops"].tolist() == b.loc[["dense", "batch_matmul"], "flops"].tolist()
    assert a.loc["dense", "count"] == layers * 6 + 1  # q, k, v, out, 2 feed-forward; the pooler
    # gelu: torch multiply, erf, multiply, add, multiply; ONNX divide, erf, add, multiply, multiply
    assert b.loc["divide", "count"] == layers and "divide" not in a.index
    assert a.loc["multiply", "count"] - b.loc["multiply", "count"] == layers
    # Relax normalises the one non-constant gather's indices (less, add, where on int64); the torch.export path
    # adds the (all-zero) attention mask once per layer, which the TorchScript ONNX export drops
    assert b.loc["less", "count"] == b.loc["where", "count"] == 1
    assert a.loc["add", "count"] - layers == b.loc["add", "count"] - 1
    # the ONNX exporter merges the key's head permute and its transpose; torch copies before a reshape
    assert a.loc["transpose", "count"] - b.loc["transpose", "count"] == layers
    assert a.loc["copy", "count"] == layers and "copy" not in b.index
    # ONNX carries no int64 position/token-type id buffers (2 x 64 ids), which torch counts
    assert by_torch.param_bytes - by_tvm.param_bytes == 2 * 64 * 8


def test_onnx_file_with_a_symbolic_batch(tmp_path):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(8 * 6 * 6, 10))
    path = tmp_path / "small.onnx"
    torch.onnx.export(model.eval(), (torch.randn(1, 3, 8, 8),), str(path), dynamo=False,
                      input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    inv = tvm_frontend.inventory_from_onnx(path, batch_size=8)
    assert inv.model == "small" and inv.batch_size == 8
    assert inv.ops["op_type"].tolist() == ["conv2d", "bias_add", "relu", "reshape", "dense", "bias_add"]
    assert inv.ops["input_shapes"].iloc[4] == "((8, 288), (10, 288))"
    assert inv.ops.loc[0, "flops"] == 2 * 8 * 8 * 6 * 6 * 3 * 3 * 3
    with pytest.raises(ValueError, match="symbolic dimension"):
        tvm_frontend.inventory_from_onnx(path)


def test_unmapped_relax_operator_is_named(monkeypatch):
    monkeypatch.delitem(RELAX_TO_RELAY, "relax.nn.relu")
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU())
    with pytest.raises(ValueError, match="relax.nn.relu"):
        tvm_frontend.module_inventory(model, (torch.randn(2, 4),), "tiny")

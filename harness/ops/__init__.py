"""Operator inventories of the zoo models: one row per operator instance with its Relay type, shapes, FLOPs
and bytes, plus the model's activation peak and parameter bytes.

`load_inventory` reads the stored inventories with pandas only; `inventory` computes one with torch.export
(extra `torch`); `inventory(..., frontend="tvm")` computes one from an ONNX export with TVM (extra `tvm`), and
`harness.ops.tvm_frontend.inventory_from_onnx` from any ONNX file.
"""
from harness.ops.inventory import COLUMNS, Inventory
from harness.ops.store import BATCH_SIZES, load_inventory


def inventory(model_name: str, batch_size: int, frontend: str = "torch") -> Inventory:
    """The operator inventory of a zoo model at a batch size, from torch.export (`frontend="torch"`, needs the
    torch extra) or from its ONNX export imported by TVM (`frontend="tvm"`, needs the torch and tvm extras)."""
    if frontend == "torch":
        from harness.ops.torch_inventory import inventory as from_export

        return from_export(model_name, batch_size)
    if frontend == "tvm":
        from harness.ops.tvm_frontend import inventory as from_onnx

        return from_onnx(model_name, batch_size)
    raise ValueError(f"unknown front end {frontend!r}: 'torch' or 'tvm'")


__all__ = ["BATCH_SIZES", "COLUMNS", "Inventory", "inventory", "load_inventory"]

"""Operator inventories of the zoo models: one row per operator instance with its Relay type, shapes, FLOPs
and bytes, plus the model's activation peak and parameter bytes.

`load_inventory` reads the stored inventories with pandas only; `inventory` computes one with torch.export
(extra `torch`); `harness.ops.tvm_frontend.inventory` computes one from an ONNX export with TVM (extra `tvm`).
"""
from harness.ops.inventory import COLUMNS, Inventory
from harness.ops.store import BATCH_SIZES, load_inventory


def inventory(model_name: str, batch_size: int) -> Inventory:
    """The operator inventory of a zoo model at a batch size, from torch.export (needs the torch extra)."""
    from harness.ops.export import inventory as from_export

    return from_export(model_name, batch_size)


__all__ = ["BATCH_SIZES", "COLUMNS", "Inventory", "inventory", "load_inventory"]

"""Small synthetic operator inventories with known structure, so simulator tests do not depend on the zoo."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from harness.models import Input, ModelSpec


def conv_net(batch: int, width: int = 64, layers: int = 12, size: int = 56, fc: int = 4096):
    """A VGG-like stack: conv2d + bias_add + relu per layer, then a large dense layer."""
    rows, act = [], 0.0
    for _ in range(layers):
        x, w = (batch, width, size, size), (width, width, 3, 3)
        out = batch * width * size * size
        rows.append(("conv2d", 2.0 * out * width * 9, 4.0 * (out + width * width * 9), 4.0 * out, 4.0 * width * width * 9))
        rows.append(("bias_add", out, 4.0 * out, 4.0 * out, 4.0 * width))
        rows.append(("relu", out, 4.0 * out, 4.0 * out, 0.0))
        act = max(act, 8.0 * out)
    flat = width * size * size
    rows.append(("reshape", 0.0, 4.0 * batch * flat, 4.0 * batch * flat, 0.0))
    rows.append(("dense", 2.0 * batch * flat * fc / 64, 4.0 * (batch * flat + flat * fc / 64), 4.0 * batch * fc,
                 4.0 * flat * fc / 64))
    ops = pd.DataFrame(rows, columns=["op_type", "flops", "bytes_read", "bytes_written", "param_bytes"])
    ops["input_shapes"], ops["output_shape"] = "", ""
    return SimpleNamespace(ops=ops, activation_peak_bytes=act, param_bytes=float(ops["param_bytes"].sum()))


def text_net(batch: int, hidden: int = 256, seq: int = 32, layers: int = 2):
    """A small recurrent-style model: dense-dominated, memory-bound at small batches."""
    rows = []
    for _ in range(layers * seq):
        out = batch * 4 * hidden
        rows.append(("dense", 2.0 * out * hidden, 4.0 * (batch * hidden + 4 * hidden * hidden), 4.0 * out,
                     4.0 * 4 * hidden * hidden / seq))
        rows.append(("sigmoid", 4.0 * out, 4.0 * out, 4.0 * out, 0.0))
        rows.append(("tanh", out, 4.0 * out, 4.0 * out, 0.0))
    ops = pd.DataFrame(rows, columns=["op_type", "flops", "bytes_read", "bytes_written", "param_bytes"])
    ops["input_shapes"], ops["output_shape"] = "", ""
    return SimpleNamespace(ops=ops, activation_peak_bytes=8.0 * batch * seq * hidden,
                           param_bytes=float(ops["param_bytes"].sum()))


FAKES = {"fake-cnn": (conv_net, ModelSpec("fake-cnn", "cnn", "image", (Input((3, 224, 224)),), 0, "", "")),
         "fake-rnn": (text_net, ModelSpec("fake-rnn", "rnn", "text", (Input((32,), "int64", 1000),), 0, "", ""))}


def inventory(model: str, batch: int):
    return FAKES[model][0](batch)


def spec(model: str) -> ModelSpec:
    return FAKES[model][1]

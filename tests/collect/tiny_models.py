"""Tiny models for the collection tests, named as `tiny_models:SPEC` (this folder is put on PYTHONPATH)."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Input:
    shape: tuple
    dtype: str = "float32"
    high: int | None = None


@dataclass(frozen=True)
class Spec:
    name: str
    input_kind: str
    inputs: tuple
    builder: str


class TinyMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))

    def forward(self, x):
        return self.net(x)


class Fragile(TinyMLP):
    """Runs out of memory at batch 4 and crashes the process at batch 8."""

    def forward(self, x):
        if x.shape[0] == 4:
            raise MemoryError("cannot allocate the activations of batch 4")
        if x.shape[0] == 8:
            os.kill(os.getpid(), signal.SIGSEGV)
        return super().forward(x)


def tiny_mlp():
    torch.manual_seed(0)
    return TinyMLP()


def fragile():
    torch.manual_seed(0)
    return Fragile()


TINY = Spec("tiny-mlp", "tabular", (Input((16,)),), "tiny_models:tiny_mlp")
FRAGILE = Spec("fragile-mlp", "tabular", (Input((16,)),), "tiny_models:fragile")

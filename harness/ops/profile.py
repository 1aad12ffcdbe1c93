"""Measure a model's per-operator-type time and memory share on this machine's CPU with torch.profiler, and
print its key operators (KOPs, `harness.ops.kops`): `python -m harness.ops.profile model=NAME batch_size=N
[threshold=0.05]`.

The profiled program is the exported, decomposed graph (the inventory's operators, random weights), run
operator by operator, so shares are per Relay operator type. Time share: operator CPU time over the total.
Memory share: bytes the operator type allocates for its outputs over all bytes allocated. A KOP is an
operator type whose time share and memory share are both at or above the threshold (the paper's merged
threshold, 5 % by default).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import hydra
import pandas as pd
import torch
from hydra.core.config_store import ConfigStore
from torch.profiler import ProfilerActivity
from torch.profiler import profile as torch_profile

from harness.models import build, example_input, spec
from harness.ops.torch_inventory import RNN_DECOMPOSITIONS
from harness.ops.kops import identify_kops
from harness.config import ConfigError, one_line_errors
from harness.paths import CONF_DIR
from harness.relay_names import ATEN_TO_RELAY
from harness.traces import OpStat


def _relay(event_name: str) -> str | None:
    aten = event_name.removeprefix("aten::")
    if aten.endswith("_") and aten[:-1] in ATEN_TO_RELAY:  # in-place variants
        aten = aten[:-1]
    name = ATEN_TO_RELAY.get(aten, aten)
    return name[0] if isinstance(name, tuple) else name


def operator_shares(model_name: str, batch_size: int, repeats: int = 3) -> pd.DataFrame:
    """Per Relay operator type: `time_share` and `memory_share` (fractions), `time_ms` per forward pass."""
    spec(model_name)
    torch.manual_seed(0)
    model = build(model_name)
    inputs = example_input(model_name, batch_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = torch.export.export(model, inputs).run_decompositions(RNN_DECOMPOSITIONS).module()
    with torch.inference_mode():
        graph(*inputs)  # warm-up
        with torch_profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            for _ in range(repeats):
                graph(*inputs)
    time, memory = {}, {}
    for event in prof.events():
        parent = event.cpu_parent
        if not event.name.startswith("aten::") or (parent is not None and parent.name.startswith("aten::")):
            continue  # only outermost ATen calls: nested ones are part of their caller
        name = _relay(event.name)
        if name is None:
            continue
        time[name] = time.get(name, 0.0) + event.cpu_time_total
        memory[name] = memory.get(name, 0.0) + max(event.cpu_memory_usage, 0)
    table = pd.DataFrame({"time_ms": pd.Series(time) / 1e3 / repeats, "memory": pd.Series(memory)}).fillna(0.0)
    table["time_share"] = table["time_ms"] / table["time_ms"].sum()
    table["memory_share"] = table["memory"] / max(table["memory"].sum(), 1.0)
    return table[["time_share", "memory_share", "time_ms"]].sort_values("time_share", ascending=False)


def key_operators(shares: pd.DataFrame, threshold: float = 0.05) -> list[str]:
    """The KOPs of a table from `operator_shares` (the rule of `harness.ops.kops`)."""
    profile = {op: OpStat(r.time_share, r.memory_share, r.time_ms, math.nan) for op, r in shares.iterrows()}
    return identify_kops(profile, threshold)


@dataclass
class ProfileConfig:
    model: str = "resnet-18"
    batch_size: int = 4
    threshold: float = 0.05


ConfigStore.instance().store(name="profile_schema", node=ProfileConfig)


def check(cfg: ProfileConfig) -> None:
    """Refuse, before building anything, an unknown model, a batch size below 1 or a threshold outside (0, 1]."""
    try:
        spec(cfg.model)
    except ValueError as e:
        raise ConfigError(f"model={cfg.model}: {e}") from None
    if cfg.batch_size < 1:
        raise ConfigError(f"batch_size={cfg.batch_size}: must be a whole number >= 1")
    if not 0 < cfg.threshold <= 1:
        raise ConfigError(f"threshold={cfg.threshold}: must be a share in (0, 1]")


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="profile")
def main(cfg: ProfileConfig) -> None:
    with one_line_errors("profile"):
        check(cfg)
    shares = operator_shares(cfg.model, cfg.batch_size)
    print(f"{cfg.model}, batch size {cfg.batch_size}, {torch.get_num_threads()} CPU threads")
    print(shares.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"KOPs at {cfg.threshold:.0%}: {', '.join(key_operators(shares, cfg.threshold)) or 'none'}")


if __name__ == "__main__":
    main()

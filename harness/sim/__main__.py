"""Write a simulated trace set: every configuration of a space, for every model, with repetitions.

    python -m harness.sim                        # traces/sim-v2: the paper's 30 models x 1,440 configs x 5 reps
    python -m harness.sim sim=v1                 # traces/sim-v1, byte for byte as published
    python -m harness.sim models=[vgg16,gru] out=traces/sim-small name=sim-small
    python -m harness.sim sim.noise.model_effect_scale=0 out=traces/sim-v2-nofx name=sim-v2-nofx
    python -m harness.sim space=cpu_local models=[resnet-18] out=traces/sim-v2-cpu name=sim-v2-cpu

The same configuration and seed give byte-identical files (`harness.sim.generate`). docs/simulator.md describes
the model behind it. `out` may be absent, an empty folder or a simulated trace set (replaced); a trace set that
was not simulated (imported, collected, measured) is replaced only with `replace=true`. Every key is checked
before anything is simulated.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from pathlib import Path

import hydra
import numpy as np
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

from harness.config import ConfigError, one_line_errors
from harness.paths import CONF_DIR, safe_name
from harness.sim.generate import SMALLEST_INVENTORY, simulate_trace
from harness.sim.hardware import SimError
from harness.sim.opcost import PARAMS_FILE
from harness.sim.simulator import Simulator
from harness.space import SearchSpace
from harness.traces import MANIFEST, TraceSet, check_replaceable, sha256_file, write_trace_set


def model_list(cfg: DictConfig) -> list[str]:
    if cfg.models is not None:
        return list(cfg.models)
    return sorted(list(cfg.split.source) + list(cfg.split.target))


def check_keys(cfg: DictConfig) -> None:
    """Refuse, before any work, a bad `reps`, `seed`, `name` or `out` (one line each)."""
    for key, minimum in (("reps", 1), ("seed", 0)):
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"{key}={value!r}: must be a whole number >= {minimum}")
    safe_name(cfg.name, "trace set name")
    if not isinstance(cfg.replace, bool):
        raise ConfigError(f"replace={cfg.replace!r}: must be true or false")
    out = to_absolute_path(cfg.out)
    check_replaceable(out)  # never a user's folder
    if (Path(out) / MANIFEST).is_file() and not cfg.replace:
        existing = TraceSet(out)
        kinds = {str(m.get("provenance", "unknown")) for m in existing.manifest["models"].values()}
        kinds.add(str(existing.manifest["info"].get("provenance", "unknown")))
        if kinds != {"simulated"}:
            others = ", ".join(sorted(kinds - {"simulated"}))
            raise ConfigError(f"out={cfg.out}: trace set {existing.name!r} holds {others} data, not only simulated: "
                              "replace=true replaces it; or choose another out")


def run(cfg: DictConfig) -> list[str]:
    check_keys(cfg)  # before any work
    space = SearchSpace.from_dict(OmegaConf.to_container(cfg.space, resolve=True))  # also a user's own space
    sim = Simulator(cfg.sim)
    params = OmegaConf.to_container(cfg.sim, resolve=True)
    simulator = f"harness.sim v{sim.version}"
    common = {"provenance": "simulated", "simulator": simulator, "seed": int(cfg.seed), "reps": int(cfg.reps),
              "sim_params": params, "op_cost_sha256": sha256_file(PARAMS_FILE),
              "software": {"python": platform.python_version(), "numpy": np.__version__}}
    traces, skipped = [], {}
    for model in model_list(cfg):
        try:
            # inventories are stored from batch 4 up (CPU-only serving extrapolates below it)
            sim.batch_ops(model, max(int(min(space.knob("batch_size").values)), SMALLEST_INVENTORY))
        except SimError as e:  # no inventory for this model
            skipped[model] = str(e).splitlines()[0][:200]
            print(f"skip {model}: {skipped[model]}", file=sys.stderr)
            continue
        traces.append(simulate_trace(sim, model, space, int(cfg.reps), int(cfg.seed), {**common, "model": model}))
        print(f"{model}: {int(traces[-1].feasible.sum())}/{len(space)} configurations feasible", file=sys.stderr)
    if not traces:
        raise SimError(f"no model could be simulated, nothing written: {skipped}")
    info = {"provenance": "simulated", "simulator": simulator, "seed": int(cfg.seed), "reps": int(cfg.reps),
            "sim_params_digest": _digest(params), "skipped_models": skipped,
            "note": "docs/simulator.md describes the model; regenerate with `python -m harness.sim`"}
    write_trace_set(to_absolute_path(cfg.out), traces, cfg.name, info)
    return [t.model for t in traces]


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="sim/simulate")
def main(cfg: DictConfig) -> None:
    with one_line_errors("simulate", (SimError,)):
        written = run(cfg)
    print(f"wrote {len(written)} models to {cfg.out}")


if __name__ == "__main__":
    main()

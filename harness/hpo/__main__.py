"""`python -m harness.hpo`: tune every method's hyperparameters with the one protocol (`harness.hpo.protocol`) and
write `conf/method/tuned/<trace set>/<method>.yaml` (or under `out`).

    python -m harness.hpo traces=sim_v1 methods=[falcon,morphling,vesta] budget=8
    python -m harness.hpo constraints.latency_p99_percentile=25 out=tuned-slo   # scored under an SLO scenario
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.utils import to_absolute_path
from omegaconf import MISSING, DictConfig

from harness.config import checked_entry_point, one_line_errors
from harness.hpo.protocol import HPOProtocol, TuningError, check, tune_method, write_record
from harness.hpo.tuned_values import TUNED_DIR
from harness.paths import CONF_DIR
from harness.slo import SLOConf


@dataclass
class HPOConf(HPOProtocol):
    """`python -m harness.hpo`: the protocol's keys and these; typed, so a wrong key or type is refused."""

    traces: Any = MISSING    # conf/traces/<name>.yaml
    split: Any = MISSING     # conf/split/<name>.yaml: only its source models are used
    methods: list[str] = field(default_factory=lambda: ["falcon"])
    n_jobs: int = 1          # folds scored in parallel worker processes
    out: str | None = None   # null: conf/method/tuned
    constraints: SLOConf = field(default_factory=SLOConf)  # the SLO the searches run under


ConfigStore.instance().store(name="hpo_schema", node=HPOConf)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="hpo")
def hydra_main(cfg: DictConfig) -> None:
    # the command line's traces/split choices, constraints and their overrides go to every composed run config
    overrides = [o for o in HydraConfig.get().overrides.task if o.split("=")[0].lstrip("+~").split(".")[0]
                 in ("traces", "split", "constraints")]
    # ... and the user's config folders (their own methods), so that every fold's compose finds them too
    overrides += [o for o in HydraConfig.get().overrides.hydra if o.startswith("hydra.searchpath=")]
    protocol = HPOProtocol(**{k: cfg[k] for k in HPOProtocol.__dataclass_fields__})
    root = Path(to_absolute_path(cfg.out)) if cfg.out else TUNED_DIR
    with one_line_errors("hpo", (TuningError,)):
        check(list(cfg.methods), overrides, protocol, cfg.out)
    for method in cfg.methods:
        record = tune_method(method, overrides, protocol, cfg.n_jobs)
        path = write_record(record, root)
        print(f"{method}: {record['values'] or 'nothing to tune'} (score {record['best_objective']:.4f}, defaults "
              f"{record['trials'][0]['objective']:.4f}; {record['seconds']:.0f} s) -> {path}")


main = checked_entry_point("hpo", hydra_main)

if __name__ == "__main__":
    main()

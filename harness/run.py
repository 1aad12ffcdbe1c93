"""Hydra app: one search per job; `-m` sweeps over methods x targets x seeds.

    python -m harness.run method=random target=vgg16 seed=0 trials=30 results_dir=results

    python -m harness.run method=falcon target=vgg16 constraints.latency_p99_ms=250      # under an SLO
    python -m harness.run method=falcon target=vgg16 constraints.latency_p99_percentile=50

Each job writes `<results_dir>/<trace set>/<method>/<target>/seed=<n>/`. The app only parses: `harness.job` checks
the job (everything before any work) and runs it; a finished job of the same identity is skipped, one made under
other settings is refused with what differs (`rerun=true` redoes it).
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from harness.config import checked_entry_point, one_line_errors
from harness.job import JobError, check_job, run_job
from harness.paths import CONF_DIR
from harness.results import ResultsError


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="run")
def hydra_main(cfg: DictConfig) -> None:
    with one_line_errors("run", (JobError, ResultsError)):
        run_job(check_job(cfg))


main = checked_entry_point("run", hydra_main)

if __name__ == "__main__":
    main()

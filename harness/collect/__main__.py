"""Hydra entry: `python -m harness.collect backend=cpu|cuda model=NAME space=NAME out=DIR`.

Measures every configuration of the space on this machine and writes the model's trace into the trace set at
`out` (other models already there are kept). Interrupted runs resume where they stopped. Errors that stop a
collection before it starts (no GPU, a knob this machine cannot realise, another collector at work) are one
line on stderr and exit status 2.
"""

from __future__ import annotations

import sys

import hydra
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from harness.collect.backends import make_backend
from harness.collect.collector import Collector, Settings
from harness.collect.journal import CollectError
from harness.paths import CONF_DIR
from harness.space import SpaceError, load_space
from harness.traces import TraceError, check_replaceable


def collect(cfg: DictConfig):
    check_replaceable(to_absolute_path(str(cfg.out)))  # before any measuring: never a user's folder
    space_ref = str(cfg.space)
    space = load_space(to_absolute_path(space_ref) if space_ref.endswith((".yaml", ".yml")) else space_ref)
    backend = make_backend(str(cfg.backend), OmegaConf.to_container(cfg.price, resolve=True), int(cfg.device),
                           bool(cfg.allow_power_cap))
    settings = Settings(**OmegaConf.to_container(cfg.settings, resolve=True))
    collector = Collector(backend, str(cfg.model), space, to_absolute_path(str(cfg.out)), settings,
                          cfg.name, bool(cfg.progress))
    path = collector.run()
    print(f"{collector.model}: {len(space)} configurations on {backend.name} -> {path}")
    return path


@hydra.main(version_base="1.3", config_path=str(CONF_DIR / "collect"), config_name="collect")
def main(cfg: DictConfig) -> None:
    try:
        collect(cfg)
    except (CollectError, SpaceError, TraceError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except MissingMandatoryValue as e:
        print(f"error: {e.full_key}= is required (see conf/collect/collect.yaml)", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()

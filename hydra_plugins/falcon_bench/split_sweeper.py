"""A grid sweeper that also takes `target=glob(PATTERN)` over the split's target models.

Hydra's own glob() only matches config-group options, and `target` is a plain value: this sweeper rewrites
`target=glob(*)` (or `glob(res*)`, `glob(*,exclude=gru)`) into the list of matching target models of the
configured split, then runs the cartesian product of all sweep values, as Hydra's basic sweeper does, so

    python -m harness.run -m method=falcon,random 'target=glob(*)' 'seed=range(10)'

runs every method on every target model of the split (under leave-one-model-out, `split=lomo`, every model of the
trace set). It is built on Hydra's public plugin API (`Sweeper`, `Plugins`, `OverridesParser`) only.
"""

import fnmatch
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.errors import OverrideParseException
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

GLOB = re.compile(r"^target=glob\((?P<args>.*)\)$")


@dataclass
class SplitSweeperConf:
    _target_: str = "hydra_plugins.falcon_bench.split_sweeper.SplitSweeper"


ConfigStore.instance().store(group="hydra/sweeper", name="split", node=SplitSweeperConf, provider="falcon-bench")


class SplitSweeper(Sweeper):
    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(hydra_context=hydra_context,
                                                                task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> Any:
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        axes = []
        for override in parser.parse_overrides([self.expand(a) for a in arguments]):
            key = override.get_key_element()
            if not override.is_sweep_override():
                axes.append([f"{key}={override.get_value_element_as_str()}"])
            elif override.is_discrete_sweep():
                axes.append([f"{key}={value}" for value in override.sweep_string_iterator()])
            else:
                raise OverrideParseException(override.input_line or key, f"{key}: the split sweeper takes "
                                             f"lists, range() and glob(), not {override.value_type.name}")
        batch = [list(job) for job in itertools.product(*axes)]
        self.validate_batch_is_legal(batch)  # every job's config composes, before any job runs
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        returns = self.launcher.launch(batch, initial_job_idx=0)
        for job in returns:
            _ = job.return_value  # re-raises the exception of a job that failed
        return [returns]

    def expand(self, argument: str) -> str:
        """`target=glob(...)` as `target=a,b,...` over the split's matching target models; others unchanged."""
        match = GLOB.match(argument.strip())
        if not match:
            return argument
        include, exclude = [], []
        for part in (p.strip() for p in match["args"].split(",")):
            if part.startswith("exclude="):
                exclude.append(part[len("exclude="):])
            elif part:
                include.append(part)
        # imported when used: Hydra imports every plugin at start-up, and harness.job imports much of the harness
        from harness.job import split_targets

        models = split_targets(self.config)
        targets = [t for t in models
                   if any(fnmatch.fnmatch(t, p) for p in include or ["*"])
                   and not any(fnmatch.fnmatch(t, p) for p in exclude)]
        if not targets:
            raise OverrideParseException(argument, f"{argument!r} matches no target model of split "
                                         f"{self.config.split.name!r}: {models}")
        return "target=" + ",".join(targets)

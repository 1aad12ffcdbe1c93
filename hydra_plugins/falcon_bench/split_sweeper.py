"""Hydra's basic sweeper, plus `target=glob(PATTERN)` over the split's target models.

Hydra's own glob() only matches config-group options, and `target` is a plain value: this sweeper rewrites
`target=glob(*)` (or `glob(res*)`, `glob(*,exclude=gru)`) into the list of matching target models of the
configured split before the basic sweeper expands the sweep, so

    python -m harness.run -m method=falcon,random 'target=glob(*)' 'seed=range(10)'

runs every method on every target model of the split.
"""

import fnmatch
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore

GLOB = re.compile(r"^target=glob\((?P<args>.*)\)$")


@dataclass
class SplitSweeperConf:
    _target_: str = "hydra_plugins.falcon_bench.split_sweeper.SplitSweeper"
    max_batch_size: Optional[int] = None
    params: Optional[Dict[str, str]] = None


ConfigStore.instance().store(group="hydra/sweeper", name="split", node=SplitSweeperConf, provider="falcon-bench")


class SplitSweeper(BasicSweeper):
    def sweep(self, arguments: List[str]) -> Any:
        return super().sweep([self._expand(a) for a in arguments])

    def _expand(self, argument: str) -> str:
        match = GLOB.match(argument.strip())
        if not match:
            return argument
        include, exclude = [], []
        for part in (p.strip() for p in match["args"].split(",")):
            if part.startswith("exclude="):
                exclude.append(part[len("exclude="):])
            elif part:
                include.append(part)
        targets = [t for t in self.config.split.target
                   if any(fnmatch.fnmatch(t, p) for p in include or ["*"])
                   and not any(fnmatch.fnmatch(t, p) for p in exclude)]
        if not targets:
            raise ValueError(f"{argument!r} matches no target model of split {self.config.split.name!r}: "
                             f"{list(self.config.split.target)}")
        return "target=" + ",".join(targets)

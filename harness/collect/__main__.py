"""Hydra entry: `python -m harness.collect [action=collect] backend=cpu|cuda model=NAME space=NAME out=DIR`.

- `action=collect` measures every configuration of the space (or of `shard.index` of `shard.count`) on this
  machine and writes the model's trace into the trace set at `out` (other models already there are kept).
  Interrupted runs resume where they stopped; several collectors may write different models or shards of one
  set at once. `-m model=a,b shard.index=0,1 shard.count=2 hydra/launcher=...` dispatches one job per
  (model, shard) through a Hydra launcher (joblib, Submitit/SLURM, Ray). `backend=aiconfigurator` estimates
  LLM serving configurations with NVIDIA's AIConfigurator instead of measuring (docs/llm.md).
- `action=merge merge.shards=[DIR,...] space=paper out=DIR` joins shard sets (one per machine) into one set.
- `action=plan space=... settings=... plan.models=...` prints the jobs, hours and cost of a collection.
- `action=canonicalise out=DIR` converts an old measured set's ATen operator names to the Relay vocabulary.

Errors that stop an action before it starts (a bad setting or name, no GPU, a knob this machine cannot realise,
another collector on the same model and shard, shards that do not fit together) are one line on stderr
(`collect: ...`) and exit status 1, as in every app of the project.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from harness.collect.backends import make_backend
from harness.collect.canonicalise import canonicalise_set
from harness.collect.collector import Collector, Settings, Shard
from harness.collect.journal import CollectError
from harness.collect.merge import machine_space, merge_shards
from harness.collect.plan import make_plan
from harness.config import ConfigError, one_line_errors
from harness.paths import CONF_DIR, safe_name
from harness.space import SearchSpace, load_space
from harness.traces import check_replaceable

ACTIONS = ("collect", "merge", "plan", "canonicalise")


def space_of(cfg: DictConfig) -> SearchSpace:
    ref = str(cfg.space)
    return load_space(to_absolute_path(ref) if ref.endswith((".yaml", ".yml")) else ref)


def settings_of(cfg: DictConfig) -> Settings:
    """The checked `settings` node (`Settings.check`): the collector's and the live tuner's one rule."""
    return Settings.from_mapping(OmegaConf.to_container(cfg.settings, resolve=True))


def collect(cfg: DictConfig):
    out = to_absolute_path(str(cfg.out))
    check_replaceable(out)  # before any measuring: never a user's folder
    safe_name(cfg.name if cfg.name is not None else Path(out).name, "trace set name")
    settings = settings_of(cfg)
    space = space_of(cfg)
    if str(cfg.backend) == "aiconfigurator":
        return collect_llm(cfg, space)
    backend = make_backend(str(cfg.backend), OmegaConf.to_container(cfg.price, resolve=True), int(cfg.device),
                           bool(cfg.allow_power_cap), cfg.machine_label)
    if str(cfg.merge.knob) in space.names:  # a space over several machine types: this machine's shard of it
        space = machine_space(space, str(cfg.merge.knob), backend.machine_label())
    shard = Shard(cfg.shard.index, cfg.shard.count)
    collector = Collector(backend, str(cfg.model), space, out, settings, cfg.name, bool(cfg.progress), shard)
    path = collector.run()
    key = shard.key(collector.model)
    if path is None:
        print(f"{key}: shard measured on {backend.name}; the model is written into {cfg.out} once all "
              f"{shard.count} shards are measured")
    else:
        print(f"{key}: {len(space)} configurations on {backend.name} -> {path}")
    return path


def collect_llm(cfg: DictConfig, space: SearchSpace):
    """`backend=aiconfigurator`: every configuration one AIConfigurator estimate (harness/collect/llm.py)."""
    from harness.collect.llm import AIConfiguratorBackend, LLMCollector

    backend = AIConfiguratorBackend(OmegaConf.to_container(cfg.llm, resolve=True))
    shard = Shard(cfg.shard.index, cfg.shard.count)
    collector = LLMCollector(backend, str(cfg.model), space, to_absolute_path(str(cfg.out)), settings_of(cfg),
                             cfg.name, bool(cfg.progress), shard)
    path = collector.run()
    key = shard.key(collector.model)
    print(f"{key}: {len(space)} configurations estimated -> {path}" if path is not None
          else f"{key}: shard estimated; the model is written into {cfg.out} once all {shard.count} shards are")
    return path


def run(cfg: DictConfig):
    action = str(cfg.action)
    if action not in ACTIONS:
        raise CollectError(f"action={action!r} is not known; actions: {', '.join(ACTIONS)}")
    if action == "collect":
        return collect(cfg)
    if action == "merge":
        check_replaceable(to_absolute_path(str(cfg.out)))
        path = merge_shards([to_absolute_path(str(s)) for s in cfg.merge.shards], space_of(cfg),
                            to_absolute_path(str(cfg.out)), str(cfg.merge.knob),
                            bool(cfg.merge.allow_mixed_versions), cfg.name)
        print(f"merged {len(cfg.merge.shards)} shards -> {path}")
        return path
    if action == "plan":
        plan = make_plan(space_of(cfg), settings_of(cfg), OmegaConf.to_container(cfg.price, resolve=True),
                         OmegaConf.to_container(cfg.plan.models) if OmegaConf.is_list(cfg.plan.models)
                         else cfg.plan.models, str(cfg.merge.knob), cfg.plan.startup_s)
        print(plan.render())
        return plan
    converted = canonicalise_set(to_absolute_path(str(cfg.out)))
    print(f"{cfg.out}: operator names converted for {converted or 'no model (all were already)'}")
    return converted


@hydra.main(version_base="1.3", config_path=str(CONF_DIR / "collect"), config_name="collect")
def main(cfg: DictConfig) -> None:
    with one_line_errors("collect", (CollectError,)):
        try:
            run(cfg)
        except MissingMandatoryValue as e:
            raise ConfigError(f"{e.full_key}= is required (python -m harness.collect --help lists every key)") \
                from None


if __name__ == "__main__":
    main()

"""NVIDIA's AIConfigurator as a collector backend: LLM serving configurations estimated from measured kernel tables.

`backend=aiconfigurator` makes each configuration one estimate of `aiconfigurator-core` (the `llm` extra) instead of
one measurement: a static batch of `batch_size` requests (`llm.isl` input and `llm.osl` output tokens each) of an
LLM on `tensor_parallel` GPUs of `gpu_type`, with weights in `weight_quant`, in the serving framework `llm.framework`
(vLLM by default), priced as GPUs x the GPU type's hourly price (conf/pricing/). It runs in this process (an
estimate takes milliseconds once the GPU's tables are loaded; a worker process each would cost seconds) and is
written through the collector's own journal, shards, set lock and merge, so an interrupted generation resumes
and a fleet can split it (docs/llm.md).

Per configuration the trace holds output tokens/s as `rps` (so the objective, `rps` x 3600 / price, is output
tokens per dollar and `constraints.min_rps` is a floor on output tokens/s), the request latency as
`latency_p50_ms` and `latency_p99_ms` (a static batch's requests all finish together), the hourly price and the
estimated GPU memory per GPU; TTFT, TPOT, GPU count and the memory breakdown in the auxiliary table `llm`; the
operator profile in the LLM operators of harness/vocabulary.py, with every library operator's time and provenance
('silicon': a measured table, 'empirical' or 'mixed': modelled) in the auxiliary table `op_provenance`.

An out-of-memory configuration, or one the library refuses (no FP8 on the GPU, no data or model for a kernel), is
an infeasible row with the library's reason; any other library error stops the collection with one line.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import replace
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
import yaml

from harness.collect.backends import Backend
from harness.collect.collector import Collector, Settings, Shard, profile_rows
from harness.collect.journal import CollectError
from harness.paths import CONF_DIR
from harness.space import SearchSpace
from harness.traces import Trace
from harness.vocabulary import llm_op_type

LIBRARY = "aiconfigurator-core"
KNOBS = ("gpu_type", "tensor_parallel", "batch_size", "weight_quant")
TENSOR_PARALLEL = (1, 2, 4, 8)
QUANT_MODES = {"bf16": "bfloat16", "fp8": "fp8"}  # knob value -> the library's GEMM/MoE quantisation mode
FRAMEWORKS = ("vllm", "sglang", "trtllm")
LLM_COLUMNS = ("config_index", "ttft_ms", "tpot_ms", "request_latency_ms", "output_tokens_per_s",
               "tokens_per_s_per_user", "num_gpus", "gpu_mem_gb", "weights_gb", "kvcache_gb", "activations_gb",
               "other_mem_gb", "gpu_mem_capacity_gb")
OBJECTIVE = ("output tokens per dollar = output tokens/s (the `rps` column) x 3600 / price_per_hour; "
             "price_per_hour = tensor_parallel x the GPU type's hourly price")
NOTE = ("Estimated, not measured: AIConfigurator's operator-level model of a static batch, built on kernel "
        "tables measured on the GPUs it names ('silicon') and its empirical model where a table has no entry. "
        "Deterministic: one repetition per configuration.")


def _library():
    """The library's modules, imported on first use: replay and the rest of the collector never need it."""
    try:
        from aiconfigurator_core.sdk import common, errors
        from aiconfigurator_core.sdk.backends.factory import get_backend
        from aiconfigurator_core.sdk.config import ModelConfig, RuntimeConfig
        from aiconfigurator_core.sdk.models import get_model
        from aiconfigurator_core.sdk.models.helpers import check_is_moe
        from aiconfigurator_core.sdk import perf_database
    except ImportError:
        raise CollectError(f"backend=aiconfigurator needs {LIBRARY}: pip install -e '.[llm]'") from None
    logging.getLogger("aiconfigurator_core").setLevel(logging.ERROR)  # its per-table loading notes
    return {"common": common, "errors": errors, "get_backend": get_backend, "ModelConfig": ModelConfig,
            "RuntimeConfig": RuntimeConfig, "get_model": get_model, "check_is_moe": check_is_moe,
            "perf_database": perf_database}


@cache
def model_catalogue() -> dict[str, str]:
    """The LLMs the library ships configurations for: short name (a trace's model name) -> HuggingFace id."""
    _library()
    from aiconfigurator_core import __file__ as package_file

    folder = Path(package_file).parent / "model_configs"
    names = {}
    for path in sorted(folder.glob("*_config.json")):
        if path.name.endswith("_hf_quant_config.json"):
            continue
        org, _, name = path.name[: -len("_config.json")].partition("--")
        names[name] = f"{org}/{name}"
    return names


def load_prices(name_or_path: str) -> dict:
    """A GPU price table of conf/pricing/ (or a path): {gpu_usd_per_h: {gpu_type: $/h}, source, date, ...}."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CONF_DIR / "pricing" / f"{name_or_path}.yaml"
    if not path.is_file():
        raise CollectError(f"no GPU price table {str(name_or_path)!r} (looked for {path})")
    table = yaml.safe_load(path.read_text())
    if not isinstance(table, dict) or not isinstance(table.get("gpu_usd_per_h"), dict):
        raise CollectError(f"{path}: a GPU price table needs a mapping 'gpu_usd_per_h' (GPU type -> $/h)")
    return table


class AIConfiguratorBackend(Backend):
    """Estimates one configuration with AIConfigurator: what `Collector` calls a machine and a measurement."""

    name = "aiconfigurator"
    knobs = frozenset(KNOBS)

    def __init__(self, llm: Mapping):
        super().__init__(price={})
        self.framework = str(llm["framework"])
        self.isl, self.osl = int(llm["isl"]), int(llm["osl"])
        self.database_mode = str(llm["database_mode"]).upper()
        self.prices = load_prices(str(llm["pricing"]))
        if self.framework not in FRAMEWORKS:
            raise CollectError(f"llm.framework={self.framework!r} is not known; frameworks: {list(FRAMEWORKS)}")
        if self.isl < 1 or self.osl < 2:
            raise CollectError(f"llm.isl={self.isl} llm.osl={self.osl}: need isl >= 1 and osl >= 2 tokens")
        self._databases: dict[str, object] = {}
        self._machine: dict | None = None

    # -- what the collector asks of a backend -------------------------------------------------------------
    def check(self, space: SearchSpace) -> None:
        """Refuse, before anything is written, a space whose knob values the library cannot realise."""
        lib = _library()
        if sorted(space.names) != sorted(KNOBS):
            raise CollectError(f"backend=aiconfigurator realises exactly the knobs {list(KNOBS)}; space "
                               f"{space.name!r} has {space.names}")
        if self.database_mode not in ("SILICON", "HYBRID"):
            raise CollectError(f"llm.database_mode={self.database_mode!r}: allowed SILICON (measured tables only) "
                               "or HYBRID (measured tables, the library's empirical model where they have no entry)")
        supported = lib["perf_database"].get_supported_databases()
        for gpu in space.knob("gpu_type").values:
            if self.framework not in supported.get(gpu, {}):
                have = sorted(g for g, fw in supported.items() if self.framework in fw)
                raise CollectError(f"gpu_type {gpu!r} has no {self.framework} database in {LIBRARY} "
                                   f"{metadata.version(LIBRARY)}; GPU types with one: {have}")
            if gpu not in self.prices["gpu_usd_per_h"]:
                raise CollectError(f"gpu_type {gpu!r} has no hourly price in the GPU price table "
                                   f"{self.prices.get('name')!r}")
        bad = [v for v in space.knob("tensor_parallel").values if v not in TENSOR_PARALLEL]
        if bad:
            raise CollectError(f"tensor_parallel values {bad} cannot be realised; allowed: {list(TENSOR_PARALLEL)}")
        bad = [v for v in space.knob("batch_size").values if not (isinstance(v, int) and v >= 1)]
        if bad:
            raise CollectError(f"batch_size values {bad} cannot be realised; allowed: whole numbers >= 1")
        bad = [v for v in space.knob("weight_quant").values if v not in QUANT_MODES]
        if bad:
            raise CollectError(f"weight_quant values {bad} cannot be realised; allowed: {list(QUANT_MODES)}")

    def machine(self) -> dict:
        """What the estimates depend on (a fleet's shards must agree on it); not the CPU that computes them."""
        if self._machine is None:  # the library scans its data folders for this: seconds, so once per process
            pdb = _library()["perf_database"]
            supported = pdb.get_supported_databases()
            self._machine = {
                "backend": self.name, "library": f"{LIBRARY} {metadata.version(LIBRARY)}",
                "framework": self.framework, "database_mode": self.database_mode,
                "workload": {"isl": self.isl, "osl": self.osl},
                "databases": {gpu: pdb.get_latest_database_version(gpu, self.framework)
                              for gpu in sorted(self.prices["gpu_usd_per_h"])
                              if self.framework in supported.get(gpu, {})}}
        return self._machine

    def price_per_hour(self, config: Mapping) -> float:
        return int(config["tensor_parallel"]) * float(self.prices["gpu_usd_per_h"][config["gpu_type"]])

    def price_model(self) -> dict:
        return {"gpu_usd_per_h": dict(self.prices["gpu_usd_per_h"]), "source": self.prices.get("source"),
                "date": self.prices.get("date"), "name": self.prices.get("name"),
                "formula": "price_per_hour = tensor_parallel x gpu_usd_per_h[gpu_type]"}

    # -- one estimate -------------------------------------------------------------------------------------
    def database(self, gpu: str):
        if gpu not in self._databases:
            pdb = _library()["perf_database"]
            version = pdb.get_latest_database_version(gpu, self.framework)
            self._databases[gpu] = pdb.get_database_view(gpu, self.framework, version,
                                                         database_mode=self.database_mode)
        return self._databases[gpu]

    def estimate(self, model_id: str, config: Mapping) -> dict:
        """One journal record's fields for `config` of the LLM `model_id` (a HuggingFace id the library knows)."""
        lib = _library()
        common, errors = lib["common"], lib["errors"]
        tp, quant = int(config["tensor_parallel"]), QUANT_MODES[config["weight_quant"]]
        runtime = lib["RuntimeConfig"](batch_size=int(config["batch_size"]), isl=self.isl, osl=self.osl)
        refusals = (errors.MissingSystemFlopsError, errors.PerfDataNotAvailableError,
                    errors.EmpiricalNotImplementedError)
        try:
            moe = lib["check_is_moe"](model_id)
            model_config = lib["ModelConfig"](  # experts split by tensor parallelism, as vLLM does by default
                tp_size=tp, moe_tp_size=tp if moe else None, moe_ep_size=1 if moe else None,
                gemm_quant_mode=common.GEMMQuantMode[quant],
                moe_quant_mode=common.MoEQuantMode[quant] if moe else None)
            model = lib["get_model"](model_id, model_config, self.framework)
            summary = lib["get_backend"](self.framework).run_static(model, self.database(config["gpu_type"]),
                                                                     runtime, "static")
        except refusals as e:
            return {"feasible": False, "reason": f"unsupported ({type(e).__name__}): {_first_line(e)}"}
        except Exception as e:  # noqa: BLE001 - any other library failure stops the collection, in one line
            raise CollectError(f"{LIBRARY} failed on {model_id} at {dict(config)}: {type(e).__name__}: "
                               f"{_first_line(e)}") from None
        return _record(summary, float(self.database(config["gpu_type"]).system_spec["gpu"]["mem_capacity"]))


def _first_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text[:300]


def _record(summary, capacity_bytes: float) -> dict:
    row = summary.get_summary_df().iloc[0]
    memory = summary.get_memory()
    capacity = capacity_bytes / (1 << 30)
    metrics = {"ttft_ms": float(row["ttft"]), "tpot_ms": float(row["tpot"]),
               "request_latency_ms": float(row["request_latency"]), "output_tokens_per_s": float(row["tokens/s"]),
               "tokens_per_s_per_user": float(row["tokens/s/user"]), "num_gpus": int(row["num_total_gpus"]),
               "gpu_mem_gb": float(memory["total"]), "weights_gb": float(memory["weights"]),
               "kvcache_gb": float(memory["kvcache"]), "activations_gb": float(memory["activations"]),
               "other_mem_gb": float(memory["total"] - memory["weights"] - memory["kvcache"]
                                     - memory["activations"]),
               "gpu_mem_capacity_gb": capacity}
    operators = []
    for phase, times, sources in (("context", summary.get_context_latency_dict(), summary.get_context_source_dict()),
                                  ("generation", summary.get_generation_latency_dict(),
                                   summary.get_generation_source_dict())):
        for op in sorted(times):
            operators.append({"phase": phase, "op": op, "time_ms": float(times[op]),
                              "source": str(sources.get(op, "unknown"))})
    record = {"feasible": True, "reason": "", "metrics": metrics, "operators": operators}
    if summary.check_oom():
        record.update(feasible=False, reason=f"out of memory: needs {memory['total']:.1f} GiB per GPU, the GPU "
                                             f"has {capacity:.1f} GiB (aiconfigurator memory estimate)")
    elif summary.check_kv_cache_oom():
        record.update(feasible=False, reason=f"out of memory: the KV cache ({memory['kvcache']:.1f} GiB) exceeds "
                                             "the framework's KV-cache budget on this GPU (aiconfigurator)")
    return record


# -- journal -> trace -------------------------------------------------------------------------------------
def build_llm_trace(model: str, model_id: str, space: SearchSpace, records: list[dict],
                    backend: AIConfiguratorBackend) -> Trace:
    """The trace of one LLM from its journal records (every configuration of the space must be there)."""
    configs = {r["index"]: r for r in records if r["kind"] == "config"}
    missing = [i for i in range(len(space)) if i not in configs]
    if missing:
        raise CollectError(f"{len(missing)} configurations of {model!r} are not estimated yet, the first being "
                           f"{space.config(missing[0])}")
    rows, llm, ops, provenance = [], [], [], []
    for index in range(len(space)):
        rec, config = configs[index], space.config(index)
        price = backend.price_per_hour(config)
        row = {**config, "rep": 0, "feasible": bool(rec["feasible"]), "reason": rec["reason"],
               "price_per_hour": price, "objective": 0.0}
        m = rec.get("metrics")
        if m is not None:
            llm.append({"config_index": index, **m})
        if rec["feasible"]:
            row.update(rps=m["output_tokens_per_s"], latency_p50_ms=m["request_latency_ms"],
                       latency_p99_ms=m["request_latency_ms"], gpu_mem_used_gb=m["gpu_mem_gb"] * (1 << 30) / 1e9,
                       objective=m["output_tokens_per_s"] * 3600.0 / price)
            profile: dict[str, float] = {}
            for o in rec["operators"]:
                op_type = llm_op_type(o["op"])
                profile[op_type] = profile.get(op_type, 0.0) + o["time_ms"]
                provenance.append({"config_index": index, "phase": o["phase"], "op": o["op"], "op_type": op_type,
                                   "time_ms": o["time_ms"], "source": o["source"]})
            ops.extend(profile_rows(index, [{"op_type": k, "time_ms": v, "mem_mb": np.nan}
                                            for k, v in sorted(profile.items()) if v > 0]))
        rows.append(row)
    sessions = [r for r in records if r["kind"] == "session"]
    header = next(r for r in records if r["kind"] == "header")
    metadata = {
        "provenance": "estimated", "backend": backend.name, "model_ref": model_id, "machine": header["machine"],
        "price_model": backend.price_model(), "objective": OBJECTIVE,
        "fields": {"rps": "output tokens/s of the whole batch (tokens/s in AIConfigurator's summary)",
                   "latency_p50_ms": "request latency = TTFT + TPOT x (osl - 1) (all requests of a static batch "
                                     "finish together)",
                   "latency_p99_ms": "the same request latency",
                   "gpu_mem_used_gb": "estimated memory per GPU (weights, KV cache, activations, runtime), GB"},
        "auxiliary": {"llm": "per configuration the library returned numbers for (also out-of-memory ones): "
                             "TTFT, TPOT, request latency, tokens/s, GPUs, memory breakdown per GPU in GiB",
                      "op_provenance": "per feasible configuration: every library operator's time (ms, the whole "
                                       "batch's request) and its source ('silicon' = measured table, "
                                       "'empirical' = modelled, 'mixed')"},
        "operator_profile": "the library's per-operator times summed over prefill and decode, in the LLM "
                            "operators of harness/vocabulary.py (llm_op_type); mem_mb unknown",
        "generation_s": round(sum(float(c.get("wall_s", 0.0)) for c in configs.values()), 3),
        "sessions": [{k: s[k] for k in ("date", "load_avg", "software")} for s in sessions],
        "note": NOTE, "seed": header["settings"]["seed"]}
    aux = {"llm": pd.DataFrame(llm, columns=list(LLM_COLUMNS)),
           "op_provenance": pd.DataFrame(provenance, columns=["config_index", "phase", "op", "op_type", "time_ms",
                                                              "source"])}
    return Trace(model, space, pd.DataFrame(rows), pd.DataFrame(ops) if ops else None, metadata, aux)


class LLMCollector(Collector):
    """The collector with AIConfigurator estimates in place of measurements (one repetition: they are exact)."""

    backend: AIConfiguratorBackend

    def __init__(self, backend: AIConfiguratorBackend, model: str, space: SearchSpace, out, settings: Settings,
                 set_name: str | None = None, progress: bool = True, shard: Shard = Shard()):
        self.model_id = resolve_llm(model)
        super().__init__(backend, model, space, out, replace(settings, reps=1), set_name, progress, shard)

    def _model_name(self, model: str) -> str:
        return self.model_id.split("/", 1)[1]

    def _measure(self, config: dict) -> dict:
        t0 = time.perf_counter()
        record = self.backend.estimate(self.model_id, config)
        return {**record, "wall_s": time.perf_counter() - t0}

    def _build_trace(self, records: list[dict]) -> Trace:
        return build_llm_trace(self.model, self.model_id, self.space, records, self.backend)

    def _set_info(self) -> dict:
        return {"provenance": "estimated", "backend": self.backend.name, "objective": OBJECTIVE,
                "machine": self.backend.machine(), "price_model": self.backend.price_model(), "note": NOTE}


def resolve_llm(model: str) -> str:
    """The HuggingFace id of an LLM the library knows, from its short name (`Qwen3-8B`) or its id."""
    catalogue = model_catalogue()
    model_id = catalogue.get(model, model if model in catalogue.values() else None)
    if model_id is not None:
        try:
            _library()["check_is_moe"](model_id)  # reads the configuration the library ships
        except Exception as e:  # noqa: BLE001 - e.g. a configuration it would download from HuggingFace
            raise CollectError(f"model {model!r}: {LIBRARY} cannot read its configuration offline: "
                               f"{type(e).__name__}: {_first_line(e)}") from None
        return model_id
    close = [n for n in catalogue if re.sub(r"[^a-z0-9]", "", model.lower()) in re.sub(r"[^a-z0-9]", "", n.lower())]
    hint = f"; close: {close[:5]}" if close else f"; e.g. {sorted(catalogue)[:6]}"
    raise CollectError(f"model {model!r} is not an LLM {LIBRARY} {metadata.version(LIBRARY)} ships a "
                       f"configuration for ({len(catalogue)} known{hint})")

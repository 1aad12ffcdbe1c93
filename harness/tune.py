"""Live tuning: recommend a serving configuration for one model on this machine, under the user's SLO.

    python -m harness.tune backend=cpu model=resnet-18 space=cpu_local knowledge=measured_cpu method=falcon \\
        trials=4 out=tunes/resnet-18 constraints.latency_p99_ms=200

The method of conf/method is composed as `harness.run` composes it (tuned values applied where they exist for
the knowledge set), fitted on the knowledge trace set's models (the target model left out; strict knowledge
protocol), and searches through the one loop (`harness.loop.run_search`) against the live evaluator
(`harness.live.LiveEvaluator`): each configuration it proposes is measured for real by the collector's worker,
appended durably to the journal, and only then told to the searcher, judged against the SLO (`harness.slo`).
`tune.json` is rewritten atomically after every trial. A restart replays the journal into a fresh searcher with
the same seed, which proposes the same configurations (a different proposal is refused), and goes on: nothing is
measured twice.

    <out>/journal.jsonl   header (the tune's identity), one session per start, one record per measured trial
    <out>/tune.json       every trial, the recommendation, knowledge digest, method config, constraints, settings
    <out>/tune.lock       held while a tuner works in <out>
    <out>/fits/           the method's fitted state (JSON), reused on a restart
    <out>/work/           the workers' scratch files

Every check (values, model, space, knowledge, backend, SLO, method, `out`) comes before anything is written.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

import hydra
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from tqdm import tqdm

from harness.collect.backends import Backend, make_backend, software
from harness.collect.collector import MEASURED_FIELDS, Settings
from harness.collect.journal import CollectError, CollectLock, Journal
from harness.collect.models import resolve
from harness.config import ConfigError, check_run, one_line_errors
from harness.hpo.tuned_values import TunedError, apply_tuned
from harness.job import JobError, fit_searcher, make_searcher
from harness.live import JournalMismatch, LiveEvaluator, now, trial_entry
from harness.loop import SearcherBug, run_search
from harness.paths import CONF_DIR, trace_set_path
from harness.results import atomic_write_text, differences
from harness.search import Searcher, TransferSearcher
from harness.slo import LIMITS, ConstraintError, check_slo, check_slo_overrides
from harness.space import SearchSpace
from harness.traces import MANIFEST, TraceSet

TUNE_FILE, JOURNAL_FILE, LOCK_FILE, FITS_DIR, WORK_DIR = "tune.json", "journal.jsonl", "tune.lock", "fits", "work"
OWN_ENTRIES = {TUNE_FILE, JOURNAL_FILE, LOCK_FILE, FITS_DIR, WORK_DIR, ".gitignore"}
TOOL = "harness.tune"


class TuneError(ValueError):
    """A tune that cannot run as asked; the message says why in one line."""


# -- knowledge -------------------------------------------------------------------------------------------
def knowledge_set(ref: str) -> TraceSet:
    """The knowledge trace set: a name of conf/traces/ (its `path`), or a trace set folder."""
    named = CONF_DIR / "traces" / f"{ref}.yaml"
    path = trace_set_path(OmegaConf.load(named).path if "/" not in ref and named.is_file() else ref)
    if not (path / MANIFEST).is_file():
        known = sorted(p.stem for p in (CONF_DIR / "traces").glob("*.yaml"))
        raise TuneError(f"knowledge={ref!r} is neither a trace set of conf/traces ({', '.join(known)}) nor a "
                        f"trace set folder ({path} has no {MANIFEST})")
    return TraceSet(path)


def space_differences(space: SearchSpace, other: SearchSpace) -> list[str]:
    """Knob by knob, how `other` (the knowledge set's space) differs from `space`; [] when they are equal."""
    mine, theirs = {k.name: k for k in space.knobs}, {k.name: k for k in other.knobs}
    out = []
    for name, knob in mine.items():
        if name not in theirs:
            out.append(f"{name} is not a knob of the set")
        elif list(knob.values) != list(theirs[name].values):
            out.append(f"{name} values {list(knob.values)} here, {list(theirs[name].values)} in the set")
        elif (knob.unit, knob.ordered) != (theirs[name].unit, theirs[name].ordered):
            out.append(f"{name} unit/ordering {knob.unit!r}/{knob.ordered} here, "
                       f"{theirs[name].unit!r}/{theirs[name].ordered} in the set")
    out += [f"{name} is a knob of the set only" for name in theirs if name not in mine]
    if not out and space.names != other.names:
        out.append(f"knob order {space.names} here, {other.names} in the set")
    return out


class Table:
    """The live table of trials (printed above the progress bar)."""

    def __init__(self, space: SearchSpace, constrained: bool):
        self.width = max(len(self.config_text(c)) for c in space)
        self.constrained = constrained

    @staticmethod
    def config_text(config: dict) -> str:
        return " ".join(f"{k}={v}" for k, v in config.items())

    def header(self) -> str:
        return (f"{'trial':>5}  {'configuration':<{self.width}}  {'req/s':>9}  {'p50 ms':>8}  {'p99 ms':>8}  "
                f"{'$/h':>8}  {'req/$':>10}  SLO met")

    def row(self, entry: dict, note: str = "") -> str:
        def num(key, fmt):
            value = entry.get(key)
            return format(value, fmt) if value is not None else "-"

        if not entry["feasible"]:
            slo = f"no: infeasible ({entry['reason'][:60]})"
        elif not self.constrained:
            slo = "- (no SLO)"
        else:
            slo = "yes" if entry["slo_met"] else "no: " + "; ".join(entry["slo_misses"])
        return (f"{entry['trial']:>5}  {self.config_text(entry['config']):<{self.width}}  {num('rps', '9.2f')}  "
                f"{num('latency_p50_ms', '8.1f')}  {num('latency_p99_ms', '8.1f')}  {num('price_per_hour', '8.4f')}  "
                f"{format(entry['objective'], '10.4g')}  {slo}{note}")


# -- the tune ----------------------------------------------------------------------------------------------
class Tune:
    """One live tune, checked at construction (nothing written); `run` measures and writes."""

    def __init__(self, cfg: DictConfig):
        missing = [key for key in ("model", "knowledge", "out") if OmegaConf.is_missing(cfg, key)]
        if missing:
            raise ConfigError(f"{missing[0]}= is required (python -m harness.tune --help lists every key)")
        check_run(cfg)
        self.cfg = cfg
        self.constraints, percentile = check_slo(cfg.constraints)
        if percentile is not None:
            raise ConstraintError("constraints.latency_p99_percentile is a replay scenario (a percentile of a trace's "
                                  "own latencies): a live tune has no trace of its model; set "
                                  "constraints.latency_p99_ms")
        self.settings = Settings.from_mapping(OmegaConf.to_container(cfg.settings, resolve=True))  # checked
        try:
            self.target = resolve(str(cfg.model))[0].name
        except ValueError as e:
            raise TuneError(f"model={cfg.model}: {e}") from None
        self.space = SearchSpace.from_dict(OmegaConf.to_container(cfg.space, resolve=True))
        if cfg.remeasure < 0:
            raise ConfigError(f"remeasure={cfg.remeasure}: must be a whole number >= 0")
        if cfg.trials > len(self.space):
            raise ConfigError(f"trials={cfg.trials}: must be at most {len(self.space)}, the number of "
                              f"configurations of space {self.space.name!r}")
        self.traces = knowledge_set(str(cfg.knowledge))
        differ = space_differences(self.space, self.traces.space)
        if differ:
            raise TuneError(f"knowledge set {self.traces.name!r} is over another space than space="
                            f"{self.space.name}: {'; '.join(differ)}")
        self.sources = [m for m in self.traces.models if m != self.target]
        if not self.sources:
            raise TuneError(f"knowledge set {self.traces.name!r} holds only the target model {self.target!r}: "
                            "nothing to learn from")
        self.backend: Backend = make_backend(str(cfg.backend), OmegaConf.to_container(cfg.price, resolve=True),
                                             int(cfg.device), bool(cfg.allow_power_cap))
        self.backend.check(self.space)
        self.constraints.require(MEASURED_FIELDS, f"backend={self.backend.name}")
        self.job = self._method_job()
        self.searcher: Searcher = make_searcher(self.job.method)
        self.out = Path(to_absolute_path(str(cfg.out)))
        self.identity = json.loads(json.dumps({
            "model": self.target, "model_ref": str(cfg.model), "backend": self.backend.name,
            "space": self.space.to_dict()["knobs"], "knowledge_digest": self.traces.digest(),
            "method": OmegaConf.to_container(self.job.method, resolve=True), "seed": int(cfg.seed),
            "constraints": self.constraints.to_dict(), "settings": asdict(self.settings),
            "price": OmegaConf.to_container(cfg.price, resolve=True)}, sort_keys=True))
        self._check_out()

    def _method_job(self) -> DictConfig:
        """The method config as harness.run composes it for a job on the knowledge set, tuned values applied."""
        method = self.cfg.method
        if method.get("protocol", "strict") != "strict":
            raise TuneError(f"method={method.name} uses protocol={method.protocol} (the target's released "
                            "curves), which a live tune does not have: use a method with protocol strict")
        job = OmegaConf.create({"method": OmegaConf.to_container(method, resolve=True), "target": self.target,
                                "split": {"name": f"knowledge set {self.traces.name}", "source": self.sources}})
        self.tuned_ = None
        if self.cfg.tuned:
            try:
                self.tuned_ = apply_tuned(job, self.traces.name, self.traces.digest())
            except TunedError as e:
                raise TuneError(str(e)) from None
        return job

    def _check_out(self) -> None:
        """`out` must be absent, empty, or this tune's own folder (same identity, no more trials than asked)."""
        out = self.out
        if not out.exists() and not out.is_symlink():
            return
        if out.is_symlink() or not out.is_dir():
            raise TuneError(f"out={out}: it exists and is not a folder")
        entries = {p.name for p in out.iterdir()}
        if not entries:
            return
        foreign = sorted(e for e in entries - OWN_ENTRIES if not e.startswith(f".{TUNE_FILE}."))  # not a killed write
        records = Journal(out / JOURNAL_FILE).read(repair=False) if JOURNAL_FILE in entries else []
        if foreign or (records and records[0].get("tool") != TOOL) or (not records and TUNE_FILE in entries):
            shown = foreign[:3] or sorted(entries)[:3]
            raise TuneError(f"out={out} is not empty and is not a tune's folder (it holds {shown}): use a new or "
                            "empty folder")
        if not records:  # a tune stopped before its journal's header was written
            return
        done = sum(r["kind"] == "config" for r in records)
        changed = differences(records[0]["identity"], self.identity)
        if changed and done:
            raise TuneError(f"out={out} holds a tune made under other settings ({'; '.join(changed)}): use "
                            "another out")
        if done > self.cfg.trials:
            raise ConfigError(f"trials={self.cfg.trials}: {out} already holds {done} measured trials; ask for at "
                              f"least {done}")

    def announce(self) -> None:
        left_out = (f"; target {self.target!r} is in the set and is left out" if self.target in self.traces.models
                    else "")
        print(f"knowledge: {self.traces.name} ({self.traces.path}), {len(self.sources)} source models{left_out}")
        applied = (f"tuned values {self.tuned_} from conf/method/tuned/{self.traces.name}/" if self.tuned_
                   else f"no tuned values for trace set {self.traces.name!r}" if self.cfg.tuned
                   else "tuned=false: the method's own defaults")
        print(f"method: {self.job.method.name}, {applied}; SLO: {self.constraints}")

    def run(self) -> dict:
        """Measure until `trials` trials are journaled (resuming what is there); returns tune.json's content."""
        self.out.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            if self.backend.power_cap is not None:
                stack.callback(self.backend.power_cap.restore)
            try:
                stack.enter_context(CollectLock(self.out / LOCK_FILE))
            except CollectError:
                raise TuneError(f"another tuner works in {self.out} "
                                f"({(self.out / LOCK_FILE).read_text().strip() or '?'} is its pid): wait for it or "
                                "stop it") from None
            self._check_out()  # again under the lock: another tuner may have started it meanwhile
            self._start_afresh_if_nothing_was_measured()
            (self.out / ".gitignore").write_text("*\n")
            (self.out / WORK_DIR).mkdir(exist_ok=True)
            for stale in (self.out / WORK_DIR).glob("worker-*"):  # scratch of a worker killed with its tuner
                shutil.rmtree(stale, ignore_errors=True)
            for stale in self.out.glob(f".{TUNE_FILE}.*"):  # a write of tune.json killed half-way
                stale.unlink()
            return self._run(Journal(self.out / JOURNAL_FILE))

    def _start_afresh_if_nothing_was_measured(self) -> None:
        """A tune stopped before its first measurement (e.g. under settings that were corrected since) is begun
        again under the new settings: its journal holds only the header, so nothing measured is lost."""
        journal = self.out / JOURNAL_FILE
        records = Journal(journal).read(repair=False) if journal.is_file() else []
        if records and not any(r["kind"] == "config" for r in records) and records[0]["identity"] != self.identity:
            journal.unlink()
            (self.out / TUNE_FILE).unlink(missing_ok=True)

    def _run(self, journal: Journal) -> dict:
        self.announce()
        records = journal.read()
        if not records:
            records = [{"kind": "header", "tool": TOOL, "identity": self.identity, "date": now(),
                        "machine": self.backend.machine()}]
            journal.append(records[0])
        journal.append({"kind": "session", "date": now(), "pid": os.getpid(), "load_avg": list(os.getloadavg()),
                        "software": software()})
        if isinstance(self.searcher, TransferSearcher):
            fit_searcher(self.searcher, self.job, self.traces, self.out / FITS_DIR)
        journaled = sum(r["kind"] == "config" for r in records)
        table = Table(self.space, bool(self.constraints.active))
        tqdm.write(table.header(), file=sys.stdout)
        bar = tqdm(total=int(self.cfg.trials), initial=journaled, unit="trial", disable=not self.cfg.progress,
                   desc=f"tune {self.target}", dynamic_ncols=True)
        evaluator = LiveEvaluator(self.backend, str(self.cfg.model), self.space, self.settings, self.out / WORK_DIR,
                                  journal, records, lambda config: bar.set_postfix_str(Table.config_text(config)))
        started = time.perf_counter()
        entries: list[dict] = []
        try:
            for record in run_search(self.searcher, evaluator, int(self.cfg.seed), int(self.cfg.trials),
                                     self.constraints):
                entries.append(trial_entry(record.trial, record.observation, evaluator.records[-1]))
                if not evaluator.replayed:
                    self._write(entries)
                    bar.update(1)
                tqdm.write(table.row(entries[-1], "  (journal)" if evaluator.replayed else ""), file=sys.stdout)
        finally:
            bar.close()
        summary = self._write(entries, self._confidence(entries, evaluator))
        self._print_summary(summary, table, time.perf_counter() - started)
        return summary

    def _confidence(self, entries: list[dict], evaluator: LiveEvaluator) -> dict | None:
        """Under an SLO, the recommendation with the measured spread taken into account: candidates are the trials
        that met the SLO (the searcher's pick first, then by objective); one is recommended only if the least
        favourable value over every repetition of its measurements meets every limit, and the first `remeasure`
        candidates are measured once more first (a second, independent measurement). None without an SLO."""
        if not self.constraints.active:
            return None
        pick = self.space.index(self.searcher.recommend()) if entries else None
        met = sorted((e for e in entries if e["slo_met"]), key=lambda e: (e["index"] != pick, -e["objective"],
                                                                         e["trial"]))
        checked, remeasured, chosen = [], 0, None
        for entry in met:
            if remeasured >= int(self.cfg.remeasure) > 0:
                break  # the candidates left were not measured twice: not confident enough to recommend
            records = [evaluator.records[entry["trial"] - 1]]
            if self.cfg.remeasure and not self.constraints.misses(evaluator.worst_values(records)):
                records.append(evaluator.remeasure(entry["index"]))
                remeasured += 1
            worst = evaluator.worst_values(records)
            misses = self.constraints.misses(worst)
            checked.append({"trial": entry["trial"], "config": entry["config"], "measurements": len(records),
                            "repetitions": len(records) * self.settings.reps, "worst": worst,
                            "misses": list(misses), "headroom": self._headroom(worst)})
            if not misses:
                chosen = entry
                break
        return {"rule": "every repetition of every measurement of the configuration meets every limit (worst "
                        "p99 latency, worst requests/s)", "remeasure": int(self.cfg.remeasure), "checked": checked,
                "recommended_trial": chosen["trial"] if chosen else None}

    @staticmethod
    def _margin_text(checked: dict) -> str:
        return ", ".join(f"{key} {100 * room:.0f} % inside" for key, room in checked["headroom"].items())

    def _headroom(self, worst: dict[str, float]) -> dict[str, float | None]:
        """How far each limited value stays inside its limit, as a fraction of the limit (< 0: a miss)."""
        room = {}
        for key, limit in self.constraints.active.items():
            field_name, kind, _ = LIMITS[key]
            value = worst[field_name]
            room[key] = None if math.isnan(value) else round((limit - value if kind == "max" else value - limit)
                                                             / limit, 4)
        return room

    def _write(self, entries: list[dict], confidence: dict | None = None) -> dict:
        """tune.json as it stands now, written atomically. Under an SLO the recommendation is the confirmed one
        (`confidence`; null while the tune runs)."""
        pick = self.space.index(self.searcher.recommend()) if entries else None
        chosen = next((e for e in entries if e["index"] == pick), None)
        if self.constraints.active:
            trial = (confidence or {}).get("recommended_trial")
            recommendation = entries[trial - 1] if trial else None
        else:
            recommendation = chosen if chosen is not None and chosen["slo_met"] else None  # feasible
        summary = {
            "model": self.target, "model_ref": str(self.cfg.model), "backend": self.backend.name,
            "machine": self.backend.machine(), "space": self.space.to_dict(),
            "knowledge": {"name": self.traces.name, "path": str(self.traces.path), "digest": self.traces.digest(),
                          "sources": self.sources,
                          "target_left_out": self.target in self.traces.models, "protocol": "strict"},
            "method": self.job.method.name, "method_config": OmegaConf.to_container(self.job.method, resolve=True),
            "tuned_values": self.tuned_, "seed": int(self.cfg.seed), "trials_requested": int(self.cfg.trials),
            "constraints": self.constraints.to_dict(), "settings": asdict(self.settings),
            "price_model": self.backend.price_model(), "identity": self.identity,
            "trials": entries, "finished": len(entries) == int(self.cfg.trials),
            "measuring_minutes": sum(e["wall_s"] or 0.0 for e in entries) / 60.0,
            "recommendation": recommendation, "searcher_pick": chosen, "slo_confidence": confidence}
        atomic_write_text(self.out / TUNE_FILE, json.dumps(summary, indent=1, sort_keys=True, allow_nan=False) + "\n")
        return summary

    def _print_summary(self, summary: dict, table: Table, elapsed_s: float) -> None:
        entries, rec, confidence = summary["trials"], summary["recommendation"], summary["slo_confidence"]
        checked = {c["trial"]: c for c in (confidence or {}).get("checked", [])}
        if rec is not None:
            print(f"recommendation: {Table.config_text(rec['config'])} (trial {rec['trial']}): "
                  f"{rec['rps']:.2f} requests/s, p50 {rec['latency_p50_ms']:.1f} ms, p99 "
                  f"{rec['latency_p99_ms']:.1f} ms, ${rec['price_per_hour']:.4f}/h, {rec['objective']:.4g} "
                  f"requests/$; SLO: {self.constraints}")
            if confidence:
                c = checked[rec["trial"]]
                print(f"  margin: the worst of {c['repetitions']} repetitions in {c['measurements']} measurement(s) "
                      f"meets every limit ({self._margin_text(c)})")
        elif not any(e["feasible"] for e in entries):
            print(f"no recommendation: none of the {len(entries)} configurations tried ran (all infeasible)")
        elif not any(e["slo_met"] for e in entries):
            print(f"no recommendation: no trial met the SLO ({self.constraints}) in {len(entries)} trials")
        else:
            print(f"no recommendation: no tried configuration meets the SLO ({self.constraints}) with confidence: "
                  + "; ".join(f"trial {t} ({Table.config_text(c['config'])}) worst of {c['repetitions']} "
                              f"repetitions: {', '.join(c['misses'])}" for t, c in checked.items()))
        print(f"{len(entries)} trials, {summary['measuring_minutes']:.1f} minutes of measuring "
              f"({elapsed_s / 60:.1f} minutes in this start) -> {self.out / TUNE_FILE}")


# -- entry point -------------------------------------------------------------------------------------------
ERRORS = (TuneError, JobError, ConstraintError, CollectError, JournalMismatch, SearcherBug)


def compose_tune(overrides: list[str]) -> DictConfig:
    """The config exactly as `python -m harness.tune OVERRIDES` composes it."""
    with initialize_config_dir(config_dir=str(CONF_DIR / "tune"), version_base="1.3"):
        return compose("tune", overrides=overrides)


def one_line(error: BaseException) -> str:
    """A composition error (and its cause) as one line."""
    text = str(error) + (f": {error.__cause__}" if error.__cause__ and str(error.__cause__) not in str(error)
                         else "")
    return " ".join(text.split())


@hydra.main(version_base="1.3", config_path=str(CONF_DIR / "tune"), config_name="tune")
def hydra_main(cfg: DictConfig) -> None:
    with one_line_errors("tune", ERRORS):
        Tune(cfg).run()


def main() -> None:
    """Plain overrides are composed here first, so that a bad key or value is one line (Hydra prints several);
    `--help`, `--cfg job`, `-m` and the like go to Hydra as they are."""
    overrides = sys.argv[1:]
    with one_line_errors("tune"):
        check_slo_overrides(overrides)
    if not any(arg.startswith("-") for arg in overrides):
        try:
            compose_tune(overrides)
        except (HydraException, OmegaConfBaseException) as e:
            print(f"tune: {one_line(e)}", file=sys.stderr)
            raise SystemExit(1) from None
    hydra_main()


if __name__ == "__main__":
    main()

"""Ask time of Falcon on the paper space: one `ask` after 15 trials of a release target (the middle of a 30-trial
search), under both release protocols (strict: no curves on the release, the sources' ranking alone); and on sim-v1
(which has latencies) without and under an SLO (p99 at the target's 25th percentile, `slo: feasibility`), Falcon
next to falcon_plus. Run: scripts/test tests/benchmarks/test_bench_falcon.py --benchmark-enable"""

import pytest
from omegaconf import OmegaConf

from falcon.searcher import FalconSearcher
from harness.slo import Constraints, percentile_limit
from harness.knowledge import select_knowledge
from harness.paths import CONF_DIR, TRACES_DIR
from harness.traces import TraceSet


@pytest.mark.parametrize("protocol", ["strict", "authors"])
@pytest.mark.parametrize("target", ["roberta", "tacotron2"])
def test_bench_ask_after_15_trials(bench_ask, protocol, target, release_sources, release_set):
    knowledge = select_knowledge(release_set, [t.model for t in release_sources], target, protocol)
    bench_ask(FalconSearcher().fit(knowledge), release_set.load(target))


@pytest.mark.parametrize("slo", ["none", "p25"])
@pytest.mark.parametrize("weighting", ["none", "profile"])
def test_bench_ask_after_15_trials_under_an_slo(bench_ask, slo, weighting):
    traces = TraceSet(TRACES_DIR / "sim-v1")
    split = OmegaConf.load(CONF_DIR / "split" / "paper.yaml")
    knowledge = select_knowledge(traces, list(split.source), "roberta", "strict")
    target = traces.load("roberta")
    limits = Constraints(latency_p99_ms=percentile_limit(target, 25)) if slo == "p25" else Constraints()
    bench_ask(FalconSearcher(source_weighting=weighting).fit(knowledge), target, constraints=limits)

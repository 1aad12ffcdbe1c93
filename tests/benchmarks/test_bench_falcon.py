"""Ask time of Falcon on the paper space: one `ask` after 15 trials of a release target (the middle of a 30-trial
search), under both release protocols (strict: no curves on the release, the sources' ranking alone). Run: scripts/test tests/benchmarks/test_bench_falcon.py --benchmark-enable"""

import pytest

from falcon.searcher import FalconSearcher
from harness.knowledge import select_knowledge


@pytest.mark.parametrize("protocol", ["strict", "authors"])
@pytest.mark.parametrize("target", ["roberta", "tacotron2"])
def test_bench_ask_after_15_trials(bench_ask, protocol, target, release_sources, release_set):
    knowledge = select_knowledge(release_set, [t.model for t in release_sources], target, protocol)
    bench_ask(FalconSearcher().fit(knowledge), release_set.load(target))

"""Ask time of Falcon on the paper space: one `ask` after 15 trials of a release target (the middle of a 30-trial
search), under both release protocols. Run: scripts/test tests/benchmarks/test_bench_falcon.py --benchmark-enable"""

import pytest

from falcon.searcher import FalconSearcher


@pytest.mark.parametrize("protocol", ["strict", "authors"])
@pytest.mark.parametrize("target", ["roberta", "tacotron2"])
def test_bench_ask_after_15_trials(bench_ask, protocol, target, release_sources, release_set):
    searcher = FalconSearcher(protocol=protocol, curves_from=str(release_set.path), target=target)
    bench_ask(searcher.fit(release_sources), release_set.load(target))

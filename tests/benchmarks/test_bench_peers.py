"""Ask time of the off-the-shelf peers on the paper space, measured as Falcon's is (test_bench_falcon.py): one
`ask` after 15 trials of the release's roberta; the transfer peers fitted on the paper split's sources. Run:
scripts/test tests/benchmarks/test_bench_peers.py tests/benchmarks/test_bench_falcon.py --benchmark-enable"""

import pytest

pytest.importorskip("smac", reason="needs the peers extra (pip install 'falcon-bench[peers]')")
pytest.importorskip("syne_tune", reason="needs the peers extra (pip install 'falcon-bench[peers]')")
pytest.importorskip("botorch", reason="needs the peers extra (pip install 'falcon-bench[peers]')")

from baselines.botorch_mtgp import BoTorchMTGP  # noqa: E402
from baselines.smac_hpo import SMACHPO  # noqa: E402
from baselines.syne_tune_bo import SyneTuneBO  # noqa: E402
from baselines.syne_tune_transfer import SyneTuneBoundingBox, SyneTuneCopula, SyneTuneZeroShot  # noqa: E402
from harness.search import Knowledge  # noqa: E402

PEERS = {"smac_hpo": SMACHPO, "syne_tune_bo": SyneTuneBO}
TRANSFER_PEERS = {"syne_tune_zero_shot": SyneTuneZeroShot, "syne_tune_bounding_box": SyneTuneBoundingBox,
                  "syne_tune_copula": SyneTuneCopula, "botorch_mtgp": BoTorchMTGP}


@pytest.mark.parametrize("name", PEERS)
def test_bench_ask_after_15_trials(bench_ask, name, release_set):
    bench_ask(PEERS[name](), release_set.load("roberta"))


@pytest.mark.parametrize("name", TRANSFER_PEERS)
def test_bench_transfer_peer_ask_after_15_trials(bench_ask, name, release_set, release_sources):
    bench_ask(TRANSFER_PEERS[name]().fit(Knowledge(tuple(release_sources))), release_set.load("roberta"))

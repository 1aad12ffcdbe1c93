import numpy as np
import pytest

from falcon.searcher import FalconSearcher
from harness.search import run_search
from tests.falcon.conftest import conv_dense_shares, planted_objective, profiled_trace


@pytest.fixture
def sources(small_space):
    return [profiled_trace(small_space, lambda c, s=s: planted_objective(c, s), conv_dense_shares, f"src{s}")
            for s in (0.0, 0.2, 0.5)]


@pytest.fixture
def target(small_space):
    # an unseen model of the same family: other scale, other offset, same good region
    return profiled_trace(small_space, lambda c: 3.0 * planted_objective(c, 0.1), conv_dense_shares, "target")


def test_deterministic_per_seed_and_never_repeats_over_the_whole_space(small_space, sources, target):
    falcon = FalconSearcher().fit(sources)
    runs = [[r.index for r in run_search(falcon, target, seed=3, trials=len(small_space))] for _ in range(2)]
    assert runs[0] == runs[1]
    assert sorted(runs[0]) == list(range(len(small_space)))  # every point once; run_search refuses repeats
    other = [r.index for r in run_search(falcon, target, seed=4, trials=5)]
    assert other != runs[0][:5]


def test_finds_the_planted_optimum_quickly(sources, target):
    falcon = FalconSearcher().fit(sources)
    assert falcon.knowledge_ == "source operator profiles"
    for seed in range(3):
        records = list(run_search(falcon, target, seed=seed, trials=6))
        assert records[0].phase == "profile"
        assert records[-1].accuracy == pytest.approx(1.0)


def test_kops_come_from_the_first_trial(sources, target):
    falcon = FalconSearcher(threshold=0.05).fit(sources)
    list(run_search(falcon, target, seed=0, trials=2))
    assert list(falcon.kops_) == ["conv2d", "dense"]
    assert [op for op, _, _ in falcon.active_] == ["conv2d", "dense"]


def test_target_value_stops_the_search_and_freezes_the_recommendation(sources, target):
    falcon = FalconSearcher(target_value=0.0).fit(sources)
    records = list(run_search(falcon, target, seed=0, trials=4))
    assert [r.phase for r in records] == ["profile", "stopped", "stopped", "stopped"]
    assert all(r.recommended == records[0].config for r in records)


def test_without_an_operator_profile_it_searches_with_the_mean_prior(small_space, sources, make_trace):
    blind = make_trace(small_space, lambda c: planted_objective(c))  # no operators at all
    falcon = FalconSearcher().fit(sources)
    records = list(run_search(falcon, blind, seed=0, trials=8))
    assert falcon.kops_ == {} and len(falcon.active_) == 1
    assert len({r.index for r in records}) == 8


def test_release_needs_curves_and_protocols_choose_them(release_set):
    sources = release_set.load_many(["vgg-19", "bert-base"])
    with pytest.raises(ValueError, match="curves_from"):
        FalconSearcher().fit(sources)
    path = str(release_set.path)
    strict = FalconSearcher(protocol="strict", curves_from=path, target="tacotron2").fit(sources)
    authors = FalconSearcher(protocol="authors", curves_from=path, target="tacotron2").fit(sources)
    assert "conv1d" not in strict.responses_  # only tacotron2 released conv1d curves
    assert "conv1d" in authors.responses_ and "conv2d" not in authors.responses_
    with pytest.raises(ValueError, match="protocol"):
        FalconSearcher(protocol="peek", curves_from=path, target="vgg16").fit(sources)
    records = list(run_search(strict, release_set.load("tacotron2"), seed=0, trials=5))
    assert records[0].phase == "profile" and len({r.index for r in records}) == 5


def test_fitted_state_survives_json_and_gives_the_same_search(sources, target):
    import json

    fitted = FalconSearcher().fit(sources)
    restored = FalconSearcher().set_state(json.loads(json.dumps(fitted.get_state())))
    runs = [[r.index for r in run_search(s, target, seed=2, trials=12)] for s in (fitted, restored)]
    assert runs[0] == runs[1]

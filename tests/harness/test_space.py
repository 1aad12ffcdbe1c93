import numpy as np
import pytest

from harness.space import Knob, SearchSpace, SpaceError, load_space


def test_paper_space_has_1440_configurations_that_round_trip(paper_space):
    assert len(paper_space) == 1440
    assert paper_space.names == ["cpu_cores", "gpu_type", "gpu_mem_gb", "batch_size", "gpu_power_pct"]
    seen = set()
    for i in range(len(paper_space)):
        config = paper_space.config(i)
        assert paper_space.index(config) == i
        seen.add(tuple(config.values()))
    assert len(seen) == 1440


def test_index_is_mixed_radix_in_knob_order(paper_space):
    first = paper_space.config(0)
    assert first == {"cpu_cores": 1, "gpu_type": "M60", "gpu_mem_gb": 0.8, "batch_size": 4, "gpu_power_pct": 50}
    assert paper_space.config(1)["gpu_power_pct"] == 75  # the last knob varies fastest
    assert paper_space.config(1439) == {"cpu_cores": 5, "gpu_type": "V100", "gpu_mem_gb": 2.4,
                                        "batch_size": 128, "gpu_power_pct": 100}


def test_unknown_value_is_refused_naming_knob_and_allowed_values(paper_space):
    config = dict(paper_space.config(0), batch_size=48)
    with pytest.raises(SpaceError, match=r"batch_size.*48.*\[4, 8, 16, 32, 64, 128\]"):
        paper_space.index(config)
    with pytest.raises(SpaceError, match="gpu_type.*A100"):
        paper_space.index(dict(paper_space.config(0), gpu_type="A100"))


def test_missing_or_unknown_knob_is_refused(paper_space):
    config = paper_space.config(0)
    del config["gpu_type"]
    with pytest.raises(SpaceError, match="missing knobs \\['gpu_type'\\]"):
        paper_space.index(config)
    with pytest.raises(SpaceError, match="unknown knobs \\['colour'\\]"):
        paper_space.index(dict(paper_space.config(0), colour="red"))


def test_numeric_values_match_despite_int_float_spelling(paper_space):
    config = dict(paper_space.config(5), batch_size=64.0, gpu_mem_gb=1.6000000001)
    assert paper_space.validate(config)["batch_size"] == 64
    assert paper_space.validate(config)["gpu_mem_gb"] == 1.6


def test_value_positions_map_back_to_indices(paper_space):
    np.testing.assert_array_equal(paper_space.indices_of_digits(paper_space.grid_digits()), np.arange(1440))


def test_spaces_are_data_not_code(tmp_path):
    (tmp_path / "tiny.yaml").write_text("name: tiny\nknobs:\n  - {name: threads, values: [1, 2]}\n"
                                        "  - {name: batch, values: [1, 8, 64]}\n")
    space = load_space(tmp_path / "tiny.yaml")
    assert len(space) == 6 and space.names == ["threads", "batch"]
    assert SearchSpace.from_dict(space.to_dict()) == space


def test_bad_space_definitions_are_refused():
    with pytest.raises(SpaceError, match="duplicated values"):
        Knob("batch", (1, 1))
    with pytest.raises(SpaceError, match="duplicated knob names"):
        SearchSpace([Knob("a", (1,)), Knob("a", (2,))])
    with pytest.raises(SpaceError, match="known spaces"):
        load_space("no-such-space")
    with pytest.raises(SpaceError, match="outside space"):
        load_space("paper").config(1440)


def test_features_scale_ordered_knobs_and_one_hot_categorical_ones(small_space):
    x = small_space.features()
    assert x.shape == (60, 1 + 3 + 1)
    first, last = small_space.index({"cores": 1, "gpu": "a", "batch": 1}), len(small_space) - 1
    assert x[first].tolist() == [0.0, 1.0, 0.0, 0.0, 0.0]
    assert x[last].tolist() == [1.0, 0.0, 0.0, 1.0, 1.0]
    assert small_space.features(["batch"]).shape == (60, 1)

"""A space of more than 2^63 configurations keeps exact indices; a Knob with list values and TraceSet(None) get one
line of the project's errors; messages show numpy values as plain ones (`nan`)."""

import numpy as np
import pandas as pd
import pytest

from harness.import_table import check_measurements
from harness.space import Knob, SearchSpace, SpaceError
from harness.traces import TraceError, TraceSet


def test_a_space_beyond_int64_has_its_exact_size_and_accepts_every_configuration():
    space = SearchSpace([Knob(f"k{i}", (0, 1, 2)) for i in range(41)], name="huge")
    assert space.size == 3**41 > 2**63
    for index in (0, 2**63 + 5, 3**41 - 1):
        config = space.config(index)
        assert space.index(config) == index and space.validate(config) == config
    with pytest.raises(SpaceError, match=f"space 'huge' has {3**41} configurations, more than len"):
        len(space)
    with pytest.raises(SpaceError, match="is outside space"):
        space.config(3**41)
    fits = SearchSpace([Knob(f"k{i}", (0, 1, 2)) for i in range(39)])
    assert len(fits) == 3**39 and fits.index(fits.config(3**39 - 2)) == 3**39 - 2


def test_knob_values_as_a_list_become_a_tuple_and_nested_lists_are_refused():
    knob = Knob("batch", [1, 2, 4])
    assert knob.values == (1, 2, 4) and hash(knob) == hash(Knob("batch", (1, 2, 4)))
    assert len(SearchSpace([knob, Knob("mode", ["a", "b"])])) == 6
    for values, message in (([[1], [2]], r"\[1\] is not a single value"), (5, "values must be a list"),
                            ("ab", "values must be a list")):
        with pytest.raises(SpaceError, match=message) as e:
            Knob("batch", values)
        assert "\n" not in str(e.value)
    with pytest.raises(SpaceError, match="a knob's name is a non-empty string"):
        Knob(None, (1,))


@pytest.mark.parametrize("path", [None, 3, ""])
def test_a_trace_set_path_that_is_not_a_path_is_one_line(path):
    with pytest.raises(TraceError, match=f"a trace set is a folder path, not {path!r}"):
        TraceSet(path)


def test_messages_print_numpy_values_as_plain_ones():
    knob = Knob("batch", (1, 2))
    with pytest.raises(SpaceError, match=r"^knob 'batch' has no value nan; allowed values: \[1, 2\]$"):
        knob.position(np.float64("nan"))
    space = SearchSpace([knob])
    with pytest.raises(SpaceError) as e:
        space.index({"batch": np.int64(3), "other": np.float64(0.5)})
    assert "np." not in str(e.value) and "{'batch': 3, 'other': 0.5}" in str(e.value)
    rows = pd.DataFrame({"batch": [1, 2], "objective": [1.0, np.nan]})
    problems = check_measurements(rows, space)
    assert problems == ["objective: 1 feasible rows are not finite non-negative numbers, the first nan at "
                        "{'batch': 2}"]

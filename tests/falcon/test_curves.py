import numpy as np
import pytest

from falcon.curves import classify_shape, curve_response, curves_from_table, curves_of_response, learn_responses
from tests.falcon.conftest import conv_dense_shares, planted_objective, profiled_trace

a, b = np.meshgrid(np.linspace(0, 1, 6), np.linspace(0, 1, 4), indexing="ij")


@pytest.mark.parametrize("surface, shape", [
    (a, "slope"),                                   # only knob a moves the value
    (0.9 * a + 0.05 * b, "slope"),
    ((a - 0.5) ** 2 + (b - 0.5) ** 2, "convex"),    # a bowl: both knobs, positive curvature
    (1 - (a - 0.5) ** 2 - (b - 0.5) ** 2, "concave"),  # a cap
    (0.5 + 0.02 * a * b, "plane"),                  # barely moves
])
def test_shapes_of_known_surfaces(surface, shape):
    assert classify_shape(surface) == shape


def test_categorical_axis_is_ranked_by_its_effect_before_curvature():
    # a cap in a categorical knob listed in a scrambled order is still a cap
    cap = 1 - (a - 0.5) ** 2 - (b - 0.5) ** 2
    scrambled = cap[:, [2, 0, 3, 1]]
    assert classify_shape(scrambled, ordered=(True, False)) == "concave"


def test_learned_response_follows_the_sources(small_space):
    sources = [profiled_trace(small_space, lambda c, s=s: planted_objective(c, s), conv_dense_shares, f"m{s}")
               for s in (0.0, 0.1)]
    responses = learn_responses(small_space, sources, threshold=0.05)
    assert set(responses) == {"conv2d", "dense"}  # relu's 3 % share is below the threshold
    conv = responses["conv2d"]
    assert conv.min() == pytest.approx(0.0) and conv.max() == pytest.approx(1.0)
    best = small_space.config(int(np.argmax(conv)))
    assert best["cores"] == 8 and best["batch"] in (8, 16)
    curves = {c.knobs: c for c in curves_of_response(small_space, "conv2d", conv)}
    assert len(curves) == 3 and curves[("cores", "batch")].surface.shape == (4, 5)


def test_model_objective_response_is_the_normalised_objective_of_the_sources_where_the_operator_is_key(
        small_space):
    sources = [profiled_trace(small_space, lambda c, s=s: planted_objective(c, s), conv_dense_shares, f"m{s}")
               for s in (0.0, 0.1)]
    quotient = learn_responses(small_space, sources, 0.05, "share_quotient")["conv2d"]
    plain = learn_responses(small_space, sources, 0.05, "model_objective")["conv2d"]
    objective = np.array([planted_objective(c) for c in small_space])  # min-max normalising removes the shift
    assert plain == pytest.approx((objective - objective.min()) / np.ptp(objective))
    assert not np.allclose(quotient, plain)  # conv2d's share grows with batch: the quotient reweighs it


def test_sources_without_per_configuration_profiles_teach_nothing(small_space, make_trace):
    trace = make_trace(small_space, lambda c: 1.0, op_shares={"conv2d": 0.9})
    assert learn_responses(small_space, [trace]) == {}


def test_released_curves_are_read_and_averaged(release_set):
    tables = [release_set.load(m).auxiliary["kop_curves"].assign(model=m) for m in ("vgg16", "resnet-101")]
    import pandas as pd
    library = curves_from_table(pd.concat(tables), release_set.space)
    assert set(library) == {"conv2d", "relu", "batch_norm"}
    conv = {c.knobs: c for c in library["conv2d"]}
    assert conv[("batch_size", "gpu_type")].shape == "slope"
    assert conv[("batch_size", "gpu_type")].surface.shape == (6, 4)
    response = curve_response(release_set.space, library["conv2d"])
    assert response.shape == (len(release_set.space),) and not np.isnan(response).any()

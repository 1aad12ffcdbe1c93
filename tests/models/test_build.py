"""Every model builds with its published parameter count; small ones run forward on their example input."""
import pytest

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")  # the torch extra is installed in CI (scripts/test)

from harness.models import MODELS, build, example_input  # noqa: E402


def _count(name):
    with torch.device("meta"):  # no memory, no initialisation: cheap even for bert-large
        return sum(p.numel() for p in build(name).parameters())


@pytest.mark.parametrize("name", sorted(MODELS))
def test_parameter_count_matches_published(name):
    published = MODELS[name].params_published
    assert abs(_count(name) / published - 1) <= 0.03


@pytest.mark.parametrize("name,output", [("dcgan", (2, 3, 64, 64)), ("wgan", (2, 3, 32, 32)),
                                         ("sgan", (2, 1, 28, 28)), ("ncf", (2, 1)), ("drn", (2, 20)),
                                         ("lstm", (2, 35, 10000)), ("resnet-18", (2, 1000))])
def test_small_models_run_forward(name, output):
    torch.manual_seed(0)
    with torch.inference_mode():
        result = build(name)(*example_input(name, 2))
    assert tuple(result.shape) == output and torch.isfinite(result).all()


def test_unknown_model_is_a_value_error():
    with pytest.raises(ValueError, match="known models"):
        build("resnet-99")

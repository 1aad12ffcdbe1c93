"""The model registry works without torch and names the paper's models exactly."""
import pytest

from harness.models import MODELS, spec

PAPER_MODELS = {
    "bert-base", "dcgan", "dcn", "densenet-121", "drn", "efficientnet-widese-b4", "fast-rcnn", "inception-resnet-v2",
    "inception-v3", "lstm", "mobilenet-v3", "nasnet-large", "ncf", "resnet-152", "sgan", "vgg-19", "wgan", "yolo",
    "bert-large", "densenet-201", "gru", "inception-v2", "inception-v4", "mobilenet-v2", "resnet-101",
    "resnet-152-v2", "roberta", "tacotron2", "transformer", "vgg16",
}


def test_registry_holds_the_paper_models_and_two_references():
    assert set(MODELS) == PAPER_MODELS | {"resnet-50", "resnet-18"}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_spec_is_complete(name):
    s = MODELS[name]
    assert s.name == name
    assert s.family in {"cnn", "gan", "transformer", "rnn", "recsys", "detector", "speech"}
    assert s.input_kind in {"image", "text", "audio", "tabular", "noise"}
    assert s.input_shape == s.inputs[0].shape and all(d > 0 for d in s.input_shape)
    assert s.params_published > 0 and s.params_source
    if s.input_kind == "text":
        assert s.seq_len == s.input_shape[0] and s.vocab == s.inputs[0].high


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(ValueError, match="resnet-18.*vgg16|vgg16.*resnet-18"):
        spec("resnet-99")

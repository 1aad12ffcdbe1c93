"""The model zoo: the paper's 30 models (plus resnet-50 and resnet-18) as real architectures.

`MODELS` describes every model and its input without importing torch; `build(name)` returns a randomly
initialised `torch.nn.Module` (nothing is downloaded) and `example_input(name, batch_size)` the tensors that
`model(*inputs)` takes. Published parameter counts and their sources are listed in docs/models.md.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Input:
    """One input tensor of a model, per sample (the batch dimension is prepended)."""

    shape: tuple[int, ...]
    dtype: str = "float32"  # "float32" or "int64"
    high: int | None = None  # int64 inputs are drawn from [0, high)


@dataclass(frozen=True)
class ModelSpec:
    """What a model is, what it takes, and how many parameters its published definition has."""

    name: str
    family: str  # cnn, gan, transformer, rnn, recsys, detector, speech
    input_kind: str  # image, text, audio, tabular, noise
    inputs: tuple[Input, ...]
    params_published: int
    params_source: str
    builder: str  # "module:function" under harness.models, imported only by build()
    seq_len: int | None = None
    vocab: int | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Per-sample shape of the first (main) input, e.g. (3, 224, 224) or (seq_len,)."""
        return self.inputs[0].shape


def _image(size: int) -> tuple[Input, ...]:
    return (Input((3, size, size)),)


def _text(seq_len: int, vocab: int, n: int = 1) -> tuple[Input, ...]:
    return tuple(Input((seq_len,), "int64", vocab) for _ in range(n))


TV = "torchvision documentation, num_params of the model builder"
KERAS = "Keras Applications table (keras.io/api/applications)"
TIMM = "timm model card (huggingface.co/timm)"
# No published total exists for these definitions; the figure is computed by hand from the architecture
# (formulas in docs/models.md), so the test checks the code against the paper's description.
DERIVED = "derived by hand, no published total: "

_SPECS = [
    # --- CNNs -----------------------------------------------------------------------------------------
    ModelSpec("resnet-18", "cnn", "image", _image(224), 11_689_512, TV, "vision:resnet18"),
    ModelSpec("resnet-50", "cnn", "image", _image(224), 25_557_032, TV, "vision:resnet50"),
    ModelSpec("resnet-101", "cnn", "image", _image(224), 44_549_160, TV, "vision:resnet101"),
    ModelSpec("resnet-152", "cnn", "image", _image(224), 60_192_808, TV, "vision:resnet152"),
    ModelSpec("resnet-152-v2", "cnn", "image", _image(224), 60_380_648,
              KERAS + ": ResNet152V2 (pre-activation ResNet, He et al. 2016)", "vision:resnet152_v2"),
    ModelSpec("vgg16", "cnn", "image", _image(224), 138_357_544, TV, "vision:vgg16"),
    ModelSpec("vgg-19", "cnn", "image", _image(224), 143_667_240, TV, "vision:vgg19"),
    ModelSpec("densenet-121", "cnn", "image", _image(224), 7_978_856, TV, "vision:densenet121"),
    ModelSpec("densenet-201", "cnn", "image", _image(224), 20_013_928, TV, "vision:densenet201"),
    ModelSpec("mobilenet-v2", "cnn", "image", _image(224), 3_504_872, TV, "vision:mobilenet_v2"),
    ModelSpec("mobilenet-v3", "cnn", "image", _image(224), 5_483_032, TV + " (MobileNetV3-Large)",
              "vision:mobilenet_v3"),
    ModelSpec("inception-v2", "cnn", "image", _image(224), 11_285_224,
              DERIVED + "BN-Inception table of Ioffe & Szegedy 2015, Fig. 5", "bn_inception:bn_inception"),
    ModelSpec("inception-v3", "cnn", "image", _image(299), 23_851_784, KERAS + ": InceptionV3",
              "vision:inception_v3"),
    ModelSpec("inception-v4", "cnn", "image", _image(299), 42_679_816, TIMM + ": inception_v4",
              "vision:inception_v4"),
    ModelSpec("inception-resnet-v2", "cnn", "image", _image(299), 55_873_736,
              KERAS + ": InceptionResNetV2", "vision:inception_resnet_v2"),
    ModelSpec("nasnet-large", "cnn", "image", _image(331), 88_949_818, KERAS + ": NASNetLarge",
              "vision:nasnet_large"),
    ModelSpec("efficientnet-widese-b4", "cnn", "image", _image(380), 34_927_246,
              DERIVED + "EfficientNet-B4 (19,341,616, torchvision) with NVIDIA's wide SE (mid/4 channels)",
              "vision:efficientnet_widese_b4"),
    # --- detectors ------------------------------------------------------------------------------------
    ModelSpec("yolo", "detector", "image", _image(640), 7_235_389,
              "Ultralytics YOLOv5 v6.0 README / model summary: YOLOv5s, 7,235,389 parameters", "yolo:yolov5s"),
    ModelSpec("fast-rcnn", "detector", "image", (Input((3, 600, 600)), Input((300, 4))), 134_690_729,
              DERIVED + "VGG16 (138,357,544, torchvision) - fc8 (4,097,000) + 21-class heads (430,185)",
              "fast_rcnn:fast_rcnn_vgg16"),
    # --- GANs (the generator is what is served) --------------------------------------------------------
    ModelSpec("dcgan", "gan", "noise", (Input((100,)),), 3_576_704,
              "DCGAN generator, 64x64 (Radford et al. 2016; PyTorch examples/dcgan, ngf=64)", "gans:dcgan"),
    ModelSpec("wgan", "gan", "noise", (Input((128,)),), 1_204_483,
              DERIVED + "WGAN-GP CIFAR-10 ResNet generator (Gulrajani et al. 2017, App. F)", "gans:wgan"),
    ModelSpec("sgan", "gan", "noise", (Input((100,)),), 855_809,
              DERIVED + "Keras-GAN SGAN generator (856,193 in Keras, incl. 384 BN statistics)", "gans:sgan"),
    # --- recommenders ---------------------------------------------------------------------------------
    ModelSpec("ncf", "recsys", "tabular", (Input((1,), "int64", 138_493), Input((1,), "int64", 26_744)),
              31_832_577, DERIVED + "NeuMF, MLPerf ml-20m configuration (He et al. 2017)", "recsys:ncf"),
    ModelSpec("dcn", "recsys", "tabular", (Input((13,)), Input((26,), "int64", 100_000)),
              103_516_648, DERIVED + "DCN, 6 cross + 2x1024 deep layers (Wang et al. 2017)", "recsys:dcn"),
    ModelSpec("drn", "recsys", "tabular", (Input((413 + 32,)), Input((20, 417 + 25))), 407_554,
              DERIVED + "DRN dueling Q-network (Zheng et al. 2018), widths as in docs/models.md", "recsys:drn"),
    # --- transformers ---------------------------------------------------------------------------------
    ModelSpec("bert-base", "transformer", "text", _text(128, 30522), 110_000_000,
              "Devlin et al. 2019, BERT-Base: 110M", "language:bert_base", seq_len=128, vocab=30522),
    ModelSpec("bert-large", "transformer", "text", _text(128, 30522), 340_000_000,
              "Devlin et al. 2019, BERT-Large: 340M", "language:bert_large", seq_len=128, vocab=30522),
    ModelSpec("roberta", "transformer", "text", _text(128, 50265), 125_000_000,
              "Liu et al. 2019 / fairseq README, RoBERTa-base: 125M", "language:roberta_base",
              seq_len=128, vocab=50265),
    ModelSpec("transformer", "transformer", "text", _text(128, 37000, n=2), 65_000_000,
              "Vaswani et al. 2017, Table 3, Transformer (base): 65M", "language:transformer_base",
              seq_len=128, vocab=37000),
    # --- recurrent --------------------------------------------------------------------------------------
    ModelSpec("lstm", "rnn", "text", _text(35, 10000), 20_000_000,
              "Zaremba et al. 2014 medium LSTM LM (PTB), 20M as listed in Merity et al. 2018, Table 1",
              "recurrent:lstm_lm", seq_len=35, vocab=10000),
    ModelSpec("gru", "rnn", "text", _text(35, 10000), 18_087_800,
              DERIVED + "Zaremba et al. 2014 medium LM with GRU cells", "recurrent:gru_lm", seq_len=35, vocab=10000),
    # --- speech -------------------------------------------------------------------------------------------
    ModelSpec("tacotron2", "speech", "text", _text(64, 148), 28_200_000,
              "NVIDIA DeepLearningExamples Tacotron 2 README: 28.2M (Shen et al. 2018 architecture)",
              "tacotron2:tacotron2", seq_len=64, vocab=148),
]
MODELS: dict[str, ModelSpec] = {s.name: s for s in _SPECS}


def spec(name: str) -> ModelSpec:
    """The spec of a model; an unknown name raises ValueError listing the known ones."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}") from None


def build(name: str):
    """A randomly initialised torch.nn.Module in eval mode (build under `torch.device('meta')` to skip init)."""
    module, function = spec(name).builder.split(":")
    model = getattr(importlib.import_module(f"harness.models.{module}"), function)()
    return model.eval()


def example_input(name: str, batch_size: int, device=None) -> tuple:
    """Deterministic example tensors for `build(name)(*inputs)` at a batch size."""
    import torch

    gen = torch.Generator().manual_seed(0)
    tensors = []
    for inp in spec(name).inputs:
        shape = (batch_size, *inp.shape)
        if inp.dtype == "int64":
            t = torch.randint(0, inp.high, shape, generator=gen)
        else:
            t = torch.rand(shape, generator=gen)
        tensors.append(t.to(device) if device is not None else t)
    return tuple(tensors)

"""Image classifiers from torchvision and timm (random initialisation, nothing downloaded)."""
import timm
import torch.nn as nn
import torchvision.models as tvm
from timm.models._efficientnet_blocks import InvertedResidual, SqueezeExcite


def resnet18():
    return tvm.resnet18()


def resnet50():
    return tvm.resnet50()


def resnet101():
    return tvm.resnet101()


def resnet152():
    return tvm.resnet152()


def resnet152_v2():
    """Pre-activation ResNet-152 (He et al. 2016, 'Identity mappings'), the Keras/TF-slim ResNet152V2."""
    return timm.create_model("resnetv2_152")


def vgg16():
    return tvm.vgg16()


def vgg19():
    return tvm.vgg19()


def densenet121():
    return tvm.densenet121()


def densenet201():
    return tvm.densenet201()


def mobilenet_v2():
    return tvm.mobilenet_v2()


def mobilenet_v3():
    return tvm.mobilenet_v3_large()


def inception_v3():
    # Served without the auxiliary classifier (it only exists for training), as in Keras' InceptionV3.
    return tvm.inception_v3(aux_logits=False, init_weights=True)


def inception_v4():
    return timm.create_model("inception_v4")


def inception_resnet_v2():
    return timm.create_model("inception_resnet_v2")


def nasnet_large():
    return timm.create_model("nasnetalarge")


def efficientnet_widese_b4():
    """EfficientNet-B4 with NVIDIA's wide squeeze-excitation: the SE width is a quarter of the depthwise
    convolution's (expanded) channels instead of a quarter of the block's input channels."""
    model = timm.create_model("efficientnet_b4")
    for block in model.modules():
        if isinstance(block, InvertedResidual) and isinstance(block.se, SqueezeExcite):
            mid = block.conv_dw.out_channels
            block.se = SqueezeExcite(mid, rd_ratio=0.25, act_layer=nn.SiLU)
    return model

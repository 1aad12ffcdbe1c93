"""BN-Inception, i.e. Inception v2 (Ioffe & Szegedy 2015, Fig. 5): GoogLeNet with batch normalisation after
every convolution, 5x5 convolutions replaced by two 3x3, and stride-2 modules (3c, 4e) that concatenate a
max-pooled pass-through."""
import torch
import torch.nn as nn


class ConvBN(nn.Sequential):
    def __init__(self, cin, cout, k, s=1):
        super().__init__(nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class Mixed(nn.Module):
    """One Inception module: 1x1 | 1x1-3x3 | 1x1-3x3-3x3 | pool(-1x1 projection). `c1 == 0` and `proj == 0`
    give the stride-2 module whose pool branch is a pass-through."""

    def __init__(self, cin, c1, c3r, c3, d3r, d3, pool: str, proj: int, stride: int = 1):
        super().__init__()
        self.b1 = ConvBN(cin, c1, 1) if c1 else None
        self.b3 = nn.Sequential(ConvBN(cin, c3r, 1), ConvBN(c3r, c3, 3, stride))
        self.bd = nn.Sequential(ConvBN(cin, d3r, 1), ConvBN(d3r, d3, 3), ConvBN(d3, d3, 3, stride))
        pooling = nn.AvgPool2d(3, 1, 1, count_include_pad=True) if pool == "avg" else nn.MaxPool2d(3, stride, 1)
        self.bp = nn.Sequential(pooling, ConvBN(cin, proj, 1)) if proj else pooling

    def forward(self, x):
        branches = [self.b3(x), self.bd(x), self.bp(x)]
        if self.b1 is not None:
            branches.insert(0, self.b1(x))
        return torch.cat(branches, dim=1)


class BNInception(nn.Module):
    def __init__(self, classes: int = 1000):
        super().__init__()
        self.stem = nn.Sequential(ConvBN(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1), ConvBN(64, 64, 1),
                                  ConvBN(64, 192, 3), nn.MaxPool2d(3, 2, 1))
        self.mixed = nn.Sequential(
            Mixed(192, 64, 64, 64, 64, 96, "avg", 32),  # 3a -> 256
            Mixed(256, 64, 64, 96, 64, 96, "avg", 64),  # 3b -> 320
            Mixed(320, 0, 128, 160, 64, 96, "max", 0, stride=2),  # 3c -> 576
            Mixed(576, 224, 64, 96, 96, 128, "avg", 128),  # 4a -> 576
            Mixed(576, 192, 96, 128, 96, 128, "avg", 128),  # 4b -> 576
            Mixed(576, 160, 128, 160, 128, 160, "avg", 128),  # 4c -> 608
            Mixed(608, 96, 128, 192, 160, 192, "avg", 128),  # 4d -> 608
            Mixed(608, 0, 128, 192, 192, 256, "max", 0, stride=2),  # 4e -> 1056
            Mixed(1056, 352, 192, 320, 160, 224, "avg", 128),  # 5a -> 1024
            Mixed(1024, 352, 192, 320, 192, 224, "max", 128),  # 5b -> 1024
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(1024, classes)

    def forward(self, image):
        return self.fc(self.pool(self.mixed(self.stem(image))).flatten(1))


def bn_inception():
    return BNInception()

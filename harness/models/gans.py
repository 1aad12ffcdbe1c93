"""GAN generators (the part that is served): DCGAN, WGAN-GP's ResNet generator, and the semi-supervised GAN's."""
import torch.nn as nn


class DCGANGenerator(nn.Module):
    """Radford et al. 2016, 64x64 output: z -> 4x4x512 -> 8x8x256 -> 16x16x128 -> 32x32x64 -> 64x64x3,
    4x4 fractionally-strided convolutions with batch norm and ReLU, tanh output (ngf=64, no biases)."""

    def __init__(self, nz: int = 100, ngf: int = 64):
        super().__init__()
        layers, chans = [], [nz, ngf * 8, ngf * 4, ngf * 2, ngf]
        for i, (cin, cout) in enumerate(zip(chans, chans[1:])):
            stride, pad = (1, 0) if i == 0 else (2, 1)
            layers += [nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        layers += [nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z[:, :, None, None])


class UpBlock(nn.Module):
    """WGAN-GP residual block with 2x nearest upsampling: BN-ReLU-Up-Conv3x3-BN-ReLU-Conv3x3 + Up-Conv1x1."""

    def __init__(self, chans: int):
        super().__init__()
        self.main = nn.Sequential(nn.BatchNorm2d(chans), nn.ReLU(), nn.Upsample(scale_factor=2),
                                  nn.Conv2d(chans, chans, 3, padding=1), nn.BatchNorm2d(chans), nn.ReLU(),
                                  nn.Conv2d(chans, chans, 3, padding=1))
        self.shortcut = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(chans, chans, 1))

    def forward(self, x):
        return self.main(x) + self.shortcut(x)


class WGANGenerator(nn.Module):
    """Gulrajani et al. 2017 (WGAN-GP) CIFAR-10 ResNet generator: z(128) -> 4x4x128 -> 3 up-blocks -> 32x32x3."""

    def __init__(self, nz: int = 128, chans: int = 128):
        super().__init__()
        self.chans = chans
        self.project = nn.Linear(nz, 4 * 4 * chans)
        self.blocks = nn.Sequential(UpBlock(chans), UpBlock(chans), UpBlock(chans))
        self.out = nn.Sequential(nn.BatchNorm2d(chans), nn.ReLU(), nn.Conv2d(chans, 3, 3, padding=1), nn.Tanh())

    def forward(self, z):
        return self.out(self.blocks(self.project(z).view(-1, self.chans, 4, 4)))


class SGANGenerator(nn.Module):
    """Semi-supervised GAN (Odena 2016) MNIST generator as in the Keras-GAN reference: z(100) -> 7x7x128 ->
    up -> 14x14x128 -> up -> 28x28x64 -> 28x28x1, 3x3 convolutions with batch norm and ReLU, tanh output."""

    def __init__(self, nz: int = 100):
        super().__init__()
        self.project = nn.Linear(nz, 128 * 7 * 7)
        self.net = nn.Sequential(
            nn.ReLU(), nn.Upsample(scale_factor=2), nn.Conv2d(128, 128, 3, padding=1), nn.BatchNorm2d(128),
            nn.ReLU(), nn.Upsample(scale_factor=2), nn.Conv2d(128, 64, 3, padding=1), nn.BatchNorm2d(64),
            nn.ReLU(), nn.Conv2d(64, 1, 3, padding=1), nn.Tanh())

    def forward(self, z):
        return self.net(self.project(z).view(-1, 128, 7, 7))


def dcgan():
    return DCGANGenerator()


def wgan():
    return WGANGenerator()


def sgan():
    return SGANGenerator()

"""YOLOv5s (Ultralytics v6.0 architecture, 80 COCO classes, 640x640): CSP backbone with C3 blocks and SPPF, a
PANet neck and the three-scale Detect head with its inference-time box decoding."""
import torch
import torch.nn as nn

ANCHORS = ((10, 13, 16, 30, 33, 23), (30, 61, 62, 45, 59, 119), (116, 90, 156, 198, 373, 326))
STRIDES = (8, 16, 32)


class Conv(nn.Sequential):
    """Conv2d (no bias) + BatchNorm + SiLU, 'same' padding."""

    def __init__(self, cin, cout, k=1, s=1, p=None):
        super().__init__(nn.Conv2d(cin, cout, k, s, k // 2 if p is None else p, bias=False),
                         nn.BatchNorm2d(cout, eps=1e-3, momentum=0.03), nn.SiLU())


class Bottleneck(nn.Module):
    def __init__(self, chans, shortcut=True):
        super().__init__()
        self.cv1, self.cv2, self.add = Conv(chans, chans, 1), Conv(chans, chans, 3), shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    """CSP bottleneck with three convolutions."""

    def __init__(self, cin, cout, n=1, shortcut=True):
        super().__init__()
        mid = cout // 2
        self.cv1, self.cv2, self.cv3 = Conv(cin, mid), Conv(cin, mid), Conv(2 * mid, cout)
        self.m = nn.Sequential(*(Bottleneck(mid, shortcut) for _ in range(n)))

    def forward(self, x):
        return self.cv3(torch.cat([self.m(self.cv1(x)), self.cv2(x)], dim=1))


class SPPF(nn.Module):
    """Spatial pyramid pooling, fast: three chained 5x5 max pools."""

    def __init__(self, cin, cout):
        super().__init__()
        self.cv1, self.cv2 = Conv(cin, cin // 2), Conv(cin * 2, cout)
        self.pool = nn.MaxPool2d(5, 1, 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.pool(x)
        y2 = self.pool(y1)
        return self.cv2(torch.cat([x, y1, y2, self.pool(y2)], dim=1))


class Detect(nn.Module):
    """Per scale: 1x1 conv to 3 anchors x (5 + classes), sigmoid, decode boxes against the grid and anchors."""

    def __init__(self, chans, classes=80):
        super().__init__()
        self.outputs = 5 + classes
        self.m = nn.ModuleList(nn.Conv2d(c, 3 * self.outputs, 1) for c in chans)
        self.register_buffer("anchors", torch.tensor(ANCHORS, dtype=torch.float32).view(3, 1, 3, 1, 1, 2),
                             persistent=False)

    def forward(self, features):
        out = []
        for i, (conv, x) in enumerate(zip(self.m, features)):
            batch, _, ny, nx = x.shape
            y = conv(x).view(batch, 3, self.outputs, ny, nx).permute(0, 1, 3, 4, 2).sigmoid()
            gy, gx = torch.meshgrid(torch.arange(ny, device=x.device), torch.arange(nx, device=x.device),
                                    indexing="ij")
            grid = torch.stack((gx, gy), dim=2).view(1, 1, ny, nx, 2).float() - 0.5
            xy = (y[..., 0:2] * 2 + grid) * STRIDES[i]
            wh = (y[..., 2:4] * 2) ** 2 * self.anchors[i]
            out.append(torch.cat((xy, wh, y[..., 4:]), dim=4).view(batch, -1, self.outputs))
        return torch.cat(out, dim=1)


class YOLOv5(nn.Module):
    """YOLOv5 at a depth and width multiple (0.33 and 0.50 for YOLOv5s)."""

    def __init__(self, depth=0.33, width=0.5, classes=80):
        super().__init__()
        c = [int(v * width) for v in (64, 128, 256, 512, 1024)]
        n = [max(round(v * depth), 1) for v in (3, 6, 9)]
        self.stem = nn.Sequential(Conv(3, c[0], 6, 2, 2), Conv(c[0], c[1], 3, 2), C3(c[1], c[1], n[0]))
        self.p3 = nn.Sequential(Conv(c[1], c[2], 3, 2), C3(c[2], c[2], n[1]))
        self.p4 = nn.Sequential(Conv(c[2], c[3], 3, 2), C3(c[3], c[3], n[2]))
        self.p5 = nn.Sequential(Conv(c[3], c[4], 3, 2), C3(c[4], c[4], n[0]), SPPF(c[4], c[4]),
                                Conv(c[4], c[3]))
        self.up = nn.Upsample(scale_factor=2)
        self.top_down4 = nn.Sequential(C3(c[4], c[3], n[0], False), Conv(c[3], c[2]))
        self.top_down3 = C3(c[3], c[2], n[0], False)
        self.down3, self.bottom_up4 = Conv(c[2], c[2], 3, 2), C3(c[3], c[3], n[0], False)
        self.down4, self.bottom_up5 = Conv(c[3], c[3], 3, 2), C3(c[4], c[4], n[0], False)
        self.detect = Detect((c[2], c[3], c[4]), classes)

    def forward(self, image):
        p3 = self.p3(self.stem(image))
        p4 = self.p4(p3)
        h5 = self.p5(p4)
        h4 = self.top_down4(torch.cat([self.up(h5), p4], dim=1))
        out3 = self.top_down3(torch.cat([self.up(h4), p3], dim=1))
        out4 = self.bottom_up4(torch.cat([self.down3(out3), h4], dim=1))
        out5 = self.bottom_up5(torch.cat([self.down4(out4), h5], dim=1))
        return self.detect([out3, out4, out5])


def yolov5s():
    return YOLOv5()

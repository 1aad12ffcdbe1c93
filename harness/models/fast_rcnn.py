"""Fast R-CNN (Girshick 2015) with its VGG16 backbone: the image and its region proposals go in (proposals
come from an external method such as selective search), RoI max pooling to 7x7, fc6/fc7, and per-class scores
and box offsets (PASCAL VOC: 20 classes + background)."""
import torch
import torch.nn as nn
import torchvision
from torchvision.ops import roi_pool


class FastRCNN(nn.Module):
    def __init__(self, classes: int = 21):
        super().__init__()
        vgg = torchvision.models.vgg16()
        self.features = vgg.features[:-1]  # conv5_3 output at stride 16; the last max pool is replaced by RoI pooling
        self.head = nn.Sequential(*list(vgg.classifier.children())[:-1])  # fc6, fc7 (with ReLU, dropout)
        self.cls_score = nn.Linear(4096, classes)
        self.bbox_pred = nn.Linear(4096, 4 * classes)

    def forward(self, image, proposals):
        """`proposals` (batch, R, 4) hold boxes as fractions of the image (x1, y1, x2, y2)."""
        batch, count = proposals.shape[:2]
        size = torch.tensor([image.shape[3], image.shape[2]] * 2, dtype=proposals.dtype, device=proposals.device)
        index = torch.arange(batch, dtype=proposals.dtype, device=proposals.device).repeat_interleave(count)
        rois = torch.cat([index[:, None], (proposals * size).reshape(-1, 4)], dim=1)
        pooled = roi_pool(self.features(image), rois, output_size=(7, 7), spatial_scale=1 / 16)
        hidden = self.head(pooled.flatten(1))
        return self.cls_score(hidden).softmax(dim=1), self.bbox_pred(hidden)


def fast_rcnn_vgg16():
    return FastRCNN()

"""ResNet-18 for the GPU check: torchvision's when it is installed, else the same network
built from ``torch.nn`` (same layers, parameter names and count: 11,181,642 for 10 classes).

The architecture (He et al. 2016, "Deep Residual Learning for Image Recognition", table 1;
torchvision's ``resnet18``): a 7x7/2 convolution with 64 channels, batch norm, ReLU and a
3x3/2 max-pool; four stages of two basic blocks (two 3x3 convolutions with batch norm, the
input added back; 64, 128, 256, 512 channels, the last three starting with stride 2 and a
1x1/2 convolution plus batch norm on the shortcut); global average pooling and a linear layer.
Convolutions have no bias; batch norm weights start at 1, biases at 0.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["resnet18"]


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a shortcut (torchvision's ``BasicBlock``)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class ResNet18(nn.Module):
    """ResNet-18 with ``num_classes`` outputs (torchvision's module names)."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths, inplanes = (64, 128, 256, 512), 64
        for i, planes in enumerate(widths, start=1):
            stride = 1 if i == 1 else 2
            setattr(self, f"layer{i}", nn.Sequential(BasicBlock(inplanes, planes, stride),
                                                     BasicBlock(planes, planes)))
            inplanes = planes
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes: int = 10) -> tuple[nn.Module, str]:
    """A freshly initialised ResNet-18, and where it came from (``torchvision`` or ``torch.nn``)."""
    try:
        from torchvision.models import resnet18 as tv_resnet18
    except ImportError:
        return ResNet18(num_classes), "torch.nn (torchvision is not installed)"
    return tv_resnet18(num_classes=num_classes), "torchvision"

"""MobileGAN's conditional discriminator: judges (image, mask) pairs patch by patch."""

from __future__ import annotations

import torch
from torch import nn

from mobilegan.models.attention import channel_attention, position_attention


def _down(cin: int, cout: int, norm: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return layers


class MobileGANDiscriminator(nn.Module):
    """Four 4x4 stride-2 convs (padding 1); PAM after the 2nd, CAM after the 3rd.

    Input: the image (B, 3, H, W) and a mask in [0, 1] (B, 1, H, W), concatenated.
    Output: patch logits (B, 1, H/16, W/16), one real/fake verdict per patch.
    """

    def __init__(self, in_channels: int = 3, width: int = 64, attention: bool = True) -> None:
        super().__init__()
        w = width
        self.net = nn.Sequential(
            *_down(in_channels + 1, w, norm=False),
            *_down(w, 2 * w, norm=True),
            position_attention(2 * w, attention),
            *_down(2 * w, 4 * w, norm=True),
            channel_attention(attention),
            nn.Conv2d(4 * w, 1, 4, stride=2, padding=1),
        )

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([image, mask * 2 - 1], dim=1))

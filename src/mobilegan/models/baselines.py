"""Baseline networks to compare MobileGAN against.

Only the classic U-Net lives here: the other ablations ("no GAN", "no attention",
"single scale") are the MobileGAN generator itself, trained or configured differently.
"""

from __future__ import annotations

import torch
from torch import nn


class DoubleConv(nn.Sequential):
    """Two 3x3 convs (padding 1, so sizes are kept), each with batch norm and ReLU."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True))


class UpBlock(nn.Module):
    """2x2 transposed conv that halves the channels, concatenation with the skip, double conv."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, 2, stride=2)
        self.conv = DoubleConv(2 * cout, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([skip, self.up(x)], dim=1))


class UNet(nn.Module):
    """Ronneberger et al. (2015) U-Net with padded convs and batch norm.

    Widths base x (1, 2, 4, 8, 16) (64 ... 1024 by default), four 2x2 max-pools, so H and W
    must be multiples of 16. Output: one lesion logit map (B, 1, H, W), as the generator.
    About 31M parameters at base 64, 13x MobileGAN: the heavy reference point.
    """

    def __init__(self, in_channels: int = 3, base: int = 64) -> None:
        super().__init__()
        widths = [base * 2**i for i in range(5)]
        self.inc = DoubleConv(in_channels, widths[0])
        self.downs = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), DoubleConv(widths[i], widths[i + 1])) for i in range(4))
        self.ups = nn.ModuleList(UpBlock(widths[i + 1], widths[i]) for i in reversed(range(4)))
        self.out = nn.Conv2d(widths[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        y = skips.pop()
        for up in self.ups:
            y = up(y, skips.pop())
        return self.out(y)

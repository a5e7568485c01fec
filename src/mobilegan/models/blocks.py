"""Convolutional building blocks of MobileGAN: conv block, ERFNet's factorised block,
and the paper's CDA / FCA / DUA layers, each a few lines."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from mobilegan.models.attention import channel_attention, position_attention


class NoiseDropout(nn.Dropout2d):
    """Dropout that is the paper's noise z: active in training, and at inference only when
    the generator is asked to sample (``sampling = True``), so that repeated passes
    give different masks whose spread measures uncertainty."""

    sampling: bool = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0 or not (self.training or self.sampling):
            return x
        return F.dropout2d(x, self.p, training=True)


@contextlib.contextmanager
def noise_sampling(model: nn.Module, enabled: bool) -> Iterator[nn.Module]:
    """The noise z of every :class:`NoiseDropout` in ``model`` on or off for the duration,
    each module's own setting restored after (the one place that switches it)."""
    noise = [m for m in model.modules() if isinstance(m, NoiseDropout)]
    previous = [m.sampling for m in noise]
    for module in noise:
        module.sampling = enabled
    try:
        yield model
    finally:
        for module, state in zip(noise, previous):
            module.sampling = state


class ConvBlock(nn.Sequential):
    """3x3 conv, batch norm, ReLU."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class NonBottleneck1D(nn.Module):
    """ERFNet's non-bottleneck-1D block: two factorised 3x1/1x3 pairs (the second dilated),
    batch norm, dropout, residual. Same receptive field as two 3x3 convs, 33% fewer weights."""

    def __init__(self, channels: int, dilation: int = 1, dropout: float = 0.0,
                 noise: bool = False) -> None:
        super().__init__()
        c, d = channels, dilation
        self.conv3x1_1 = nn.Conv2d(c, c, (3, 1), padding=(1, 0))
        self.conv1x3_1 = nn.Conv2d(c, c, (1, 3), padding=(0, 1))
        self.bn1 = nn.BatchNorm2d(c)
        self.conv3x1_2 = nn.Conv2d(c, c, (3, 1), padding=(d, 0), dilation=(d, 1))
        self.conv1x3_2 = nn.Conv2d(c, c, (1, 3), padding=(0, d), dilation=(1, d))
        self.bn2 = nn.BatchNorm2d(c)
        self.dropout = NoiseDropout(dropout) if noise else nn.Dropout2d(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.conv3x1_1(x))
        y = F.relu(self.bn1(self.conv1x3_1(y)))
        y = F.relu(self.conv3x1_2(y))
        y = self.dropout(self.bn2(self.conv1x3_2(y)))
        return F.relu(y + x)


class CDA(nn.Sequential):
    """Convolution, Downsampling (2x2 max-pool), Attention (PAM)."""

    def __init__(self, cin: int, cout: int, attention: bool = True, kv_stride: int = 1) -> None:
        super().__init__(ConvBlock(cin, cout), nn.MaxPool2d(2),
                         position_attention(cout, attention, kv_stride))


class FCA(nn.Sequential):
    """Factorised Convolution (ERFNet block), then channel Attention (CAM)."""

    def __init__(self, channels: int, dilation: int = 1, dropout: float = 0.0,
                 attention: bool = True, noise: bool = False) -> None:
        super().__init__(NonBottleneck1D(channels, dilation, dropout, noise),
                         channel_attention(attention))


class DUA(nn.Module):
    """Deconvolution, Upsampling, Attention: a learned x2 transposed conv plus a bilinear
    x2 skip (3x3 conv to match widths, applied before upsampling where it is cheap),
    summed, then CAM."""

    def __init__(self, cin: int, cout: int, attention: bool = True) -> None:
        super().__init__()
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU(inplace=True))
        self.skip = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.attention = channel_attention(attention)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(self.skip(x), scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.attention(self.deconv(x) + up)


class BottleneckAttention(nn.Module):
    """The encoder's last layer: a non-bottleneck block whose output goes through CAM and
    PAM in parallel, summed (DANet's dual attention). Both branches carry the input as a
    residual; it is counted once, so the layer starts as the identity like each module."""

    def __init__(self, channels: int, dropout: float, attention: bool = True) -> None:
        super().__init__()
        self.block = NonBottleneck1D(channels, 1, dropout)
        self.cam = channel_attention(attention)
        self.pam = position_attention(channels, attention)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block(x)
        return self.cam(x) + self.pam(x) - x

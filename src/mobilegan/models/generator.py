"""MobileGAN's generator: a pix2pix-style encoder-decoder of ERFNet blocks with dual
attention: 2,322,132 parameters, 1.2% under the paper's 2.35M (docs/architecture.md draws
it and accounts for the difference; paper.py holds the decisions where the paper is
silent)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mobilegan import paper
from mobilegan.config import ModelConfig
from mobilegan.models.attention import channel_attention, counting_or_exporting
from mobilegan.models.blocks import (CDA, DUA, FCA, BottleneckAttention, ConvBlock, NoiseDropout,
                                     noise_sampling)


class MultiScaleInput(nn.Module):
    """The input at several scales, each to 16 maps and CAM, brought back to full size
    bilinearly and averaged: coarse context and fine edges from the first layer on."""

    def __init__(self, cin: int, cout: int, factors: tuple[int, ...], attention: bool) -> None:
        super().__init__()
        self.factors = factors
        self.branches = nn.ModuleList(
            nn.Sequential(ConvBlock(cin, cout), channel_attention(attention)) for _ in factors)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        total = 0
        for factor, branch in zip(self.factors, self.branches):
            scaled = F.avg_pool2d(x, factor) if factor > 1 else x
            y = branch(scaled)
            if factor > 1:
                y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
            total = total + y
        return total / len(self.factors)


def tie_subpixel_kernels(deconv: nn.ConvTranspose2d) -> None:
    """Start a transposed convolution whose kernel equals its stride with one kernel at
    every sub-pixel position and no bias: nearest-neighbour upsampling of a 1x1 convolution
    (ICNR, Aitken et al. 2017). Draws no random numbers, so the rest of the network
    initialises as before.

    Why: each output pixel of such a layer sees exactly one tap, so under PyTorch's default
    initialisation the sub-pixel positions start apart and can drift apart. Trained without
    the adversary from scratch (seed 0), one of the four positions of the head's 2x2 kernel
    climbed to logit +12 within 40 steps and +72 after six epochs, on every pixel: a dotted
    grid over the whole mask. The paper's L1 and Jaccard losses act on sigmoid
    probabilities, so a saturated pixel gets no gradient to come back (validation JAC stuck
    at 0.36). Tied, the positions start equal and only the masks' own detail separates them.
    """
    if deconv.kernel_size != deconv.stride:
        raise ValueError(f"kernel {deconv.kernel_size} differs from stride {deconv.stride}: "
                         "sub-pixel positions overlap, nothing to tie")
    with torch.no_grad():
        first = deconv.weight[:, :, :1, :1].clone()
        deconv.weight.copy_(first.expand_as(deconv.weight))
        if deconv.bias is not None:
            deconv.bias.zero_()


class DecoderStream(nn.Sequential):
    """One decoder stream: DUA (x2) then two FCA layers carrying the noise z."""

    def __init__(self, cin: int, cout: int, dilations: tuple[int, ...], dropout: float,
                 attention: bool) -> None:
        super().__init__(DUA(cin, cout, attention),
                         *(FCA(cout, d, dropout, attention, noise=True) for d in dilations))


class MobileGANGenerator(nn.Module):
    """Image (B, 3, H, W), H and W multiples of 8, to one lesion logit map (B, 1, H, W)."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        cfg = config or ModelConfig()
        self.config = cfg
        att, p_enc = cfg.attention, cfg.encoder_dropout
        c1, c2, c3 = paper.CDA_CHANNELS
        factors = paper.MULTISCALE_FACTORS if cfg.multiscale else (1,)
        self.stem = MultiScaleInput(cfg.in_channels, paper.MULTISCALE_CHANNELS, factors, att)
        self.encoder = nn.Sequential(
            CDA(paper.MULTISCALE_CHANNELS, c1, att, cfg.pam_kv_stride),
            CDA(c1, c2, att),
            *(FCA(c2, d, p_enc, att) for d in paper.FCA64_DILATIONS),
            CDA(c2, c3, att),
            *(FCA(c3, d, p_enc, att) for d in paper.FCA128_DILATIONS),
            BottleneckAttention(c3, p_enc, att),
        )
        self.streams = nn.ModuleList(
            DecoderStream(c3, paper.DECODER_CHANNELS, dil, cfg.decoder_dropout, att)
            for dil in paper.DECODER_STREAM_DILATIONS)
        self.head = nn.ConvTranspose2d(paper.DECODER_CHANNELS, 1, 2, stride=2)
        if cfg.head_init == "tied":
            tie_subpixel_kernels(self.head)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic part (no noise z in eval mode): features at 1/4 of the input size."""
        if (x.shape[-2] % 8 or x.shape[-1] % 8) and not counting_or_exporting():
            # Three 2x2 max-pools round down and the x8 decoder cannot get back: a 100x100
            # input gave a 96x96 map, silently (an export leaves the check out).
            raise ValueError(f"MobileGAN takes heights and widths that are multiples of 8, "
                             f"got {x.shape[-2]}x{x.shape[-1]}: resize or pad the input")
        features = self.encoder(self.stem(x))
        return F.interpolate(features, scale_factor=2.0, mode="bilinear", align_corners=False)

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(sum(stream(features) for stream in self.streams))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def sample(self, x: torch.Tensor, samples: int) -> torch.Tensor:
        """``samples`` draws of the noise z per image: (samples, B, 1, H, W) logits.

        The noise lives in the decoder only, so in eval mode the encoder runs once and the
        decoder once per draw: the same distribution as ``samples`` full passes with
        :meth:`set_sampling` on, at a fraction of the cost."""
        features = self.encode(x)
        with noise_sampling(self, True):
            logits = self.decode(features.repeat(samples, 1, 1, 1))
        return logits.view(samples, x.shape[0], *logits.shape[1:])

    def set_sampling(self, enabled: bool) -> "MobileGANGenerator":
        """Keep the decoder's noise z on at inference (for uncertainty) or off, until
        changed (:func:`~mobilegan.models.blocks.noise_sampling` for a while only)."""
        for module in self.modules():
            if isinstance(module, NoiseDropout):
                module.sampling = enabled
        return self

"""Position and channel attention (DANet, Fu et al. 2019), as MobileGAN uses them.

Both start as the identity: ``gamma`` is a learned scalar that begins at 0, so a fresh
network behaves like its attention-free twin and learns how much attention to mix in.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from mobilegan import paper


def full_precision(x: torch.Tensor, enabled: bool = True) -> contextlib.AbstractContextManager:
    """Attention maths in float32 even under bf16 autocast. The energies are unscaled (as
    DANet): measured on v3 (shipped then), CAM energies reach 3.8e6 and a PAM's 835, where
    bf16 (8 significant bits) moves the softmax weights by up to 0.5, that is, attends to
    another channel or position than float32 does. The matrices are small; the cost is too.
    ``enabled=False`` leaves the maths in autocast's dtype (see :func:`attention_in_float32`)."""
    if enabled and x.device.type in ("cuda", "cpu") and torch.is_autocast_enabled(x.device.type):
        return torch.autocast(x.device.type, enabled=False)
    return contextlib.nullcontext()


def attention_in_float32(model: nn.Module, enabled: bool) -> nn.Module:
    """Whether ``model``'s PAM and CAM modules keep their maths in float32 under autocast
    (the default, which training needs). Off, they run in bf16 like the rest: on v3's
    held-out images that changed no mask (docs/architecture.md, "Attention in float32"),
    and it is an inference speed option to measure. Returns ``model``."""
    for module in model.modules():
        if isinstance(module, (PositionAttention, ChannelAttention)):
            module.float32_maths = enabled
    return model


def at_least_float32(x: torch.Tensor) -> torch.Tensor:
    return as_dtype(x, torch.promote_types(x.dtype, torch.float32))


def as_dtype(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``x.to(dtype)`` only when it changes something: an exported float32 graph then holds
    no no-op Cast nodes."""
    return x if x.dtype == dtype else x.to(dtype)


class PositionAttention(nn.Module):
    """PAM: every position attends to every other position (DANet ``PAM_Module``).

    ``energy = Q^T K`` (unscaled, as DANet), ``softmax`` over keys, output ``V attn``.
    Computed with :func:`torch.nn.functional.scaled_dot_product_attention` at scale 1,
    which is the same maths with fused kernels; :meth:`forward_naive` keeps the textbook
    form for the equality test. ``kv_stride > 1`` average-pools the keys and values
    (a documented speed option, off in the paper configuration).
    """

    def __init__(self, channels: int, kv_stride: int = 1,
                 reduction: int = paper.PAM_QK_REDUCTION) -> None:
        super().__init__()
        inner = max(channels // reduction, 1)
        self.query = nn.Conv2d(channels, inner, 1)
        self.key = nn.Conv2d(channels, inner, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.kv_stride = kv_stride
        self.float32_maths = True  # under autocast; see attention_in_float32

    def _qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b = x.shape[0]
        kv_in = F.avg_pool2d(x, self.kv_stride) if self.kv_stride > 1 else x
        q = self.query(x).flatten(2).transpose(1, 2)  # B, N, C'
        k = self.key(kv_in).flatten(2).transpose(1, 2)  # B, M, C'
        v = self.value(kv_in).flatten(2).transpose(1, 2)  # B, M, C
        return q.reshape(b, 1, *q.shape[1:]), k.reshape(b, 1, *k.shape[1:]), v.reshape(b, 1, *v.shape[1:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with full_precision(x, self.float32_maths):
            xf = at_least_float32(x) if self.float32_maths else x
            q, k, v = self._qkv(xf)
            out = F.scaled_dot_product_attention(q, k, v, scale=1.0)  # B, 1, N, C
            out = out.squeeze(1).transpose(1, 2).reshape_as(xf)
            return as_dtype(xf + self.gamma * out, x.dtype)

    def forward_naive(self, x: torch.Tensor) -> torch.Tensor:
        """The DANet formulation, an N x M matrix in memory; for tests only."""
        q, k, v = (t.squeeze(1) for t in self._qkv(x))
        attention = torch.softmax(q @ k.transpose(1, 2), dim=-1)
        out = (attention @ v).transpose(1, 2).reshape_as(x)
        return x + self.gamma * out


class ChannelAttention(nn.Module):
    """CAM: channels re-weighted by their similarity to each other (DANet ``CAM_Module``).

    DANet subtracts the energy from its row maximum before the softmax, so that the
    least similar channels get the most weight. A softmax does not change when a row is
    shifted by a constant, so ``softmax(max - E)`` is exactly ``softmax(-E)``: we compute
    the latter, two graph nodes fewer per CAM in an exported model.
    """

    def __init__(self) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))
        self.float32_maths = True  # under autocast; see attention_in_float32

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with full_precision(x, self.float32_maths):
            flat = (at_least_float32(x) if self.float32_maths else x).flatten(2)  # B, C, N
            energy = flat @ flat.transpose(1, 2)  # B, C, C
            out = torch.softmax(-energy, dim=-1) @ flat
            return as_dtype((flat + self.gamma * out).reshape_as(x), x.dtype)


def position_attention(channels: int, enabled: bool, kv_stride: int = 1) -> nn.Module:
    return PositionAttention(channels, kv_stride) if enabled else nn.Identity()


def channel_attention(enabled: bool) -> nn.Module:
    return ChannelAttention() if enabled else nn.Identity()

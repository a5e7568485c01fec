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


def counting_or_exporting() -> bool:
    """Inside an ONNX export, a trace or torch.export, or while MACs are counted: the
    graph (or count) then holds the attention as DANet states it, not padded for speed."""
    return (torch.onnx.is_in_onnx_export() or torch.jit.is_tracing()
            or torch.compiler.is_exporting() or _COUNTING[0])


_COUNTING = [False]


@contextlib.contextmanager
def plain_attention_shapes() -> contextlib.AbstractContextManager:
    """PAM's queries and keys at their own width (no zero padding) for the duration: what
    a MAC count should see (models.summary)."""
    _COUNTING[0] = True
    try:
        yield
    finally:
        _COUNTING[0] = False


def padded_for_fused_kernels(q: torch.Tensor, k: torch.Tensor,
                             v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Queries and keys zero-padded to the values' width, values contiguous: the same
    energies (the padded products add zeros), but a shape PyTorch's fused attention kernels
    take. With DANet's C/8-wide queries and full-width values every PAM fell back to the
    plain path, an N x M matrix in memory (measured 2026-11-30, CPU eager, 2 threads: the
    shipped generator 48 -> 39 ms, the paper's 113 -> 55-70 ms, outputs within 2e-7)."""
    pad = v.shape[-1] - q.shape[-1]
    if pad > 0:
        q, k = F.pad(q, (0, pad)), F.pad(k, (0, pad))
    return q, k, v.contiguous()


class PositionAttention(nn.Module):
    """PAM: every position attends to every other position (DANet ``PAM_Module``).

    ``energy = Q^T K`` (unscaled, as DANet), ``softmax`` over keys, output ``V attn``.
    Computed with :func:`torch.nn.functional.scaled_dot_product_attention` at scale 1,
    which is the same maths with fused kernels (queries and keys zero-padded to the values'
    width so that those kernels apply, except in an export: see
    :func:`padded_for_fused_kernels`); :meth:`forward_naive` keeps the textbook form for the
    equality test. ``kv_stride > 1`` average-pools the keys and values (a documented speed
    option, off in the paper configuration).
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
            # Up to float32 when the 1x1 convolutions are float32 (under autocast); a model
            # cast to bf16 whole keeps bf16 (float32 input to bf16 weights was an error).
            upcast = self.float32_maths and self.query.weight.dtype == torch.float32
            xf = at_least_float32(x) if upcast else x
            q, k, v = self._qkv(xf)
            if not counting_or_exporting():
                q, k, v = padded_for_fused_kernels(q, k, v)
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

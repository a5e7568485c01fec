"""Attention and the noise z: the fused PAM is the DANet maths, CAM is DANet's, and the
decoder dropout is on exactly when it should be."""

from __future__ import annotations

import pytest
import torch

from mobilegan.config import ModelConfig
from mobilegan.models.attention import ChannelAttention, PositionAttention
from mobilegan.models.registry import build_model


@pytest.mark.parametrize("kv_stride", [1, 2])
def test_pam_sdpa_equals_the_naive_danet_form(kv_stride: int) -> None:
    torch.manual_seed(0)
    pam = PositionAttention(32, kv_stride=kv_stride).double().eval()
    with torch.no_grad():
        pam.gamma.fill_(0.7)
    x = torch.randn(2, 32, 12, 16, dtype=torch.float64)
    fused, naive = pam(x), pam.forward_naive(x)
    assert torch.allclose(fused, naive, rtol=0, atol=1e-10)
    assert (fused - x).abs().max() > 1e-3  # gamma != 0: the attention really contributes


def test_pam_hands_the_fused_kernels_equal_widths_except_when_exporting_or_counting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """DANet's 4-wide queries beside 32-wide values kept every PAM off PyTorch's fused
    kernels (an N x M matrix in memory): queries and keys are zero-padded to the values'
    width, which changes no energy; an export or a MAC count sees the plain widths."""
    from mobilegan.models import attention

    widths: list[tuple[int, int, bool]] = []
    sdpa = attention.F.scaled_dot_product_attention

    def recorded(q, k, v, **kwargs):
        widths.append((q.shape[-1], v.shape[-1], v.is_contiguous()))
        return sdpa(q, k, v, **kwargs)

    monkeypatch.setattr(attention.F, "scaled_dot_product_attention", recorded)
    pam = PositionAttention(32, kv_stride=2).eval()
    x = torch.randn(1, 32, 8, 8)
    pam(x)
    with attention.plain_attention_shapes():
        pam(x)
    assert widths == [(32, 32, True), (4, 32, False)]
    monkeypatch.setattr(attention.torch.onnx, "is_in_onnx_export", lambda: True)
    pam(x)
    assert widths[-1][0] == 4


def test_pam_naive_form_is_danet() -> None:
    """Written out as DANet's PAM_Module: energy = Q^T K, softmax over keys, V A^T."""
    torch.manual_seed(1)
    pam = PositionAttention(16).double()
    with torch.no_grad():
        pam.gamma.fill_(-1.3)
    x = torch.randn(1, 16, 6, 5, dtype=torch.float64)
    b, c, h, w = x.shape
    q = pam.query(x).view(b, -1, h * w).permute(0, 2, 1)
    k = pam.key(x).view(b, -1, h * w)
    attention = torch.softmax(torch.bmm(q, k), dim=-1)
    v = pam.value(x).view(b, -1, h * w)
    expected = pam.gamma * torch.bmm(v, attention.permute(0, 2, 1)).view(b, c, h, w) + x
    assert torch.allclose(pam(x), expected, atol=1e-10)


def test_cam_is_identity_at_gamma_zero_and_danet_otherwise() -> None:
    torch.manual_seed(2)
    cam = ChannelAttention().double()
    x = torch.randn(2, 8, 5, 7, dtype=torch.float64)
    assert torch.equal(cam(x), x)
    with torch.no_grad():
        cam.gamma.fill_(0.5)
    b, c = x.shape[:2]
    flat = x.view(b, c, -1)
    energy = torch.bmm(flat, flat.permute(0, 2, 1))
    energy_new = torch.max(energy, -1, keepdim=True)[0].expand_as(energy) - energy
    expected = 0.5 * torch.bmm(torch.softmax(energy_new, dim=-1), flat).view_as(x) + x
    assert torch.allclose(cam(x), expected, atol=1e-10)


def test_fresh_attention_modules_start_as_identity() -> None:
    x = torch.randn(1, 16, 8, 8)
    assert torch.equal(PositionAttention(16)(x), x)
    assert torch.equal(ChannelAttention()(x), x)


def test_dual_attention_counts_its_input_once() -> None:
    """CAM and PAM each add their input as a residual; summed, the input must be taken off
    once, so that at gamma 0 the layer is its block alone (not twice the block)."""
    from mobilegan.models.blocks import BottleneckAttention

    torch.manual_seed(0)
    layer = BottleneckAttention(16, dropout=0.0).eval()
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        assert torch.allclose(layer(x), layer.block(x), atol=1e-6)
        layer.cam.gamma.fill_(0.5)
        layer.pam.gamma.fill_(0.25)
        y = layer.block(x)
        assert torch.allclose(layer(x), layer.cam(y) + layer.pam(y) - y, atol=1e-6)


def test_the_scales_of_the_input_are_averaged() -> None:
    """Four scales brought back to full size and averaged (the paper), not summed: four
    branches giving the constants 1, 2, 3 and 6 give 3 everywhere, at full size."""
    from mobilegan.models.generator import MultiScaleInput

    class Constant(torch.nn.Module):
        def __init__(self, value: float) -> None:
            super().__init__()
            self.value = value

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.full((x.shape[0], 16, *x.shape[-2:]), self.value)

    stem = MultiScaleInput(3, 16, (1, 2, 4, 8), attention=True)
    stem.branches = torch.nn.ModuleList(Constant(v) for v in (1.0, 2.0, 3.0, 6.0))
    out = stem(torch.randn(1, 3, 32, 32))
    assert out.shape == (1, 16, 32, 32) and torch.allclose(out, torch.full_like(out, 3.0))


@pytest.fixture(scope="module")
def generator() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig())


def _two_passes(model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        return model(x), model(x)


def test_noise_z_is_off_in_eval(generator: torch.nn.Module) -> None:
    generator.eval().set_sampling(False)
    a, b = _two_passes(generator)
    assert torch.equal(a, b)


def test_noise_z_samples_when_asked(generator: torch.nn.Module) -> None:
    generator.eval().set_sampling(True)
    x = torch.randn(1, 3, 64, 64)
    try:
        a, b = _two_passes(generator)
        with torch.no_grad():  # the noise z sits in the decoder only: the encoder stays fixed
            e1, e2 = (generator.encoder(generator.stem(x)) for _ in range(2))
    finally:
        generator.set_sampling(False)
    assert not torch.equal(a, b)
    assert torch.equal(e1, e2)


def test_noise_z_is_on_in_training(generator: torch.nn.Module) -> None:
    generator.train().set_sampling(False)
    try:
        a, b = _two_passes(generator)
    finally:
        generator.eval()
    assert not torch.equal(a, b)


@pytest.mark.parametrize("module", ["cam", "pam"])
def test_attention_keeps_float32_maths_under_bf16_autocast(module: str) -> None:
    """Unscaled energies are large (the shipped model's CAMs reach millions): in bf16 the
    softmax would pick other channels. Under autocast the modules compute in float32 and
    hand back the caller's dtype."""
    from mobilegan.models.attention import ChannelAttention, PositionAttention

    torch.manual_seed(0)
    layer = ChannelAttention() if module == "cam" else PositionAttention(32)
    with torch.no_grad():
        layer.gamma.fill_(1.0)
    # Correlated channels, as real features are: large energies with close competitors.
    x = (torch.randn(2, 1, 16, 16) * 30 + torch.randn(2, 32, 16, 16)).bfloat16()
    with torch.no_grad():
        reference = layer(x.float())
        with torch.autocast("cpu", torch.bfloat16):
            mixed = layer(x)
        flat = x.flatten(2)
        naive_bf16 = torch.softmax(-(flat @ flat.transpose(1, 2)).float(), -1)
        exact = torch.softmax(-(flat.float() @ flat.float().transpose(1, 2)), -1)
    assert mixed.dtype == torch.bfloat16
    scale = reference.abs().max()
    assert (mixed.float() - reference).abs().max() <= 0.01 * scale  # bf16 rounding only
    # What float32 avoids: the same energies computed in bf16 move the weights a lot.
    assert (naive_bf16 - exact).abs().max() > 0.1


def test_attention_in_float32_can_be_turned_off_for_inference() -> None:
    """An inference speed option: with it off, PAM and CAM compute in autocast's bf16 like
    the rest (measurably different from the float32 maths on large energies); float32
    runs are the same either way, and it can be turned back on."""
    from mobilegan.config import ModelConfig
    from mobilegan.models.attention import ChannelAttention, PositionAttention, attention_in_float32
    from mobilegan.models.registry import build_model

    torch.manual_seed(0)
    generator = build_model(ModelConfig(pam_kv_stride=2)).eval()
    modules = [m for m in generator.modules() if isinstance(m, (ChannelAttention, PositionAttention))]
    assert modules and all(m.float32_maths for m in modules)
    assert attention_in_float32(generator, False) is generator
    assert not any(m.float32_maths for m in modules)

    cam = ChannelAttention()
    with torch.no_grad():
        cam.gamma.fill_(1.0)
    x = (torch.randn(2, 1, 16, 16) * 30 + torch.randn(2, 32, 16, 16)).bfloat16()
    with torch.no_grad():
        with torch.autocast("cpu", torch.bfloat16):
            kept = cam(x)
            attention_in_float32(cam, False)
            rounded = cam(x)
        plain = cam(x.float())  # no autocast: float32 whatever the switch says
        attention_in_float32(cam, True)
        assert torch.equal(plain, cam(x.float()))
    assert kept.dtype == rounded.dtype == torch.bfloat16
    assert (kept.float() - rounded.float()).abs().max() > 0.01 * plain.abs().max()

    pam = PositionAttention(32)  # the same for the position attention
    with torch.no_grad():
        pam.gamma.fill_(1.0)
        with torch.autocast("cpu", torch.bfloat16):
            kept = pam(x)
            attention_in_float32(pam, False)
            rounded = pam(x)
        reference = pam(x.float())
    assert (kept.float() - rounded.float()).abs().max() > 0
    assert (rounded.float() - reference).abs().max() <= 0.05 * reference.abs().max()

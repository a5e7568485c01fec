"""Sampling the noise z: the encoder runs once, the decoder once per draw."""

from __future__ import annotations

import torch

from mobilegan.config import ModelConfig
from mobilegan.models.generator import MobileGANGenerator


def test_sample_draws_differ_and_keep_the_shape() -> None:
    torch.manual_seed(0)
    g = MobileGANGenerator(ModelConfig(pam_kv_stride=2)).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        draws = g.sample(x, 5)
        deterministic = g(x)
    assert draws.shape == (5, 2, 1, 64, 64)
    assert not torch.allclose(draws[0], draws[1])
    assert torch.equal(g(x), deterministic), "sampling must not leave the noise on"


def test_without_noise_every_draw_is_the_plain_forward() -> None:
    torch.manual_seed(0)
    g = MobileGANGenerator(ModelConfig(decoder_dropout=0.0, pam_kv_stride=2)).eval()
    for module in g.modules():  # give attention a say, so that the split is really tested
        if hasattr(module, "gamma"):
            module.gamma.data.fill_(0.5)
    x = torch.randn(3, 3, 64, 96)
    with torch.no_grad():
        draws, plain = g.sample(x, 4), g(x)
    for draw in draws:
        torch.testing.assert_close(draw, plain, rtol=1e-5, atol=1e-5)


def test_the_encoder_runs_once_however_many_draws() -> None:
    g = MobileGANGenerator(ModelConfig(pam_kv_stride=2)).eval()
    calls = {"encode": 0, "decode": 0}
    for name in calls:
        real = getattr(g, name)

        def counted(x: torch.Tensor, real=real, name=name) -> torch.Tensor:
            calls[name] += 1
            return real(x)

        setattr(g, name, counted)
    with torch.no_grad():
        g.sample(torch.randn(2, 3, 64, 64), 6)
    assert calls == {"encode": 1, "decode": 1}  # one decoder pass over the 6 x 2 repeats


def test_switching_the_noise_for_a_while_restores_each_modules_own_setting() -> None:
    from mobilegan.models.blocks import NoiseDropout, noise_sampling

    g = MobileGANGenerator(ModelConfig(pam_kv_stride=2)).eval()
    noise = [m for m in g.modules() if isinstance(m, NoiseDropout)]
    assert len(noise) >= 2
    noise[0].sampling = True  # one module left on by its owner
    with noise_sampling(g, False):
        assert not any(m.sampling for m in noise)
    with noise_sampling(g, True):
        assert all(m.sampling for m in noise)
    assert [m.sampling for m in noise] == [True] + [False] * (len(noise) - 1)

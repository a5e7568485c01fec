"""The generator's loss terms: the paper's (L1 + soft Jaccard) and the optional pixel BCE."""

from __future__ import annotations

import pytest
import torch

from mobilegan.config import LossConfig
from mobilegan.losses import generator_loss


def _gradient(cfg: LossConfig, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    logits = logits.clone().requires_grad_(True)
    parts = generator_loss(logits, target, cfg)
    (gradient,) = torch.autograd.grad(parts["total"], logits)
    return gradient


def test_paper_loss_has_no_bce_term_and_sums_its_parts() -> None:
    logits, target = torch.randn(2, 1, 8, 8), (torch.rand(2, 1, 8, 8) > 0.5).float()
    parts = generator_loss(logits, target, LossConfig())
    assert set(parts) == {"l1", "jaccard", "total"}
    assert parts["total"].item() == pytest.approx(parts["l1"].item() + parts["jaccard"].item())


def test_bce_keeps_a_gradient_where_the_sigmoid_saturates_on_the_wrong_side() -> None:
    """A pixel predicted background with logit -8 that is lesion: L1 and soft Jaccard act on
    sigmoid(-8) and barely move it; BCE on the logit pushes with (p - y), about -1 x weight."""
    logits = torch.tensor([[[[-8.0, 8.0]]]])
    target = torch.tensor([[[[1.0, 1.0]]]])
    paper = _gradient(LossConfig(), logits, target)
    with_bce = _gradient(LossConfig(bce=0.5), logits, target)
    assert abs(paper[0, 0, 0, 0].item()) < 1e-3
    # mean over 2 pixels, weight 0.5: d/dlogit = 0.5 * (sigmoid(-8) - 1) / 2
    assert with_bce[0, 0, 0, 0].item() == pytest.approx(-0.25, abs=1e-3)
    parts = generator_loss(logits, target, LossConfig(bce=0.5))
    assert parts["bce"].item() == pytest.approx(0.5 * 8.0003 / 2, abs=1e-3)


def test_each_term_has_its_value_and_its_own_weight() -> None:
    """Worked by hand: probabilities 0.5 everywhere (logit 0) against a 2x2 mask with one
    lesion pixel. L1 = 0.5; soft IoU = (0.5 + 1) / (2 + 1 - 0.5 + 1) = 1.5 / 3.5; the
    adversarial BCE of a logit 0 is log 2. The weights multiply their own term only."""
    import math

    logits = torch.zeros(1, 1, 2, 2)
    target = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    fake = torch.zeros(1, 1, 3, 3)
    parts = generator_loss(logits, target, LossConfig(l1=0.5, jaccard=0.1, adversarial=2.0),
                           fake_logits=fake)
    assert parts["l1"].item() == pytest.approx(0.5 * 0.5)
    assert parts["jaccard"].item() == pytest.approx(0.1 * (1 - 1.5 / 3.5))
    assert parts["adversarial"].item() == pytest.approx(2.0 * math.log(2))
    assert parts["total"].item() == pytest.approx(0.25 + 0.1 * (2 / 3.5) + 2 * math.log(2))
    swapped = generator_loss(logits, target, LossConfig(l1=0.1, jaccard=0.5))
    assert swapped["l1"].item() == pytest.approx(0.1 * 0.5)
    assert swapped["jaccard"].item() == pytest.approx(0.5 * (1 - 1.5 / 3.5))


def test_the_discriminator_is_rewarded_for_telling_real_from_generated() -> None:
    import math

    from mobilegan.losses import discriminator_loss

    zero = torch.zeros(2, 1, 4, 4)
    assert discriminator_loss(zero, zero).item() == pytest.approx(math.log(2))
    sure = torch.full((2, 1, 4, 4), 12.0)
    assert discriminator_loss(sure, -sure).item() < 1e-4   # real called real, fake fake
    assert discriminator_loss(-sure, sure).item() > 11.9   # the other way round

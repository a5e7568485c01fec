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


def test_the_generator_is_pushed_towards_fakes_judged_real() -> None:
    """Its adversarial term is BCE against "real": small for a confident "real", large for
    a confident "fake" (at logit 0 both labels give log 2, which could not tell them apart)."""
    import math

    from mobilegan.losses import generator_adversarial_loss

    confident_real = torch.full((1, 1, 2, 2), 5.0)
    assert generator_adversarial_loss(confident_real).item() == pytest.approx(math.log1p(math.exp(-5)), rel=1e-4)
    assert generator_adversarial_loss(-confident_real).item() == pytest.approx(math.log1p(math.exp(5)), rel=1e-4)


def test_the_soft_jaccard_loss_is_per_image_then_averaged() -> None:
    """One perfect and one empty prediction of a full mask: (0 + 0.8) / 2 = 0.4; pooling the
    batch into one intersection and union would give 1 - 5/9 and let large lesions dominate."""
    from mobilegan.losses import soft_jaccard_loss

    target = torch.ones(2, 1, 2, 2)
    prediction = torch.stack([torch.ones(1, 2, 2), torch.zeros(1, 2, 2)])
    assert soft_jaccard_loss(prediction, target).item() == pytest.approx(0.4)


def test_the_default_loss_weights_are_the_papers_text() -> None:
    """The text's weights (L1 0.5, Jaccard 0.1; its equation swaps them: docs/architecture.md),
    the adversarial term at 1, no pixel BCE: the one place the choice is made."""
    import dataclasses

    assert dataclasses.asdict(LossConfig()) == {"adversarial": 1.0, "l1": 0.5, "jaccard": 0.1,
                                                "bce": 0.0}

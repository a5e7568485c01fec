"""One obvious constructor: ``build_model(ModelConfig)`` for every network we train."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from mobilegan.config import ModelConfig


def _mobilegan(cfg: ModelConfig) -> nn.Module:
    from mobilegan.models.generator import MobileGANGenerator

    return MobileGANGenerator(cfg)


def _unet(cfg: ModelConfig) -> nn.Module:
    from mobilegan.models.baselines import UNet

    return UNet(cfg.in_channels, base=cfg.unet_base)


_REGISTRY: dict[str, Callable[[ModelConfig], nn.Module]] = {
    "mobilegan": _mobilegan,
    "unet": _unet,
}


def available_models() -> list[str]:
    return sorted(_REGISTRY)


def build_model(cfg: ModelConfig | None = None) -> nn.Module:
    """Build the segmentation network (generator) that ``cfg.name`` names."""
    cfg = cfg or ModelConfig()
    if cfg.name not in _REGISTRY:
        raise ValueError(f"model.name: unknown model {cfg.name!r}; choose one of {available_models()}")
    return _REGISTRY[cfg.name](cfg.validate())


def build_discriminator(cfg: ModelConfig | None = None) -> nn.Module:
    from mobilegan.models.discriminator import MobileGANDiscriminator

    cfg = cfg or ModelConfig()
    attention = cfg.attention if cfg.discriminator_attention is None else cfg.discriminator_attention
    return MobileGANDiscriminator(cfg.in_channels, attention=attention)

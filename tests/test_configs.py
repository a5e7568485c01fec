"""The shipped configs parse, build their networks, and say what the docs say."""

from __future__ import annotations

from pathlib import Path

import pytest

from mobilegan.config import RunConfig
from mobilegan.models.registry import build_model

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.json"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_loads_and_builds(path: Path) -> None:
    cfg = RunConfig.load(path)
    model = build_model(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0
    assert RunConfig.from_dict(cfg.to_dict()) == cfg


def test_shipped_config_is_leak_free_with_the_documented_changes() -> None:
    cfg = RunConfig.load(Path(__file__).resolve().parents[1] / "configs" / "shipped.json")
    assert cfg.data.exclude_eval_ids and cfg.data.eval_split == "test"
    assert cfg.model.pam_kv_stride == 4 and cfg.loss.adversarial == 0.01
    # Stage 1 of the shipped weights ran before the tied head existed: it reproduces as run.
    assert cfg.model.head_init == "pytorch" and RunConfig().model.head_init == "tied"
    assert (cfg.loss.l1, cfg.loss.jaccard, cfg.train.lr, cfg.train.batch_size) == (0.5, 0.1, 2e-4, 8)

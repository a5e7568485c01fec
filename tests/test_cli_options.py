"""Options reach what they set: the model command's name and size, and the order in which
train's flags and --set overrides apply."""

from __future__ import annotations

import json

import pytest

from mobilegan.cli.main import build_parser, main
from mobilegan.config import RunConfig, apply_overrides


def test_model_summary_builds_the_model_named_at_the_size_given(
        capsys: pytest.CaptureFixture[str]) -> None:
    """--size H W is height then width, as everywhere else; --model picks the network."""
    assert main(["model", "summary", "--model", "unet", "--size", "32", "64", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"]["name"] == "unet" and summary["input_size"] == [32, 64]
    assert summary["rows"][0]["output_shape"][2:] == [32, 64]


def test_a_set_override_wins_over_the_flags_of_train() -> None:
    """--no-adversary is a shorthand; an explicit --set given with it has the last word."""
    from mobilegan.cli.train_cmd import command_overrides

    args = build_parser().parse_args(["train", "--no-adversary", "--set",
                                      "train.adversarial=true"])
    assert apply_overrides(RunConfig(), command_overrides(args)).train.adversarial is True
    args = build_parser().parse_args(["train", "--no-adversary"])
    assert apply_overrides(RunConfig(), command_overrides(args)).train.adversarial is False


"""``mobilegan model``: what networks there are and what they cost.

list    - registry models and the ablation switches, with parameter counts
summary - per-layer table (output shape, parameters, multiply-adds) and totals
"""

from __future__ import annotations

import argparse
import dataclasses
import json

#: What each registry model is, for ``model list``.
DESCRIPTIONS = {
    "mobilegan": "MobileGAN generator (Sarker et al. 2019): ERFNet blocks + dual attention",
    "unet": "U-Net (Ronneberger et al. 2015), widths 64-1024: the heavy baseline",
}
#: The ablations are configuration switches of the generator (and of training).
ABLATIONS = [
    ("no attention", "--set model.attention=false"),
    ("single scale", "--set model.multiscale=false"),
    ("PAM keys/values pooled 2x2 (faster)", "--set model.pam_kv_stride=2"),
    ("no GAN (generator alone)", "mobilegan train ... --set train.adversarial=false"),
]


def register(subparsers: argparse._SubParsersAction) -> None:
    model = subparsers.add_parser(
        "model", help="list the networks and show their size and cost",
        description="Inspect the segmentation networks: parameters and multiply-adds per layer.")
    commands = model.add_subparsers(dest="model_command", metavar="SUBCOMMAND")
    model.set_defaults(func=lambda args: _help(model))

    listing = commands.add_parser("list", help="registry models and ablation switches")
    listing.set_defaults(func=run_list)

    summary = commands.add_parser("summary", help="per-layer parameters and MACs")
    summary.add_argument("--model", default=None, help="registry name (default: mobilegan)")
    summary.add_argument("--size", type=int, nargs="+", default=[128], metavar="N",
                         help="input size: N (square) or H W (default 128)")
    summary.add_argument("--set", dest="overrides", action="append", default=[],
                         metavar="model.FIELD=VALUE", help="override a ModelConfig field")
    summary.add_argument("--all-layers", action="store_true",
                         help="also list layers without weights or MACs (ReLU, pooling, ...)")
    summary.add_argument("--json", action="store_true", help="print JSON instead of a table")
    summary.add_argument("--shipped", action="store_true",
                         help="the shipped weights' network (its config), not the paper's")
    summary.set_defaults(func=run_summary)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _model_config(name: str | None, overrides: list[str]):  # -> ModelConfig
    from mobilegan.config import RunConfig, apply_overrides

    bad = [o for o in overrides if not o.startswith("model.")]
    if bad:
        raise ValueError(f"--set only takes model.* fields here, got {bad}")
    config = apply_overrides(RunConfig(), overrides)
    if name is not None:
        config.model.name = name
    return config.model


def run_list(args: argparse.Namespace) -> int:
    from mobilegan.config import ModelConfig, changed_fields
    from mobilegan.models.registry import available_models, build_model
    from mobilegan.models.summary import count_parameters

    print("models (--model NAME, or model.name in a run config):")
    for name in available_models():
        params = count_parameters(build_model(ModelConfig(name=name)))
        print(f"  {name:<10} {params / 1e6:6.2f}M  {DESCRIPTIONS.get(name, '')}")
    print("ablations of mobilegan:")
    for what, how in ABLATIONS:
        print(f"  {what:<36} {how}")
    shipped = _shipped_config()
    if shipped is not None:
        ours = dataclasses.asdict(shipped)
        changed = [f"model.{name}={ours[name]}"
                   for name in changed_fields(ours, dataclasses.asdict(ModelConfig()))]
        print(f"shipped weights: {shipped.name} with {', '.join(changed) or 'the defaults'} "
              f"(`mobilegan model summary --shipped`)")
    return 0


def _shipped_config():  # -> ModelConfig | None
    """The network the shipped weights were trained as (None when they are not installed)."""
    from mobilegan.inference.segmenter import shipped_weights
    from mobilegan.models.io import model_config, read_model_info

    path = shipped_weights()
    return model_config(read_model_info(path)["model"]) if path.is_file() else None


def run_summary(args: argparse.Namespace) -> int:
    from mobilegan import paper
    from mobilegan.models.registry import build_model
    from mobilegan.models.summary import model_summary

    size = _size(args.size)
    cfg = _model_config(args.model, args.overrides)
    if args.shipped:
        if args.model is not None or args.overrides:
            raise ValueError("--shipped describes the shipped network: no --model or --set with it")
        cfg = _shipped_config()
        if cfg is None:
            raise FileNotFoundError("the shipped weights are not installed")
    summary = model_summary(build_model(cfg), size, in_channels=cfg.in_channels,
                            all_layers=args.all_layers)
    if args.json:
        print(json.dumps({"model": vars(cfg), **summary.to_dict()}, indent=2))
        return 0
    print(f"model: {cfg.name}  config: {json.dumps(vars(cfg))}")
    print(summary.format_table())
    if cfg.name == "mobilegan":
        delta = summary.total_params / (paper.PAPER_PARAMETERS_M * 1e6) - 1
        print(f"the paper's MobileGAN: {paper.PAPER_PARAMETERS_M}M parameters "
              f"(this network: {delta:+.1%})")
    return 0


def _size(values: list[int]) -> tuple[int, int]:
    if len(values) not in (1, 2) or min(values) < 16 or any(v % 16 for v in values):
        raise ValueError(f"--size takes N or H W, multiples of 16 (the networks downsample "
                         f"by 8 or 16), got {values}")
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])

"""Typed run configuration. Defaults come from the paper (see :mod:`mobilegan.paper`).

Every run saves its resolved configuration as JSON beside its outputs, and
``RunConfig.from_dict`` reads it back, so a run can always be repeated exactly.
"""

from __future__ import annotations

import dataclasses
import math
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterable
from typing import Any

from mobilegan import paper

#: Ways the generator's head can start (ModelConfig.head_init).
HEAD_INITS = ("tied", "pytorch")


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field."""


@dataclass
class ModelConfig:
    """Which network to build and its switches (the ablations live here)."""

    name: str = "mobilegan"  # registry key: mobilegan | unet
    in_channels: int = 3
    attention: bool = True  # False: the "no attention" ablation (PAM/CAM become identity)
    multiscale: bool = True  # False: the "single scale" ablation
    #: The discriminator's PAM and CAM: None follows ``attention``; False takes them out of
    #: the discriminator only (a strong attentive judge wins the GAN game early; see
    #: docs/architecture.md, "On a GPU").
    discriminator_attention: bool | None = None
    #: Pool keys/values of the PAM in the first CDA by this factor (1 = exact paper PAM).
    #: At 128x128 that PAM attends over 64x64 = 4096 positions; stride 2 gives 1024 keys.
    pam_kv_stride: int = 1
    #: How the generator's last layer (a 2x2, stride-2 transposed convolution) starts:
    #: "tied" gives its four sub-pixel positions one kernel (nearest-neighbour upsampling of
    #: a 1x1 convolution; ICNR, Aitken et al. 2017); "pytorch" is PyTorch's default, under
    #: which a GAN-free run from scratch stuck at validation JAC 0.36 (docs/architecture.md,
    #: "Early training was fragile"). Loaded weights replace either.
    head_init: str = "tied"
    encoder_dropout: float = paper.ENCODER_DROPOUT
    decoder_dropout: float = paper.DECODER_DROPOUT
    #: U-Net base width (Ronneberger: 64).
    unet_base: int = 64

    def validate(self) -> "ModelConfig":
        """The switches a network is built from; ``build_model`` calls this, so a model made
        without a RunConfig cannot fall back silently to another start or PAM."""
        _build(ModelConfig, dataclasses.asdict(self), "model.")  # types, as a file's are
        checks = [
            ("model.head_init", self.head_init in HEAD_INITS,
             f"must be one of {HEAD_INITS}, got {self.head_init!r}"),
            ("model.pam_kv_stride", self.pam_kv_stride in (1, 2, 4),
             f"must be 1, 2 or 4, got {self.pam_kv_stride}"),
            ("model.encoder_dropout", 0 <= self.encoder_dropout < 1,
             f"must be in [0, 1), got {self.encoder_dropout}"),
            ("model.decoder_dropout", 0 <= self.decoder_dropout < 1,
             f"must be in [0, 1), got {self.decoder_dropout}"),
        ]
        for name, ok, message in checks:
            if not ok:
                raise ConfigError(f"{name}: {message}")
        return self


@dataclass
class LossConfig:
    adversarial: float = paper.LAMBDA_ADV
    l1: float = paper.LAMBDA_L1
    jaccard: float = paper.LAMBDA_JACCARD
    #: Pixel-wise BCE on the logits (beyond the paper, which has none; 0 = off). L1 and soft
    #: Jaccard act on sigmoid probabilities, so their gradient fades on confidently wrong
    #: pixels; BCE on logits keeps a gradient of (p - y) there.
    bce: float = 0.0


@dataclass
class DataConfig:
    #: Training set root (an ISIC layout or images/ + masks/).
    train_dir: str = "../shared/data/isic2018"
    #: Optional folder whose ids are the evaluation set: training refuses to overlap it.
    eval_dir: str | None = "../shared/data/isic2017"
    #: Which split of eval_dir is the test set (overlap guard); "test" for ISIC 2017.
    eval_split: str | None = "test"
    #: Which split of train_dir to train on ("train"; a bare image folder is "all").
    train_split: str | None = "train"
    #: Optional second training root (e.g. ISIC 2017, whose training and validation sets hold
    #: 229 images ISIC 2018 lacks). Its images join the training split only, so validation
    #: stays the seeded split of train_dir; ids already in train_dir or val_dir are dropped, and
    #: evaluation ids are handled as train_dir's are (excluded, refused or labelled leaky).
    extra_train_dir: str | None = None
    #: Which splits of extra_train_dir to add (never its test split by default).
    extra_train_splits: tuple[str, ...] = ("train", "val")
    #: Ids never trained on, dropped after the seeded split (so the split of the others and
    #: the validation set stay as they were): e.g. the near-identical copies of test images
    #: under other ids that ``mobilegan data overlap --phash`` finds.
    exclude_train_ids: tuple[str, ...] = ()
    #: Optional separate validation root; else a seeded split of train_dir.
    val_dir: str | None = None
    val_split: str | None = None
    train_fraction: float = paper.TRAIN_FRACTION
    #: Drop every id of the evaluation set from training (the leak-free protocol).
    exclude_eval_ids: bool = True
    #: Train on overlapping ids anyway (the paper's protocol); results get a leak label.
    allow_overlap: bool = False
    image_size: int = paper.IMAGE_SIZE
    limit: int | None = None  # use only the first N training images (smoke tests)
    val_limit: int | None = None  # and only the first N validation images
    seed: int = 0


@dataclass
class AugmentConfig:
    hflip: bool = True
    vflip: bool = True
    gamma: tuple[float, float] = (0.7, 1.5)
    gamma_p: float = 0.5
    clahe_p: float = 0.3
    clahe_clip: float = 2.0
    clahe_tiles: int = 8
    # Beyond the paper (all off by default): variation that images from other cameras and
    # clinics show and ISIC alone under-represents. Used for the shipped weights.
    #: Random multiples of 90 degrees (dermoscopy has no "up"); needs square training images.
    rot90: bool = False
    #: Probability of a colour jitter: brightness x(1 +- b), saturation x(1 +- s), hue +- h deg.
    color_p: float = 0.0
    brightness: float = 0.15
    saturation: float = 0.25
    hue_degrees: float = 8.0
    #: Probability of a random zoom (scale factor drawn log-uniformly in ``zoom``; < 1 zooms
    #: out with mirrored borders), so lesion size varies as it does between devices.
    zoom_p: float = 0.0
    zoom: tuple[float, float] = (0.8, 1.25)


@dataclass
class TrainConfig:
    epochs: int = paper.EPOCHS
    batch_size: int = paper.BATCH_SIZE
    lr: float = paper.LEARNING_RATE
    #: constant (paper) | linear (pix2pix) | cosine; decay runs from ``lr_decay_start`` to the
    #: last epoch. See training/schedule.py.
    lr_schedule: str = "constant"
    lr_decay_start: int = 0
    betas: tuple[float, float] = paper.ADAM_BETAS
    adversarial: bool = True  # False: train the generator alone (baselines, "no GAN")
    device: str = "auto"
    amp: bool = True  # bf16 autocast on CUDA
    compile: bool = False
    seed: int = 0
    num_threads: int | None = None
    #: Validate (and pick the best epoch) every this many epochs; the first, the last and
    #: the one a run stops in are always validated.
    val_every: int = 1
    overlay_every: int = 5
    collapse_patience: int = 5
    #: Stop once the generator has collapsed to all-background for ``collapse_patience``
    #: validations in a row (the best epoch is kept). Off by default, so that a paper run
    #: trains its epochs; a collapsed GAN did not recover in 76 more epochs on an H200.
    stop_on_collapse: bool = False
    #: Start the generator from these weights (.safetensors of the same model config),
    #: e.g. to continue from another run's best epoch with other settings.
    init_generator: str | None = None
    #: Validate and export a moving average of the generator's weights with this decay
    #: (e.g. 0.999); 0 = off, the live weights as in the paper. See training/ema.py.
    ema_decay: float = 0.0
    max_steps: int | None = None  # stop after this many steps (tests, smoke runs)
    #: Stop after this many seconds of training in this run, resumed invocations summed
    #: (data loading not counted),
    #: finishing with a validated, exported partial epoch: a fixed compute budget for runs
    #: compared side by side. The epochs reached are in ``train_result.json``.
    time_budget_s: float | None = None
    #: With a time budget, run the lr schedule's decay over whichever ends first, the epochs
    #: or the budget (progress = the larger of the two fractions), so a budget that binds
    #: still ends at the schedule's end instead of mid-decay. Off: epochs alone (as before).
    schedule_over_budget: bool = False
    checkpoint_every: int = 100  # steps between resumable checkpoints (and at epoch ends)
    snapshot_every: int = 25  # steps between in-memory good states for the NaN guard
    max_bad_steps: int = 3  # non-finite losses in a row that end the run
    progress: bool = True


@dataclass
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    out_dir: str = "runs/mobilegan"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def flat(self) -> dict[str, Any]:
        """``{"train.epochs": 30, ...}``: every field under its dotted ``--set`` name."""
        return _flatten(self.to_dict())

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "RunConfig":
        return _build(cls, raw, "")

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        """A config file; one with a ``"base"`` key holds only what differs from that file."""
        return cls.from_dict(read_config_file(Path(path)))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    def validate(self) -> "RunConfig":
        """Fail at start, naming the field, rather than hours into a run."""
        from mobilegan.models.registry import available_models
        from mobilegan.training.schedule import SCHEDULES

        # Every field's type, as a config file's and --set's are checked: set in Python,
        # ``cfg.model.attention = "False"`` is truthy and trained the attention it named off.
        RunConfig.from_dict(self.to_dict())

        checks = [
            ("model.name", self.model.name in available_models(),
             f"unknown model {self.model.name!r}; choose one of {available_models()}"),
            ("train.lr", self.train.lr > 0, f"must be > 0, got {self.train.lr}"),
            ("train.epochs", self.train.epochs >= 1, f"must be >= 1, got {self.train.epochs}"),
            ("train.lr_schedule", self.train.lr_schedule in SCHEDULES,
             f"unknown schedule {self.train.lr_schedule!r}; choose one of {SCHEDULES}"),
            ("train.lr_decay_start", 0 <= self.train.lr_decay_start < self.train.epochs,
             f"must be in [0, train.epochs), got {self.train.lr_decay_start}"),
            ("train.ema_decay", 0 <= self.train.ema_decay < 1,
             f"must be in [0, 1) (0 = off), got {self.train.ema_decay}"),
            ("augment.color_p", 0 <= self.augment.color_p <= 1, "must be in [0, 1]"),
            ("augment.zoom_p", 0 <= self.augment.zoom_p <= 1, "must be in [0, 1]"),
            ("augment.zoom", 0 < self.augment.zoom[0] <= self.augment.zoom[1],
             f"must be (low, high) with 0 < low <= high, got {self.augment.zoom}"),
            ("train.checkpoint_every", self.train.checkpoint_every >= 1, "must be >= 1"),
            ("train.val_every", self.train.val_every >= 1, "must be >= 1"),
            ("train.overlay_every", self.train.overlay_every >= 1, "must be >= 1"),
            ("train.snapshot_every", self.train.snapshot_every >= 1, "must be >= 1"),
            ("train.max_bad_steps", self.train.max_bad_steps >= 1, "must be >= 1"),
            ("train.collapse_patience", self.train.collapse_patience >= 1, "must be >= 1"),
            ("train.time_budget_s", self.train.time_budget_s is None or self.train.time_budget_s > 0,
             f"must be > 0 seconds or null, got {self.train.time_budget_s}"),
            ("train.batch_size", self.train.batch_size >= 1,
             f"must be >= 1, got {self.train.batch_size}"),
            # 0 would mean "no limit" and -3 "all but the last 3": neither is what was meant
            ("train.max_steps", self.train.max_steps is None or self.train.max_steps >= 1,
             f"must be >= 1 or null (no limit), got {self.train.max_steps}"),
            ("data.limit", self.data.limit is None or self.data.limit >= 1,
             f"must be >= 1 or null (every image), got {self.data.limit}"),
            ("data.val_limit", self.data.val_limit is None or self.data.val_limit >= 1,
             f"must be >= 1 or null (every image), got {self.data.val_limit}"),
            ("train.betas", len(self.train.betas) == 2 and all(0 <= b < 1 for b in self.train.betas),
             f"must be two numbers in [0, 1) (Adam's), got {self.train.betas}"),
            ("data.image_size", self.data.image_size >= 32 and self.data.image_size % 16 == 0,
             f"must be a multiple of 16 and >= 32 (the encoder halves it 3 times and the "
             f"input block 8x), got {self.data.image_size}"),
            ("data.train_fraction", 0 < self.data.train_fraction < 1 or self.data.val_dir,
             f"must be in (0, 1), got {self.data.train_fraction}"),
            *((f"loss.{name}", math.isfinite(weight) and weight >= 0,
               f"must be a finite number >= 0, got {weight}")
              for name, weight in dataclasses.asdict(self.loss).items()),
            ("train.lr", math.isfinite(self.train.lr), f"must be finite, got {self.train.lr}"),
            ("train.num_threads", self.train.num_threads is None or self.train.num_threads >= 1,
             f"must be >= 1 or null (the machine's default), got {self.train.num_threads}"),
            *((f"augment.{name}", 0 <= getattr(self.augment, name) <= 1,
               f"must be in [0, 1], got {getattr(self.augment, name)}")
              for name in ("gamma_p", "clahe_p", "brightness", "saturation")),
            ("augment.gamma", 0 < self.augment.gamma[0] <= self.augment.gamma[1] < math.inf,
             f"must be (low, high) with 0 < low <= high, finite, got {self.augment.gamma}"),
            ("augment.clahe_clip", 0 < self.augment.clahe_clip < math.inf,
             f"must be a finite number > 0, got {self.augment.clahe_clip}"),
            ("augment.clahe_tiles", self.augment.clahe_tiles >= 1,
             f"must be >= 1, got {self.augment.clahe_tiles}"),
            ("augment.hue_degrees", 0 <= self.augment.hue_degrees <= 180,
             f"must be in [0, 180], got {self.augment.hue_degrees}"),
            ("data.train_dir", Path(self.data.train_dir).is_dir(),
             f"not a folder: {self.data.train_dir}"),
            ("data.extra_train_dir",
             self.data.extra_train_dir is None or Path(self.data.extra_train_dir).is_dir(),
             f"not a folder: {self.data.extra_train_dir}"),
        ]
        for name, ok, message in checks:
            if not ok:
                raise ConfigError(f"{name}: {message}")
        self.model.validate()
        return self


def read_config_file(path: Path, _through: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The settings of a config file as a dict. A ``"base"`` key names another config file
    (relative to this one) whose settings this one overrides field by field, so a candidate
    that changes one setting of a recipe says only that; saved runs hold the result whole."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config is a JSON object of sections, got "
                          f"{type(raw).__name__}")
    base = raw.pop("base", None)
    if base is None:
        return raw
    if not isinstance(base, str):
        raise ConfigError(f"{path}: \"base\" names another config file, got {base!r}")
    base_path = (path.parent / base).resolve()
    chain = (*_through, path.resolve())
    if base_path in chain:
        raise ConfigError(f"{path}: its \"base\" chain comes back to {base_path}")
    if not base_path.is_file():
        raise ConfigError(f"{path}: its \"base\" {base!r} is not a file ({base_path})")
    return _overlay(read_config_file(base_path, chain), raw)


def _overlay(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        both_sections = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _overlay(merged[key], value) if both_sections else value
    return merged


def _build(cls: type, raw: dict[str, Any], prefix: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            raise ConfigError(f"{prefix}{key}: unknown field; known: {sorted(fields)}")
        default = getattr(cls(), key)
        if dataclasses.is_dataclass(default):
            kwargs[key] = _build(type(default), value, f"{prefix}{key}.")
        else:
            kwargs[key] = _typed(value, hints[key], f"{prefix}{key}")
    return cls(**kwargs)


def changed_fields(a: dict[str, Any], b: dict[str, Any],
                   ignore: Iterable[str] = ()) -> list[str]:
    """Dotted names whose values differ between two :meth:`RunConfig.flat` dicts (a name
    missing from one side differs), less ``ignore``; sorted."""
    skip = set(ignore)
    return sorted(k for k in a.keys() | b.keys() if k not in skip and a.get(k) != b.get(k))


def _flatten(raw: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _typed(value: Any, hint: Any, name: str) -> Any:
    """``value`` checked against the field's annotation (lists become tuples), so that a
    mistyped value fails here, naming the field, rather than being taken as it is: the
    string "False" from ``--set model.attention=False`` is truthy and would have left
    attention on, and ``--set data.limit=none`` would have failed only mid-setup."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None and type(None) in options:
        return None
    for option in options:
        origin = typing.get_origin(option)
        if origin is tuple and isinstance(value, (list, tuple)):
            args = typing.get_args(option)
            if len(args) == 2 and args[1] is Ellipsis:
                args = (args[0],) * len(value)
            if len(args) == len(value):
                try:
                    return tuple(_typed(v, a, f"{name}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
                except ConfigError:
                    pass
        elif option is bool and isinstance(value, bool):
            return value
        elif option is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        elif option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        elif option is str and isinstance(value, str):
            return value
        elif option is Any:
            return value
    raise ConfigError(f"{name}: expected {_describe(hint)} (JSON: true/false, null, numbers, "
                      f"[lists]), got {value!r}")


def _describe(hint: Any) -> str:
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    return " or ".join("null" if o is type(None) else str(o) if typing.get_origin(o) else o.__name__
                       for o in options)


def apply_overrides(config: RunConfig, overrides: list[str]) -> RunConfig:
    """Apply ``section.field=value`` strings (values parsed as JSON when they can be)."""
    raw = config.to_dict()
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"{item}: expected section.field=value")
        dotted, text = item.split("=", 1)
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError:
            value = text
        node, section = raw, RunConfig
        parts = dotted.split(".")
        for part in parts[:-1]:
            if part not in node or not isinstance(node[part], dict):
                raise ConfigError(f"{dotted}: unknown section {part!r}")
            node, section = node[part], typing.get_type_hints(section)[part]
        if parts[-1] not in node:
            raise ConfigError(f"{dotted}: unknown field")
        if not isinstance(value, str):
            # A text field given something that reads as JSON (a folder named 2017): the text.
            try:
                _typed(value, typing.get_type_hints(section)[parts[-1]], dotted)
            except ConfigError:
                try:
                    _typed(text, typing.get_type_hints(section)[parts[-1]], dotted)
                    value = text
                except ConfigError:
                    pass
        node[parts[-1]] = value
    return RunConfig.from_dict(raw)

"""Parameters and multiply-adds of a network, layer by layer.

MACs come from :class:`torch.utils.flop_counter.FlopCounterMode` (FLOPs / 2), so
convolutions, transposed convolutions and the attention matmuls (PAM's Q^T K and
V attn, CAM's Gram matrix) are all counted from the ops actually run; element-wise work
(batch norm, activations, softmax, interpolation) is not, as is usual for MAC counts.
Forward hooks read the counter before and after each module, so each row's MACs are the
module's own (its children's subtracted) and the rows sum to the total.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from mobilegan.models.attention import plain_attention_shapes


@dataclass
class LayerRow:
    name: str
    type: str
    output_shape: tuple[int, ...] | None
    params: int
    macs: int


@dataclass
class ModelSummary:
    input_size: tuple[int, int]
    rows: list[LayerRow] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    total_macs: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format_table(self) -> str:
        """A fixed-width table with the totals under it."""
        header = ("layer", "type", "output shape", "params", "MACs")
        lines = [(r.name, r.type, _shape(r.output_shape), f"{r.params:,}", f"{r.macs:,}")
                 for r in self.rows]
        widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
        fmt = "  ".join(f"{{:{'>' if i >= 3 else '<'}{w}}}" for i, w in enumerate(widths))
        rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
        out = [fmt.format(*header), rule, *(fmt.format(*line) for line in lines), rule]
        h, w = self.input_size
        out.append(f"total parameters: {self.total_params:,} ({self.total_params / 1e6:.3f}M; "
                   f"trainable {self.trainable_params:,})")
        out.append(f"total MACs at {h}x{w}: {self.total_macs:,} ({self.total_macs / 1e9:.3f}G)")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.format_table()


def _shape(shape: tuple[int, ...] | None) -> str:
    return "-" if shape is None else "x".join(str(s) for s in shape)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_macs(model: nn.Module, input_size: tuple[int, int] = (128, 128), batch: int = 1) -> int:
    """Multiply-adds of one eval forward pass of a ``(batch, C, H, W)`` input."""
    return model_summary(model, input_size, batch=batch).total_macs


def model_summary(model: nn.Module, input_size: tuple[int, int] = (128, 128),
                  in_channels: int | None = None, batch: int = 1,
                  all_layers: bool = False) -> ModelSummary:
    """Run one eval forward pass on zeros and tabulate every layer that holds weights or
    does multiply-adds (``all_layers`` also lists ReLU, pooling, dropout...)."""
    cin = in_channels or _guess_in_channels(model)
    names = {m: n for n, m in model.named_modules()}
    inclusive: dict[nn.Module, int] = {}
    shapes: dict[nn.Module, tuple[int, ...]] = {}
    start: dict[nn.Module, list[int]] = {}
    counter = FlopCounterMode(display=False)

    def pre_hook(module: nn.Module, _inputs: Any) -> None:
        start.setdefault(module, []).append(counter.get_total_flops())

    def post_hook(module: nn.Module, _inputs: Any, output: Any) -> None:
        spent = counter.get_total_flops() - start[module].pop()
        inclusive[module] = inclusive.get(module, 0) + spent
        if isinstance(output, torch.Tensor):
            shapes[module] = tuple(output.shape)

    handles = [h for m in names for h in (m.register_forward_pre_hook(pre_hook),
                                          m.register_forward_hook(post_hook))]
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        x = torch.zeros(batch, cin, *input_size, device=device)
        with torch.no_grad(), counter, plain_attention_shapes():
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)

    _fill_containers(model, inclusive)
    rows = []
    for module, name in names.items():
        if not name:
            continue
        children = list(module.children())
        own_flops = inclusive.get(module, 0) - sum(inclusive.get(c, 0) for c in children)
        own_params = sum(p.numel() for p in module.parameters(recurse=False))
        if children and not own_params and not own_flops:
            continue
        if not children and not all_layers and not own_params and not own_flops:
            continue
        rows.append(LayerRow(name, type(module).__name__, shapes.get(module), own_params,
                             own_flops // 2))
    return ModelSummary(input_size=tuple(input_size), rows=rows,
                        total_params=count_parameters(model),
                        trainable_params=count_parameters(model, trainable_only=True),
                        total_macs=counter.get_total_flops() // 2)


def _fill_containers(module: nn.Module, inclusive: dict[nn.Module, int]) -> int:
    """Containers that are never called (ModuleList) cost what their children cost."""
    below = sum(_fill_containers(child, inclusive) for child in module.children())
    inclusive.setdefault(module, below)
    return inclusive[module]


def _guess_in_channels(model: nn.Module) -> int:
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "in_channels"):
        return int(config.in_channels)
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    return first.in_channels if first is not None else 3

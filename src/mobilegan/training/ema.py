"""An exponential moving average of the generator's weights (off by default; not in the paper).

Why: on this data the validation score of the raw weights jumps by several points from one
epoch to the next (GAN training is noisy, and the decoder's dropout is the noise z), so the
"best epoch" is partly luck. Averaging the weights over the last ~1/(1 - decay) steps gives a
smoother, usually better, generator at no training cost. Buffers (batch-norm statistics) are
averaged too, as timm's ``ModelEmaV2`` does; integer buffers are copied.

The average is what validation scores and what ``best``/``last`` export when it is on, and it
is part of the resumable checkpoint, so a resumed run continues it exactly.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class WeightAverage:
    """``decay`` in (0, 1); early on the effective decay is ``min(decay, (1 + n) / (10 + n))``
    after n updates, so the average is not dominated by the starting weights."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.module = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One step of the average; the float tensors in one fused call, since this runs
        after every generator step."""
        live = model.state_dict()
        averages, values = [], []
        for name, average in self.module.state_dict().items():
            if average.is_floating_point():
                averages.append(average)
                values.append(live[name].detach().to(average.dtype))
            else:
                average.copy_(live[name])
        torch._foreach_lerp_(averages, values, 1.0 - self.current_decay())
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "updates": self.updates, "weights": self.module.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.decay, self.updates = float(state["decay"]), int(state["updates"])
        self.module.load_state_dict(state["weights"])

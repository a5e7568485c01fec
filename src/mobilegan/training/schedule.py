"""Learning-rate schedules as a pure function of training progress.

The paper gives a fixed lr (2e-4) and no schedule, so ``constant`` is the default. ``linear``
is pix2pix's policy (hold, then decay linearly to zero); ``cosine`` decays along half a cosine.
The factor depends only on the position in the run, so a resumed run follows the same curve.
"""

from __future__ import annotations

import math

SCHEDULES = ("constant", "linear", "cosine")


def lr_factor(schedule: str, progress: float, epochs: int, decay_start: int = 0) -> float:
    """Multiplier of the base lr at ``progress`` epochs (fractional) of ``epochs``.

    ``decay_start`` epochs run at the full lr; the remaining ones decay to 0 at the run's end.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown lr schedule {schedule!r}; choose one of {SCHEDULES}")
    if schedule == "constant" or progress <= decay_start:
        return 1.0
    span = max(epochs - decay_start, 1e-9)
    done = min((progress - decay_start) / span, 1.0)
    if schedule == "linear":
        return 1.0 - done
    return 0.5 * (1.0 + math.cos(math.pi * done))


def budget_progress(progress: float, epochs: int, elapsed_s: float, budget_s: float) -> float:
    """Progress in epochs when the decay should also end with a time budget: the larger of
    the epochs done and the budget's spent fraction of ``epochs`` (``train.schedule_over_budget``)."""
    return max(progress, epochs * elapsed_s / budget_s)


def epochs_trained(steps: int, steps_per_epoch: int) -> float:
    """Steps as epochs, to two decimals, or to two significant digits below 0.01 (one
    step of a 260-step epoch is 0.0038, not 0.0)."""
    epochs = steps / steps_per_epoch
    if epochs == 0 or epochs >= 0.01:
        return round(epochs, 2)
    return float(f"{epochs:.2g}")

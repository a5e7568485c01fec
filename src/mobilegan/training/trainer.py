"""The paper's training recipe: per batch one discriminator step, then one generator step.

``train(RunConfig)`` is the library entry point; ``mobilegan train`` is a thin wrapper.
Everything a run produces lands in one folder (see :func:`train`).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from mobilegan.config import RunConfig, changed_fields
from mobilegan.data.tensors import normalize_images
from mobilegan.hardware import describe_device, resolve_device
from mobilegan.losses import discriminator_loss, generator_loss
from mobilegan.models.io import save_model
from mobilegan.models.registry import build_discriminator, build_model
from mobilegan.training.augment import augment_batch
from mobilegan.training.checkpoint import atomic_save, load_checkpoint
from mobilegan.training.ema import WeightAverage
from mobilegan.training.data_setup import PreparedData, prepare_data, protocol_line
from mobilegan.training.distributed import (DistInfo, barrier, broadcast_buffers, broadcast_float,
                                            finite_everywhere, init_distributed, shutdown)
from mobilegan.training.run_log import CsvLog, TensorBoard
from mobilegan.training.schedule import budget_progress, epochs_trained, lr_factor
from mobilegan.training.validation import validate
from mobilegan.training.visualize import overlay_grid


class TrainingDiverged(RuntimeError):
    """Losses stayed non-finite after restoring good states and lowering the lr."""


@dataclass
class TrainResult:
    out_dir: Path
    best_val_jac: float
    best_epoch: int
    epochs_done: int
    steps_done: int
    #: Seconds of training over the whole run, earlier (resumed) invocations included.
    wall_s: float
    #: Seconds of this invocation alone (equal to wall_s unless the run was resumed).
    wall_s_this_invocation: float


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


@dataclass
class EpochTally:
    """An epoch's running sums for its row of metrics.csv, kept in the checkpoint: an epoch
    interrupted and resumed once averaged only the steps after the resume (and one resumed
    at its last step logged no losses, 0 images/s and the unscheduled lr)."""

    sums: dict[str, float] = dataclasses.field(default_factory=dict)
    count: int = 0
    seen: int = 0
    seconds: float = 0.0
    lr: float | None = None  # the lr of the epoch's last step

    def add(self, losses: dict[str, float], images: int, lr: float, seconds: float) -> None:
        for key, value in losses.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.count += 1
        self.seen += images
        self.lr = lr
        self.seconds += seconds

    def means(self) -> dict[str, float]:
        return {key: value / max(self.count, 1) for key, value in self.sums.items()}


class Trainer:
    """Holds the models, optimisers and counters of one run; ``fit()`` runs it."""

    def __init__(self, cfg: RunConfig, data: PreparedData | None = None, resume: bool = False) -> None:
        self.cfg = cfg.validate()
        t = cfg.train
        self.device = resolve_device(t.device)
        self.dist: DistInfo = init_distributed(self.device.type)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        if t.num_threads:
            torch.set_num_threads(t.num_threads)
        torch.manual_seed(t.seed)
        self.out = Path(cfg.out_dir)
        self.main = self.dist.is_main
        self.data = data or prepare_data(cfg, progress=t.progress and self.main)
        self.train_set = self.data.train.to(self.device)
        self.val_set = self.data.val.to(self.device)
        self.amp = t.amp and self.device.type == "cuda"
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed input shapes: pick the fastest convs

        self.generator = build_model(cfg.model).to(self.device)
        init_note = ""
        if t.init_generator and not resume:
            start = Path(t.init_generator).resolve()
            if holds_a_run(self.out) and start.parent == self.out.resolve() \
                    and start.name in RUN_OUTPUTS:
                raise ValueError(f"train.init_generator {t.init_generator} is a file of the run "
                                 f"in {self.out}, which this run replaces: copy it elsewhere "
                                 f"first")
            init_note = self._init_generator(Path(t.init_generator))
        self.discriminator = build_discriminator(cfg.model).to(self.device) if t.adversarial else None
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=t.lr, betas=t.betas)
        self.opt_d = (torch.optim.Adam(self.discriminator.parameters(), lr=t.lr, betas=t.betas)
                      if self.discriminator is not None else None)
        if self.dist.enabled:
            ids = [self.dist.local_rank] if self.device.type == "cuda" else None
            self.generator = DistributedDataParallel(self.generator, device_ids=ids)
            if self.discriminator is not None:
                self.discriminator = DistributedDataParallel(self.discriminator, device_ids=ids)
        self.average = WeightAverage(_unwrap(self.generator), t.ema_decay) if t.ema_decay else None
        self.g_forward = self.generator
        if t.compile:
            self.g_forward = torch.compile(self.generator)

        self.epoch, self.step_in_epoch, self.global_step = 0, 0, 0
        self.best_jac, self.best_epoch, self.collapsed_epochs = -1.0, -1, 0
        #: The step of the last scoring (_end_epoch); behind global_step when the run was
        #: killed between its last step and that step's scoring.
        self.scored_at_step = 0
        #: The selection state before a stop scored a part of an epoch (see _end_epoch).
        self.before_partial: dict[str, Any] | None = None
        #: The signal that asked the run to stop after its current step (see fit).
        self._stop_signal: str | None = None
        self.lr = t.lr
        self.bad_steps = 0
        self.events: list[str] = []
        # Training seconds spent by earlier invocations of this run (resume), so that the
        # reported wall time and a time budget cover the whole run; None when a checkpoint
        # written before this was recorded leaves it unknown.
        self.wall_before: float | None = 0.0
        self.resumed_at_step: int | None = None
        self._fit_start: float | None = None
        self.tally = EpochTally()
        if resume:
            self._check_same_split()
            self._load(self.out / "checkpoints" / "last.pt")
            if self.main:
                self._record_resumed_config()
                # Written again when this invocation ends: left in place, a resume that
                # extends a finished run and is then killed read as finished (and
                # --resume-if-interrupted did nothing).
                (self.out / "train_result.json").unlink(missing_ok=True)
        elif self.main:
            self.out.mkdir(parents=True, exist_ok=True)
            cleared = clear_earlier_run(self.out) if holds_a_run(self.out) else []
            cfg.save(self.out / "config.json")
            (self.out / "splits.json").write_text(json.dumps(self.data.info, indent=2) + "\n")
            if cleared:
                self._log_event(f"started from scratch: removed the earlier run's "
                                f"{', '.join(cleared)}")
            if init_note:
                self._log_event(init_note)
        if self.main:
            self._log_event(protocol_line(self.data.info))
        unknown = self.data.info.get("exclude_train_ids_not_found") or []
        if unknown and self.main:
            self._log_event(f"data.exclude_train_ids: {len(unknown)} id(s) are in neither the "
                            f"training nor the validation images, so exclude nothing: "
                            f"{', '.join(unknown[:5])}")
        skipped = self.data.info.get("skipped") or []
        if skipped and self.main:  # listed whole in splits.json; said here so nobody misses it
            shown = "; ".join(reason for _id, reason in skipped[:3])
            self._log_event(f"skipped {len(skipped)} image/mask pair(s) that could not be used "
                            f"(all in splits.json 'skipped'): {shown}"
                            f"{' ...' if len(skipped) > 3 else ''}")
        self._snapshot = self._capture()
        if self.main:
            self.steps_log = CsvLog(self.out / "steps.csv", "step", self.global_step if resume else None)
            self.epochs_log = CsvLog(self.out / "metrics.csv", "epoch", self.epoch if resume else None)
            self.tensorboard = TensorBoard(self.out / "events")

    def _init_generator(self, path: Path) -> str:
        """Load the start weights; returns a note of the free settings that differ, if any."""
        from mobilegan.models.io import load_model

        source, source_cfg = load_model(path)
        # Only what the generator's weights compute must match: the judge, the head's start
        # (the loaded weights replace it) and the dropout rates (training only) may change
        # between stages; this run's config.json records the ones it uses.
        free = ("discriminator_attention", "head_init", "encoder_dropout", "decoder_dropout")
        changed = [f"model.{k} {getattr(source_cfg, k)!r} -> {getattr(self.cfg.model, k)!r}"
                   for k in free if getattr(source_cfg, k) != getattr(self.cfg.model, k)]
        source_cfg = dataclasses.replace(
            source_cfg, **{k: getattr(self.cfg.model, k) for k in free})
        if source_cfg != self.cfg.model:
            raise ValueError(f"train.init_generator: {path} was built with {source_cfg}, "
                             f"not this run's {self.cfg.model}")
        self.generator.load_state_dict(source.state_dict())
        return f"init_generator {path}: " + ", ".join(changed) if changed else ""

    # ---- state ---------------------------------------------------------------------
    def _capture(self) -> dict[str, Any]:
        """Everything needed to continue exactly: weights, optimisers, counters, RNG."""
        state: dict[str, Any] = {
            "generator": _unwrap(self.generator).state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "epoch": self.epoch, "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step, "best_jac": self.best_jac,
            "best_epoch": self.best_epoch, "collapsed_epochs": self.collapsed_epochs,
            "lr": self.lr, "torch_rng": torch.get_rng_state(),
            "wall_s": self._elapsed(), "epoch_tally": dataclasses.asdict(self.tally),
            "scored_at_step": self.scored_at_step, "before_partial": self.before_partial,
        }
        if self.discriminator is not None:
            state["discriminator"] = _unwrap(self.discriminator).state_dict()
            state["opt_d"] = self.opt_d.state_dict()
        if self.average is not None:
            state["average"] = self.average.state_dict()
        if torch.cuda.is_available() and self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return copy.deepcopy(state)

    def _restore(self, state: dict[str, Any], counters: bool = True) -> None:
        _unwrap(self.generator).load_state_dict(state["generator"])
        self.opt_g.load_state_dict(state["opt_g"])
        if self.discriminator is not None:
            _unwrap(self.discriminator).load_state_dict(state["discriminator"])
            self.opt_d.load_state_dict(state["opt_d"])
        if self.average is not None:
            if "average" not in state:
                raise ValueError("train.ema_decay is set but the checkpoint holds no weight "
                                 "average (it was written by a run without one)")
            self.average.load_state_dict(state["average"])
        if counters:
            for key in ("epoch", "step_in_epoch", "global_step", "best_jac", "best_epoch",
                        "collapsed_epochs", "lr"):
                setattr(self, key, state[key])
            self.wall_before = state.get("wall_s")
            # (Checkpoints before the tally was kept: the epoch's row averages the steps
            # after the resume only, as it always had.)
            self.tally = EpochTally(**state.get("epoch_tally", {}))
            # The checkpoint is loaded onto the run's device; RNG states must be CPU bytes
            # (on a GPU every resume stopped here with a TypeError).
            torch.set_rng_state(state["torch_rng"].cpu())
            if "cuda_rng" in state and self.device.type == "cuda":
                torch.cuda.set_rng_state(state["cuda_rng"].cpu(), self.device)
            self.scored_at_step = state.get("scored_at_step", self.global_step)
            self.before_partial = state.get("before_partial")
        self._set_lr(self.lr)

    def _check_same_split(self) -> None:
        """A resume trains on the ids the run started with, or not at all: paths resolved
        from another folder, or a changed data folder, would silently change the split
        (and could bring test images into training)."""
        saved_path = self.out / "splits.json"
        if not saved_path.is_file():
            raise FileNotFoundError(f"--resume: {saved_path} is missing: the run's split "
                                    f"cannot be checked")
        saved = json.loads(saved_path.read_text())
        for key in ("train_ids_sha256", "val"):
            if saved.get(key) != self.data.info.get(key):
                raise ValueError(
                    f"--resume: the data now give another split than the run started with "
                    f"({'training' if key == 'train_ids_sha256' else 'validation'} ids differ "
                    f"from {saved_path}); resume from the folder the run was started in, or "
                    f"with the data it used")

    def _load(self, path: Path) -> None:
        if not path.exists():
            raise FileNotFoundError(f"--resume: no checkpoint at {path}")
        self._restore(load_checkpoint(path, self.device))
        self.resumed_at_step = self.global_step
        self._log_event(f"resumed from {path} at epoch {self.epoch}, step {self.global_step}")

    def _record_resumed_config(self) -> None:
        """A resume may change how the run goes on (more epochs, a step limit or a time
        budget): ``config.json`` must say what the run now uses, or a later ``--resume``
        (which reads it) would go back to the old limits and stop at once, and the run
        folder would describe a shorter run than it holds."""
        path = self.out / "config.json"
        saved = RunConfig.load(path).flat() if path.is_file() else {}
        now = self.cfg.flat()
        changed = changed_fields(saved, now, ignore={"out_dir"})
        if not changed:
            return
        self.cfg.save(path)
        self._log_event("resumed with changed settings: " + ", ".join(
            f"{k} {saved.get(k)!r} -> {now.get(k)!r}" for k in changed) + "; config.json updated")

    def _elapsed(self) -> float:
        """Seconds of training in this run so far, earlier invocations included (as far as
        they are known)."""
        now = time.time() - self._fit_start if self._fit_start is not None else 0.0
        return (self.wall_before or 0.0) + now

    def _shared_elapsed(self) -> float:
        """``_elapsed()`` as rank 0 measures it, on every rank: each rank's own clock would
        let ranks disagree on when a time budget is spent (one stops while another waits in
        the next step's all-reduce) and on the budget-driven lr (their weights drift apart)."""
        return broadcast_float(self._elapsed(), self.dist, self.device)

    def _steps_per_epoch(self) -> int:
        """Steps every rank takes per epoch. The shards ``_epoch_order`` deals differ in
        length by one when the ranks do not divide the set; each rank must step as often
        as the others (every step all-reduces), so the shortest shard decides."""
        shard = len(self.train_set) // self.dist.world_size
        return max(shard // self.cfg.train.batch_size, 1)

    def _save_checkpoint(self) -> None:
        state = self._capture()
        # The NaN guard's restore point is the checkpoint too, so that a resumed run (which
        # starts from the checkpoint) restores to the state an uninterrupted run would.
        self._snapshot = state
        if self.main:
            atomic_save(state, self.out / "checkpoints" / "last.pt")

    @property
    def current_lr(self) -> float:
        return self.opt_g.param_groups[0]["lr"]

    def _apply_schedule(self, progress: float) -> None:
        """``self.lr`` is the base lr (which the NaN guard lowers); the schedule scales it."""
        t = self.cfg.train
        if t.schedule_over_budget and t.time_budget_s:
            progress = budget_progress(progress, t.epochs, self._shared_elapsed(), t.time_budget_s)
        self._set_lr(self.lr * lr_factor(t.lr_schedule, progress, t.epochs, t.lr_decay_start))

    def _set_lr(self, lr: float) -> None:
        for opt in (self.opt_g, self.opt_d):
            if opt is not None:
                for group in opt.param_groups:
                    group["lr"] = lr

    def _log_event(self, message: str) -> None:
        self.events.append(message)
        if self.main:
            tqdm.write(message)
            with (self.out / "train.log").open("a") as handle:
                handle.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")

    # ---- one step ------------------------------------------------------------------
    def _batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Per rank: under torchrun every rank drew the same flips, gamma and CLAHE per step.
        generator = torch.Generator().manual_seed(
            self.cfg.train.seed * 1_000_003 + self.global_step + 7_919_000_003 * self.dist.rank)
        idx = indices.to(self.device)
        images, masks = augment_batch(self.train_set.images[idx], self.train_set.masks[idx],
                                      self.cfg.augment, generator)
        return normalize_images(images), masks.float()

    def _step(self, images: torch.Tensor, masks: torch.Tensor) -> dict[str, float] | None:
        """One D step then one G step. Returns the losses, or None if one was not finite:
        a non-finite D loss applies nothing; a non-finite G loss comes after the D step was
        applied, and the NaN guard then restores the last good state of both."""
        cfg = self.cfg
        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.amp):
            logits = self.g_forward(images)
        probabilities = torch.sigmoid(logits.float())
        # Losses stay on the device until one transfer at the end: on a GPU each .item()
        # would stall the queue that the next kernels wait in.
        logged: dict[str, torch.Tensor] = {}
        fake_logits = None
        if self.discriminator is not None:
            # Real and generated pairs go through D separately, as in pix2pix: with batch
            # norm, a mixed batch would let D judge by batch statistics that the G step
            # (generated pairs only) never shows it.
            with torch.autocast(self.device.type, torch.bfloat16, enabled=self.amp):
                real = self.discriminator(images, masks).float()
                fake = self.discriminator(images, probabilities.detach()).float()
            d_loss = discriminator_loss(real, fake)
            if not finite_everywhere(d_loss, self.dist):
                return None
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
            logged["d_loss"] = d_loss.detach()
            logged["d_real"] = torch.sigmoid(real.detach()).mean()
            logged["d_fake"] = torch.sigmoid(fake.detach()).mean()
            judge = _unwrap(self.discriminator)
            judge.requires_grad_(False)
            with torch.autocast(self.device.type, torch.bfloat16, enabled=self.amp):
                fake_logits = judge(images, probabilities)
            judge.requires_grad_(True)
        parts = generator_loss(logits, masks, cfg.loss, fake_logits)
        if not finite_everywhere(parts["total"], self.dist):
            return None
        self.opt_g.zero_grad(set_to_none=True)
        parts["total"].backward()
        self.opt_g.step()
        if self.average is not None:
            self.average.update(_unwrap(self.generator))
        logged.update({f"g_{k}": v.detach() for k, v in parts.items()})
        values = torch.stack([v.float() for v in logged.values()]).tolist()
        return dict(zip(logged, values))

    def _handle_bad_step(self) -> None:
        self.bad_steps += 1
        if self.bad_steps >= self.cfg.train.max_bad_steps:
            raise TrainingDiverged(
                f"{self.bad_steps} non-finite losses in a row at step {self.global_step + 1} "
                f"(lr now {self.lr:g}); stopped without writing a checkpoint of the bad state. "
                f"The last good checkpoint is {self.out / 'checkpoints' / 'last.pt'}.")
        # A copy: the optimisers' load_state_dict keeps the tensors it is given, so later
        # steps would otherwise write into the snapshot a second bad step restores.
        self._restore(copy.deepcopy(self._snapshot), counters=False)
        self.lr *= 0.5
        self._set_lr(self.lr)
        self._log_event(f"non-finite loss at step {self.global_step + 1}: restored the last good "
                        f"state and lowered the lr to {self.lr:g} ({self.bad_steps} in a row)")

    # ---- epochs --------------------------------------------------------------------
    def _epoch_order(self, epoch: int) -> torch.Tensor:
        order = torch.randperm(len(self.train_set),
                               generator=torch.Generator().manual_seed(self.cfg.train.seed * 7919 + epoch))
        return order[self.dist.rank::self.dist.world_size]

    def fit(self) -> TrainResult:
        t = self.cfg.train
        self._fit_start = time.time()
        steps_per_epoch = self._steps_per_epoch()
        stop, stop_reason = False, "epochs"
        resumed = self.resumed_at_step is not None
        # A resumed run whose step limit or budget was already spent stops without a step.
        if resumed and t.max_steps and self.global_step >= t.max_steps:
            stop, stop_reason = True, "max_steps"
        elif resumed and t.time_budget_s and self._shared_elapsed() >= t.time_budget_s:
            stop, stop_reason = True, "time budget"
        elif resumed and self.epoch < t.epochs and self._stop_for_collapse():
            stop, stop_reason = True, "collapse"  # it had stopped for that: not one more epoch
        if resumed and not stop and self.before_partial is not None:
            self._forget_partial_scoring()
        try:
            with self._interrupts_wait_for_the_step():
                if stop and self.scored_at_step < self.global_step:
                    # Killed after its last step, before that step's scoring (or a signal on
                    # the last step): score and export now, as the run would have.
                    self._end_epoch(self.tally, self.step_in_epoch >= steps_per_epoch, final=True)
                stop, stop_reason = self._train_epochs(steps_per_epoch, stop, stop_reason)
            for model in (self.generator, self.discriminator):
                if model is not None:
                    broadcast_buffers(_unwrap(model), self.dist)
        finally:
            if self.main:
                self.tensorboard.close()
            barrier(self.dist)
            shutdown(self.dist)
        result = TrainResult(self.out, self.best_jac, self.best_epoch, self.epoch, self.global_step,
                             self._elapsed(), time.time() - self._fit_start)
        if self.main:
            self._write_result(result, stop_reason, steps_per_epoch)
        return result

    @contextlib.contextmanager
    def _interrupts_wait_for_the_step(self) -> Iterator[None]:
        """Ctrl+C or SIGTERM (a scheduler's pre-emption) ends the run after the step in
        progress, with a checkpoint of it, so that ``--resume`` loses nothing and stays
        exact (a checkpoint between a D step and its G step would not be); a second Ctrl+C
        stops at once. One process only: under torchrun the ranks could be at different
        steps, and the signals keep their defaults."""
        if self.dist.world_size > 1 or threading.current_thread() is not threading.main_thread():
            yield
            return

        def wait_for_the_step(number: int, _frame: Any) -> None:
            if self._stop_signal is not None:
                raise KeyboardInterrupt
            self._stop_signal = signal.Signals(number).name
            tqdm.write(f"{self._stop_signal}: stopping after this step with a checkpoint "
                       f"(Ctrl+C again to stop at once)")

        previous = {sig: signal.signal(sig, wait_for_the_step)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop_if_signalled(self) -> None:
        if self._stop_signal is None:
            return
        self._save_checkpoint()
        self._log_event(f"{self._stop_signal} at step {self.global_step} (epoch "
                        f"{self.epoch + 1}, step {self.step_in_epoch} of it): checkpoint saved; "
                        f"--resume continues from here")
        raise KeyboardInterrupt

    def _train_epochs(self, steps_per_epoch: int, stop: bool,
                      stop_reason: str) -> tuple[bool, str]:
        t = self.cfg.train
        while self.epoch < t.epochs and not stop:
            order = self._epoch_order(self.epoch)
            if self.step_in_epoch == 0:
                self.tally = EpochTally()
            tally, tick = self.tally, time.time()
            bar = tqdm(range(self.step_in_epoch, steps_per_epoch), disable=not (t.progress and self.main),
                       desc=f"epoch {self.epoch + 1}/{t.epochs}", unit="step", leave=False)
            for i in bar:
                indices = order[i * t.batch_size:(i + 1) * t.batch_size]
                if len(indices) < t.batch_size and len(order) >= t.batch_size:
                    continue
                self._apply_schedule(self.epoch + i / steps_per_epoch)
                losses = self._step(*self._batch(indices))
                if losses is None:
                    self._handle_bad_step()
                    continue
                self.bad_steps = 0
                self.global_step += 1
                self.step_in_epoch = i + 1
                tally.add(losses, len(indices) * self.dist.world_size, self.current_lr,
                          time.time() - tick)
                tick = time.time()
                rate = tally.seen / max(tally.seconds, 1e-9)
                if self.main:
                    self.steps_log.write({"step": self.global_step, "epoch": self.epoch + 1, **losses,
                                          "lr": self.current_lr})
                    bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()
                                     if k in ("d_loss", "g_total")} | {"img/s": f"{rate:.1f}"})
                if self.global_step % t.snapshot_every == 0:
                    self._snapshot = self._capture()
                if self.global_step % t.checkpoint_every == 0:
                    self._save_checkpoint()
                self._stop_if_signalled()
                if t.max_steps and self.global_step >= t.max_steps:
                    stop, stop_reason = True, "max_steps"
                    break
                if t.time_budget_s and self._shared_elapsed() >= t.time_budget_s:
                    stop, stop_reason = True, "time budget"
                    self._log_event(f"time budget of {t.time_budget_s:g} s spent at epoch "
                                    f"{self.epoch + 1}, step {self.global_step}: stopping")
                    break
            bar.close()
            epoch_done = not stop or self.step_in_epoch >= steps_per_epoch
            tally.seconds += time.time() - tick
            self._end_epoch(tally, epoch_done, final=stop)
            self._stop_if_signalled()  # one that came during validation
            if not stop and self.epoch < t.epochs and self._stop_for_collapse():
                stop, stop_reason = True, "collapse"
        return stop, stop_reason

    def _write_result(self, result: TrainResult, stop_reason: str, steps_per_epoch: int) -> None:
        """``train_result.json``: how far this invocation got and on what, for the report
        (rows trained under one time budget say how many epochs each reached)."""
        info = {"epochs_done": result.epochs_done,
                "epochs_trained": epochs_trained(result.steps_done, steps_per_epoch),
                "steps_done": result.steps_done, "best_epoch": result.best_epoch,
                "best_val_JAC": result.best_val_jac, "stop_reason": stop_reason,
                "protocol": self.data.info["protocol"],
                "leak_label": self.data.info.get("leak_label", ""),
                "time_budget_s": self.cfg.train.time_budget_s, "wall_s": round(result.wall_s, 1),
                "device": str(self.device), "card": describe_device(self.device),
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        if self.resumed_at_step is not None:
            # The card and thread count above are this invocation's; earlier ones may differ.
            info["resumed_at_step"] = self.resumed_at_step
            info["wall_s_this_invocation"] = round(result.wall_s_this_invocation, 1)
            if self.wall_before is None:
                info["wall_s_note"] = ("the checkpoint resumed from predates wall-time "
                                       "tracking: wall_s counts this invocation only")
        (self.out / "train_result.json").write_text(json.dumps(info, indent=2) + "\n")

    def _forget_partial_scoring(self) -> None:
        """A run stopped mid-epoch (a step limit, a time budget) scored that part of the
        epoch and may have chosen it as best; extended by a resume, it goes on through the
        rest of the epoch, which a run never stopped would not have scored: the selection
        state and best files go back to what they were before that scoring, so that the
        extended run chooses as an uninterrupted one does."""
        saved = self.before_partial
        self.best_jac, self.best_epoch = saved["best_jac"], saved["best_epoch"]
        self.collapsed_epochs = saved["collapsed_epochs"]
        self.before_partial = None
        if self.main:
            for best, kept in self._best_files_and_backups():
                if kept.is_file():
                    os.replace(kept, best)
                elif self.best_epoch < 0:  # no best before: the partial one goes too
                    best.unlink(missing_ok=True)
            self._log_event(f"resumed into epoch {self.epoch + 1}, which the stop scored in "
                            f"part: that score no longer counts toward the best epoch (best "
                            f"again epoch {self.best_epoch})")

    def _remember_before_partial(self) -> None:
        """Before a stop scores part of an epoch: what :meth:`_forget_partial_scoring`
        restores if the run is extended."""
        self.before_partial = {"best_jac": self.best_jac, "best_epoch": self.best_epoch,
                               "collapsed_epochs": self.collapsed_epochs}
        if self.main and (self.out / "best.safetensors").is_file():
            for best, backup in self._best_files_and_backups():
                backup.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(best, backup)

    def _best_files_and_backups(self) -> list[tuple[Path, Path]]:
        """The best weights and their JSON, each with where it is kept while a partial
        epoch's score stands (:meth:`_remember_before_partial`)."""
        return [(self.out / f"best{suffix}",
                 self.out / "checkpoints" / f"best_before_partial{suffix}")
                for suffix in (".safetensors", ".json")]

    def _end_epoch(self, tally: "EpochTally", epoch_done: bool, final: bool = False) -> None:
        t = self.cfg.train
        epoch_number = self.epoch + 1
        if not epoch_done and self.before_partial is None:
            self._remember_before_partial()
        if epoch_done:
            self.epoch += 1
            self.step_in_epoch = 0
            self.before_partial = None
        # Every batch non-finite (an epoch shorter than train.max_bad_steps): nothing was
        # learnt, so the epoch's weights are not exported (its row is still written, scored
        # if due).
        learnt = not (tally.count == 0 and self.bad_steps)
        if not learnt and self.main:
            self._log_event(f"epoch {epoch_number}: no step succeeded; its weights are not "
                            f"exported")
        # Every ``val_every`` epochs, and always at the first, the last
        # and wherever this invocation stops.
        scored = (final or not epoch_done or self.epoch >= t.epochs or epoch_number == 1
                  or epoch_number % t.val_every == 0)
        if self.main:
            row: dict[str, Any] = {"epoch": epoch_number, "step": self.global_step}
            row.update(tally.means())
            metrics: dict[str, float] = {}
            if scored:
                # Validation batches are training-sized: the paper's PAM holds a (positions x
                # positions) matrix per image, so a batch of 64 at 256x256 asks for 64 GiB
                # (seen on an H100), where the training batch is known to fit.
                metrics = validate(self._scored_generator(), self.val_set,
                                   batch_size=t.batch_size, autocast=self.amp)
                row.update(metrics)
                if self.average is not None:  # the live weights too, to show what averaging adds
                    live = validate(_unwrap(self.generator), self.val_set,
                                    batch_size=t.batch_size, autocast=self.amp)
                    row.update({f"live_{k}": v for k, v in live.items()})
            row.update({"images_per_s": tally.seen / max(tally.seconds, 1e-9),
                        "epoch_s": tally.seconds,
                        "lr": tally.lr if tally.lr is not None else self.current_lr})
            self.epochs_log.write(row)
            self.tensorboard.scalars(row, self.global_step, "epoch")
            if scored and learnt:
                self._check_collapse(metrics["val_DIC"])
                if metrics["val_JAC"] > self.best_jac:
                    self.best_jac, self.best_epoch = metrics["val_JAC"], epoch_number
                    self._export_generator("best", metrics)
            if learnt:
                self._export_generator("last", metrics)
            if epoch_number % t.overlay_every == 0 or epoch_number == 1 or not epoch_done or self.epoch == t.epochs:
                self._write_overlays(epoch_number)
            tqdm.write(f"epoch {epoch_number}: " + ", ".join(
                f"{k} {v:.4f}" for k, v in row.items() if isinstance(v, float)))
        self.scored_at_step = self.global_step
        self._save_checkpoint()
        barrier(self.dist)

    def _scored_generator(self) -> nn.Module:
        """The weights that validation scores and the run exports: the moving average when
        ``train.ema_decay`` is on, else the live generator."""
        return self.average.module if self.average is not None else _unwrap(self.generator)

    def _check_collapse(self, val_dic: float) -> None:
        self.collapsed_epochs = self.collapsed_epochs + 1 if val_dic < 0.01 else 0
        if self.collapsed_epochs >= self.cfg.train.collapse_patience:
            self._log_event(f"warning: the generator has collapsed to all-background "
                            f"(validation DIC < 0.01 for {self.collapsed_epochs} epochs)")

    def _stop_for_collapse(self) -> bool:
        """``train.stop_on_collapse``: rank 0 validates, so every rank takes its count."""
        t = self.cfg.train
        if not t.stop_on_collapse:
            return False
        collapsed = broadcast_float(float(self.collapsed_epochs >= t.collapse_patience),
                                    self.dist, self.device) > 0.5
        if collapsed:
            self._log_event(f"stopping at epoch {self.epoch}: collapsed for "
                            f"{self.collapsed_epochs} validations (train.stop_on_collapse); "
                            f"the best epoch, {self.best_epoch}, is kept")
        return collapsed

    def _export_generator(self, name: str, metrics: dict[str, float]) -> None:
        info = self.data.info
        meta = {"epoch": self.epoch, "global_step": self.global_step, **metrics,
                "protocol": info["protocol"], "leak_label": info["leak_label"],
                "train_ids_sha256": info["train_ids_sha256"], "seed": self.cfg.train.seed,
                "image_size": self.cfg.data.image_size, "device": str(self.device)}
        if self.average is not None:
            meta["weights"] = f"moving average (decay {self.average.decay:g})"
        save_model(self._scored_generator(), self.cfg.model, self.out / f"{name}.safetensors", meta)

    def _write_overlays(self, epoch: int) -> None:
        generator = self._scored_generator()
        images, truths = self.val_set.images[:8], self.val_set.masks[:8]
        was_training = generator.training
        generator.eval()
        with torch.no_grad():
            predictions = (generator(normalize_images(images)) > 0).to(torch.uint8)
        generator.train(was_training)
        overlay_grid(images, truths, predictions, self.out / "overlays" / f"epoch_{epoch:03d}.png")


#: What a run writes into its folder besides config.json and splits.json (which a fresh
#: start writes anew), and the scores of its weights that scripts/score_run.sh keeps.
RUN_OUTPUTS = ("train_result.json", "best.safetensors", "best.json", "last.safetensors",
               "last.json", "checkpoints", "metrics.csv", "steps.csv", "train.log", "events",
               "overlays", "eval", "eval_test", "eval_heldout")


def holds_a_run(out: Path) -> bool:
    """A folder a run wrote (what ``mobilegan train`` refuses to replace without
    --overwrite): its config, its result or its checkpoint. Other folders are not cleared:
    ``./eval/`` of ``mobilegan evaluate`` is not a run's."""
    return any((out / name).exists() for name in
               ("config.json", "train_result.json", "checkpoints/last.pt"))


def clear_earlier_run(out: Path) -> list[str]:
    """Remove an earlier run's outputs from ``out`` (``--overwrite``): its
    train_result.json once outlived it, so ``--resume-if-interrupted`` called the new run
    finished under the old run's protocol, and its scores were kept as the new weights'.
    Returns the names removed."""
    import shutil

    removed = []
    for name in RUN_OUTPUTS:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        else:
            continue
        removed.append(name)
    return removed


def train(cfg: RunConfig, resume: bool = False) -> TrainResult:
    """Train as ``cfg`` says. The run folder ``cfg.out_dir`` gets: ``config.json`` (resolved
    config), ``splits.json`` (protocol, ids, hashes), ``steps.csv`` and ``metrics.csv``,
    ``events/`` (TensorBoard), ``overlays/``, ``best``/``last`` ``.safetensors`` (+ ``.json``)
    and ``checkpoints/last.pt`` for ``resume`` (with ``cfg`` the run's saved config)."""
    return Trainer(cfg, resume=resume).fit()


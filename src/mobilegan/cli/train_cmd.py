"""``mobilegan train``: the paper's recipe (or a baseline) from a config file and overrides."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from mobilegan.config import RunConfig, apply_overrides, changed_fields

#: Named protocols: what each sets on top of the config.
PROTOCOLS = {
    "leak-free": ["data.exclude_eval_ids=true", "data.allow_overlap=false"],
    "paper": ["data.exclude_eval_ids=false", "data.allow_overlap=true"],
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train MobileGAN or a baseline (writes one run folder)",
        description="Train as the paper does: per batch one D step then one G step. "
                    "Defaults come from the paper; the leak-free protocol is the default.")
    parser.add_argument("--config", help="JSON config (see configs/); defaults from the paper")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                        help="override one field, e.g. --set train.epochs=10 (repeatable)")
    parser.add_argument("--out", help="run folder (default: the config's out_dir)")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS),
                        help="leak-free (drop test ids from training) or paper (train on them; leaky)")
    parser.add_argument("--allow-overlap", action="store_true",
                        help="train even if training ids are in the evaluation set (labelled leaky)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--resume-if-interrupted", action="store_true",
                        help="for scripts that may span sessions: start the run in --out, or "
                             "continue it from its last checkpoint if it was interrupted (its "
                             "saved config must match these options), or leave it if finished")
    parser.add_argument("--overwrite", action="store_true",
                        help="train from scratch into an --out that already holds a run "
                             "(its files are replaced); without it such a folder is refused")
    parser.add_argument("--no-adversary", action="store_true", help="train the generator alone (no GAN)")
    parser.set_defaults(func=run)


#: The resumable fields that say how far a run goes: a finished run is the run a command
#: asks for only if they match too.
HOW_FAR = ("train.epochs", "train.max_steps", "train.time_budget_s")
#: Fields that may change when a run resumes: how it runs, not what it computes.
RESUMABLE_FIELDS = {"train.epochs", "train.num_threads", "train.progress", "train.device",
                    "train.max_steps", "train.checkpoint_every", "train.overlay_every",
                    "train.time_budget_s", "train.stop_on_collapse"}


def build_config(args: argparse.Namespace) -> RunConfig:
    if args.resume:
        return resume_config(args)
    cfg = apply_overrides(RunConfig.load(args.config) if args.config else RunConfig(),
                          command_overrides(args))
    if args.out:
        cfg.out_dir = args.out
    return cfg


def command_overrides(args: argparse.Namespace) -> list[str]:
    """The flags and ``--set`` options of the command line, as ``--set`` strings."""
    overrides = list(PROTOCOLS.get(args.protocol or "", []))
    if args.allow_overlap:
        overrides.append("data.allow_overlap=true")
    if args.no_adversary:
        overrides.append("train.adversarial=false")
    return overrides + args.overrides


def resume_config(args: argparse.Namespace) -> RunConfig:
    """The run's own saved config, with only runtime fields overridable."""
    if not args.out:
        raise ValueError("--resume needs --out RUN_FOLDER")
    saved = Path(args.out) / "config.json"
    if not saved.is_file():
        raise FileNotFoundError(f"--resume: no run at {args.out} (missing config.json)")
    run = RunConfig.load(saved)
    # Compared by value: the command that started the run, repeated with --resume, is fine.
    cfg = apply_overrides(RunConfig.load(args.config) if args.config else run,
                          command_overrides(args))
    fixed = settings_that_differ(cfg, run)
    if fixed:
        raise ValueError(f"--resume continues the saved config; only {sorted(RESUMABLE_FIELDS)} "
                         f"may change (these would: {', '.join(fixed)})")
    cfg.out_dir = args.out
    return cfg


def _is_rank_zero() -> bool:
    """Whether this process is torchrun's rank 0 (or the only process), before the trainer
    has set up distributed training."""
    return os.environ.get("RANK", "0") == "0"


def refuse_existing_run(out: Path) -> None:
    """A run folder is never replaced by accident: a finished run's weights and scores, or an
    interrupted run's progress, stay unless --overwrite says otherwise."""
    from mobilegan.training.trainer import holds_a_run  # the test the trainer clears by

    if not holds_a_run(out):
        return
    state = run_state(out)
    what = {"finished": "a finished run", "interrupted": "an interrupted run (continue it "
            "with --resume)"}.get(state, "a run's config.json")
    raise FileExistsError(f"{out} already holds {what}: choose another --out, or pass "
                          f"--overwrite to train it again from scratch")


def settings_that_differ(wanted: RunConfig, saved: RunConfig) -> list[str]:
    """Fields (other than the runtime ones a resume may change) where two configs differ."""
    return changed_fields(wanted.flat(), saved.flat(), ignore=RESUMABLE_FIELDS | {"out_dir"})


def run_state(out: Path) -> str:
    """"finished" (train_result.json), "interrupted" (a checkpoint but no result) or "new"."""
    if (out / "train_result.json").is_file():
        return "finished"
    return "interrupted" if (out / "checkpoints" / "last.pt").is_file() else "new"


def interrupted_run_config(args: argparse.Namespace) -> tuple[RunConfig, bool] | None:
    """``--resume-if-interrupted``: None when the run in --out already finished; else the
    config to train with and whether to resume, after checking that an interrupted run was
    started with that config."""
    if args.resume or not args.out:
        raise ValueError("--resume-if-interrupted needs --out RUN_FOLDER and no --resume")
    cfg = build_config(args)
    state = run_state(Path(args.out))
    saved = Path(args.out) / "config.json"
    if state == "interrupted" and not saved.is_file():
        raise FileNotFoundError(f"{args.out} has a checkpoint but no config.json to check")
    if state != "new" and saved.is_file():
        # A finished run skipped, or an interrupted one continued, only if it is this run:
        # a script whose settings changed must not report a run of other settings as done.
        differ = settings_that_differ(cfg, RunConfig.load(saved))
        if differ:
            raise ValueError(f"the {state} run in {args.out} was started with other "
                             f"settings ({', '.join(differ)}); "
                             f"{'resume it with --resume, or ' if state == 'interrupted' else ''}"
                             "choose another --out")
    if state == "finished":
        saved_cfg = RunConfig.load(saved) if saved.is_file() else cfg
        longer = [f"{field} {before} -> {now}" for field in HOW_FAR
                  if (before := saved_cfg.flat()[field]) != (now := cfg.flat()[field])]
        if longer:  # a rerun asking for more epochs, steps or time was told "done"
            raise ValueError(f"the finished run in {args.out} ran under other limits "
                             f"({', '.join(longer)}): continue it with --resume and those "
                             f"settings, or choose another --out")
        return None
    return cfg, state == "interrupted"


def run(args: argparse.Namespace) -> int:
    from mobilegan.training.trainer import TrainingDiverged, train

    if args.resume_if_interrupted:
        planned = interrupted_run_config(args)
        if planned is None:
            print(f"mobilegan train: {args.out} already finished (train_result.json); "
                  "nothing to do")
            return 0
        cfg, resume = planned
    else:
        cfg, resume = build_config(args), bool(args.resume)
        if not resume and not args.overwrite and _is_rank_zero():
            refuse_existing_run(Path(cfg.out_dir))  # rank 0 only: it writes the folder
    if not resume:
        cfg.validate()
    try:
        result = train(cfg, resume=resume)
    except TrainingDiverged as error:
        print(f"mobilegan train: stopped: {error}")
        return 3
    if not _is_rank_zero():  # under torchrun only rank 0 validates and reports
        return 0
    print(f"done: {result.epochs_done} epochs, {result.steps_done} steps in {result.wall_s:.0f} s; "
          f"best validation JAC {result.best_val_jac:.4f} at epoch {result.best_epoch}; "
          f"run folder {result.out_dir}")
    return 0

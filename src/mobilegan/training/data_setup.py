"""Which images a run trains, selects and never sees: the protocol, decided before any
step runs, written to ``splits.json``, and guarded against test-set leaks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mobilegan.config import RunConfig
from mobilegan.data.cache import CachedSet, load_cached
from mobilegan.data.layouts import Sample, load_samples
from mobilegan.data.splits import ids_sha256, seeded_split


class OverlapError(ValueError):
    """Training ids overlap the evaluation set and the user did not allow it."""


@dataclass
class PreparedData:
    train: CachedSet
    val: CachedSet
    info: dict[str, Any]  # protocol, ids and hashes: saved as splits.json


def evaluation_ids(cfg: RunConfig) -> set[str]:
    """The test ids training must keep out (leak-free) or label (paper). A named folder
    that is missing is an error: without it the run would call itself leak-free while
    training on whatever test images its training folder holds."""
    d = cfg.data
    if not d.eval_dir:
        return set()
    if not Path(d.eval_dir).is_dir():
        raise FileNotFoundError(
            f"data.eval_dir {d.eval_dir} is not a folder (from {Path.cwd()}): its test ids "
            f"cannot be kept out of training. Point it at the test set, or set "
            f"data.eval_dir=null to train with no evaluation set")
    return {s.id for s in load_samples(d.eval_dir, d.eval_split, "--set data.eval_split=")}


def extra_training_samples(cfg: RunConfig, known_ids: set[str]) -> list[Sample]:
    """The samples of ``data.extra_train_dir`` (its ``extra_train_splits``) whose ids the main
    training and validation folders do not already hold, each id once."""
    d = cfg.data
    if not d.extra_train_dir:
        return []
    extra: dict[str, Sample] = {}
    for split in d.extra_train_splits:
        for sample in load_samples(d.extra_train_dir, split, "data.extra_train_splits "):
            if sample.id not in known_ids:
                extra.setdefault(sample.id, sample)
    return list(extra.values())


def first_of_each_id(samples: list[Sample]) -> tuple[list[Sample], list[list[str]]]:
    """Each id once: the first file of an id is its image (as evaluate and ``data
    validate`` read it), later ones are skipped and named, since the id's one mask cannot
    belong to both (``x.jpg`` beside ``x.png`` once trained x.png on x.jpg's mask)."""
    first: dict[str, Sample] = {}
    skipped = []
    for sample in samples:
        if sample.id in first:
            skipped.append([sample.id, f"{sample.image}: id {sample.id} is also used by "
                                       f"{first[sample.id].image} (duplicate_id)"])
        else:
            first[sample.id] = sample
    return list(first.values()), skipped


#: The protocol of a run that named no evaluation set (data.eval_dir null).
UNCHECKED_PROTOCOL = "unchecked (no evaluation set named)"


def plan_splits(cfg: RunConfig) -> tuple[list[Sample], list[Sample], dict[str, Any]]:
    """Choose the training and validation samples and describe the protocol."""
    d = cfg.data
    train, duplicates = first_of_each_id(
        load_samples(d.train_dir, d.train_split, "--set data.train_split="))
    fixed_val, val_duplicates = (
        first_of_each_id(load_samples(d.val_dir, d.val_split, "--set data.val_split="))
        if d.val_dir else ([], []))
    duplicates += val_duplicates
    extra = extra_training_samples(cfg, {s.id for s in [*train, *fixed_val]})
    eval_ids = evaluation_ids(cfg)
    overlap = sorted({s.id for s in [*train, *extra]} & eval_ids)
    if overlap and d.exclude_eval_ids:
        train = [s for s in train if s.id not in eval_ids]
        extra = [s for s in extra if s.id not in eval_ids]
        protocol, leak = "leak-free", False
    elif overlap and not d.allow_overlap:
        raise OverlapError(
            f"{len(overlap)} training ids of {d.train_dir} are in the evaluation set "
            f"{d.eval_dir} ({d.eval_split}), e.g. {overlap[:3]}. Train leak-free (the default, "
            "data.exclude_eval_ids=true) or pass --allow-overlap to run the paper's protocol; "
            "its results are labelled leaky.")
    elif overlap:
        protocol, leak = "paper (leaky)", True
    else:
        # Without an evaluation set nothing was checked, so nothing is promised: scored on
        # ISIC 2017 test later, such a run is not a leak-free row (the evaluation still
        # counts the images it trained on).
        protocol, leak = ("leak-free" if d.eval_dir else UNCHECKED_PROTOCOL), False

    in_val: list[str] = []
    if d.val_dir:
        val = fixed_val
        val_ids = {s.id for s in val}
        val_overlap = val_ids & eval_ids
        if val_overlap:
            raise OverlapError(f"{len(val_overlap)} validation ids are in the evaluation set: "
                               "model selection would see the test set")
        # An image in both folders (121 of ISIC 2017's 150 validation images are ISIC 2018
        # training images) would be chosen on after being trained on: it trains no more.
        in_val = sorted({s.id for s in train} & val_ids)
        train = [s for s in train if s.id not in val_ids]
        if in_val and not train and not extra:  # (an extra folder may do all the training)
            raise ValueError(f"every training image of {d.train_dir} is also in the validation "
                             f"folder {d.val_dir} ({len(in_val)} ids): nothing is left to train "
                             f"on. Point data.val_dir at other images, or leave it out to hold "
                             f"out data.train_fraction of the training folder")
    else:
        by_id = {s.id: s for s in train}
        train_ids, val_ids = seeded_split(sorted(by_id), d.train_fraction, d.seed)
        train, val = [by_id[i] for i in train_ids], [by_id[i] for i in val_ids]
    train = train + extra  # after the split: validation is the same with or without extras
    excluded = set(d.exclude_train_ids)
    dropped = sorted(s.id for s in train if s.id in excluded)
    # An id that is nowhere (a typo) excludes nothing: the run says so rather than nothing.
    unknown = sorted(excluded - {s.id for s in [*train, *val]})
    train = [s for s in train if s.id not in excluded]
    if d.limit:
        train = train[: d.limit]
    if d.val_limit:
        val = val[: d.val_limit]
    train_ids = [s.id for s in train]
    inherited, inherited_seen = _inherited(cfg, eval_ids, train_ids, [s.id for s in val])
    if inherited_seen:
        protocol, leak = "paper (leaky)", True
    # Counted on what the run uses: data.limit / val_limit may leave out test ids.
    seen = (({*train_ids, *(s.id for s in val)} & eval_ids) | inherited_seen) if leak else set()
    info = {
        "protocol": protocol,
        "leak": leak,
        "leak_label": _leak_label(seen, set(train_ids) & eval_ids, inherited_seen,
                                  {s.id for s in val} & eval_ids) if leak else "",
        "train_dir": d.train_dir,
        "extra_train_dir": d.extra_train_dir,
        "extra_train_added": len([s for s in extra if s.id not in excluded]),
        "train_ids_dropped": dropped,
        "train_ids_in_val_removed": len(in_val),
        "exclude_train_ids_not_found": unknown,
        "eval_dir": d.eval_dir,
        "eval_split": d.eval_split,
        "eval_ids_excluded": len(overlap) if (overlap and d.exclude_eval_ids) else 0,
        "train_overlap_with_eval": len(seen),
        "train_ids_sha256": ids_sha256(train_ids),
        "seed": d.seed,
        # (id, reason) pairs, as load_cached's: prepare_data adds them to "skipped"
        "duplicates": duplicates,
        "train": train_ids,
        "val": [s.id for s in val],
    }
    if inherited is not None:
        info["inherited"] = inherited
    return train, val, info


def _inherited(cfg: RunConfig, eval_ids: set[str], train_ids: list[str],
               val_ids: list[str]) -> tuple[dict[str, Any] | None, set[str]]:
    """What the start weights (train.init_generator) were trained and selected on, and which
    evaluation ids among them: a leak-free run cannot start from weights that saw the test
    set (refused, as a leaky split is), the paper protocol labels it leaky. Weights that
    trained on this run's validation images are refused under any protocol: the best epoch
    would be chosen on images the network already learned."""
    from mobilegan.models.io import inherited_split

    if not cfg.train.init_generator:
        return None, set()
    inherited = inherited_split(cfg.train.init_generator, train_ids)
    learned_val = set(inherited["train"]) & set(val_ids)
    if learned_val:
        raise OverlapError(
            f"train.init_generator {cfg.train.init_generator} was trained on {len(learned_val)} "
            f"of this run's validation ids, e.g. {sorted(learned_val)[:3]}: the best epoch "
            f"would be chosen on images the start weights learned. Hold out the split the "
            f"start weights held out (the same data.seed and folders), or validate on other "
            f"images")
    seen = {*inherited["train"], *inherited["val"]} & eval_ids
    if seen and not cfg.data.allow_overlap:
        raise OverlapError(
            f"train.init_generator {cfg.train.init_generator} was trained or selected on "
            f"{len(seen)} ids of the evaluation set {cfg.data.eval_dir} "
            f"({cfg.data.eval_split}), e.g. {sorted(seen)[:3]}: a run started from it is not "
            f"leak-free. Start from weights trained leak-free, or pass --allow-overlap to run "
            f"the paper's protocol; its results are labelled leaky.")
    return inherited, seen


def _leak_label(seen: set[str], trained: set[str], inherited: set[str] = frozenset(),
                validated: set[str] = frozenset()) -> str:
    """Where the evaluation ids a run met are: its training split, its validation split
    (``validated``), or only the start weights' splits (``inherited``)."""
    if not seen:  # data.limit left every test id out: the protocol allowed them, none came
        return ("LEAKY protocol (test ids allowed in training), though none of the images "
                "this run uses are in the test set")
    only_inherited = inherited - trained - validated
    here = seen - only_inherited
    words = f"{len(trained)} in the training split, {len(here) - len(trained)} in validation"
    if only_inherited:
        words += f", {len(only_inherited)} only in the start weights' (train.init_generator)"
    return f"LEAKY: {len(seen)} training ids are in the test set ({words})"


def prepare_data(cfg: RunConfig, progress: bool = True) -> PreparedData:
    train, val, info = plan_splits(cfg)
    size = cfg.data.image_size
    train_set = load_cached(train, size, progress=progress)
    val_set = load_cached(val, size, progress=progress)
    info["skipped"] = info.pop("duplicates") + [
        list(map(str, item)) for item in [*train_set.skipped, *val_set.skipped]]
    info["train"], info["val"] = train_set.ids, val_set.ids
    info["train_ids_sha256"] = ids_sha256(train_set.ids)
    return PreparedData(train_set, val_set, info)


def protocol_line(info: dict[str, Any]) -> str:
    """What the run keeps out of training, said on the terminal and in train.log as it
    starts (splits.json holds the ids)."""
    inherited = info.get("inherited")
    if inherited is not None and not inherited.get("known"):
        unknown = (f" train.init_generator's ids are unknown ({inherited.get('reason')}): "
                   f"evaluations of this run cannot rule out a leak and say UNVERIFIED.")
    else:
        unknown = ""
    return _protocol_words(info) + unknown


def _protocol_words(info: dict[str, Any]) -> str:
    if info.get("leak"):
        return (f"protocol: {info['protocol']}. {info['leak_label']}: every result of this run "
                f"carries that label")
    removed = info.get("train_ids_in_val_removed") or 0
    also = f"; {removed} images of the validation folder left out of training" if removed else ""
    if not info.get("eval_dir"):
        return ("protocol: no evaluation set named (data.eval_dir is null): no test ids are "
                "kept out of training" + also)
    return (f"protocol: leak-free: {info.get('eval_ids_excluded', 0)} ids of the evaluation set "
            f"{info['eval_dir']} ({info.get('eval_split')}) left out of training" + also)

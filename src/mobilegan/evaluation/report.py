"""Gather evaluation summaries into RESULTS.md: the paper's Tables 1 and 2, honestly.

Tables: (1) the paper's protocol (trained on ISIC 2018 images that are in the ISIC 2017
test set: labelled leaky), (2) the leak-free protocol (the headline), (3) ISIC 2018 held-out
20% JAC_th, (4) every model / ablation / input size side by side, (5) published numbers
quoted beside ours, and (6) robustness: scores on perturbed images beside the clean ones.
Runs that differ only by seed are one row, mean ± std over seeds. Every
row points to its provenance line (protocol, train-ids hash, seed, device, wall time and the
exact command that produced it).
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mobilegan import paper
from mobilegan.evaluation.literature import NOT_TRANSCRIBED, QUOTED_NOTE, quoted_rows
from mobilegan.metrics.isic import METRIC_KEYS

TEST_KEYS = METRIC_KEYS  # the metrics every test table shows, in their order
PAPER_TEST_LABEL = "Sarker et al. 2019 (published, Table 1)"


# ---- one evaluation --------------------------------------------------------------------

#: Where the evaluated model met an image (the ``seen_in`` column of per_image.csv: "train",
#: "val" or empty) and the group each gives in summaries.
SEEN_GROUPS = {"train": "train", "val": "val", "": "unseen"}
#: How each group is named in summaries, on the terminal and in the report.
SEEN_LABELS = {"train": "in training", "val": "in validation", "unseen": "never seen"}


def _seen_heading(group: str) -> str:
    """A group's name as a table heading: the trained-on group carries the LEAK label."""
    return SEEN_LABELS.get(group, group) + (" (LEAK)" if group == "train" else "")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100.0 * value:.2f}"


#: The pseudo split that selects the run's own validation ids (the held-out 20% of the
#: training set, as in the paper's ISIC 2018 table). Those images chose the best epoch.
#: (Here, not in evaluate, so that reports need no torch.)
HELDOUT_SPLIT = "heldout"
#: ``skipped`` kind of a held-out id (a run's validation image) not under the folder scored.
MISSING_HELDOUT = "missing_heldout"


def partial_note(summary: dict[str, Any]) -> str:
    """A ``--limit`` evaluation, or a held-out one that found only some of the run's ids,
    says it is not a score of the whole set ("" otherwise)."""
    dataset = summary["dataset"]
    available = dataset.get("n_available")
    missing = _missing_heldout(summary)
    if missing:
        return (f"Partial: {missing} of the run's {missing + dataset['n_samples']} held-out "
                f"ids are not under {dataset.get('dir') or dataset['name']}; not a score of "
                f"the whole held-out set")
    if not summary.get("limit") or not available or available <= dataset["n_samples"]:
        return ""
    return (f"Partial: the first {dataset['n_samples']} of {available} images (--limit "
            f"{summary['limit']}); not a score of the whole set")


def partial_words(summary: dict[str, Any]) -> str:
    """:func:`partial_note` in a table's row label ("" for a whole set)."""
    if not partial_note(summary):
        return ""
    missing = _missing_heldout(summary)
    if missing:
        return f" ({summary['dataset']['n_samples']} of {missing + summary['dataset']['n_samples']} held-out images)"
    return f" (first {summary['limit']} images only)"


def _missing_heldout(summary: dict[str, Any]) -> int:
    return sum(entry.get("kind") == MISSING_HELDOUT for entry in summary.get("skipped", []))


def summary_markdown(summary: dict[str, Any]) -> str:
    """``summary.md`` of one evaluation: labels first, then the metrics in percent."""
    dataset = summary["dataset"]
    lines = [f"# {summary['name']} on {dataset['name']} ({dataset['split']})", ""]
    if summary.get("perturbation"):
        lines += [f"**Robustness check: every image perturbed by `{summary['perturbation']}` "
                  f"before prediction (ground truth unchanged).**", ""]
    if summary.get("leak_label"):
        lines += [f"**{summary['leak_label']}**", ""]
    partial = partial_note(summary)
    if partial:
        lines += [f"**{partial}**", ""]
    if summary.get("selection_note"):
        lines += [f"_Note: {summary['selection_note']}._", ""]
    lines += [
        f"- protocol: {summary['protocol']}; train ids sha256: "
        f"`{summary.get('train_ids_sha256') or 'unknown'}`; seed: {summary.get('seed')}",
        f"- images scored: {summary['n']} of {dataset['n_samples']} "
        f"({skipped_text(summary['skipped'])}); input size {summary['image_size']}, "
        f"threshold {summary['threshold']}, TTA {'on' if summary['tta'] else 'off'}, "
        f"post-processing {'on' if summary.get('postprocess') else 'off'}, "
        f"exposure normalisation {'on' if summary.get('exposure_normalized') else 'off'}",
        f"- parameters: {summary['params']:,}; device: {summary['card']}; "
        f"wall time {summary['wall_s']:.1f} s",
        f"- scoring: {summary['scoring']}",
        "",
        "| metric | mean (%) | std (%) | pooled (%) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for key in TEST_KEYS:
        pooled = summary["pooled"].get(key)
        lines.append(f"| {key} | {_pct(summary['mean'][key])} | {_pct(summary['std'][key])} "
                     f"| {_pct(pooled)} |")
    if summary.get("by_seen_in"):
        lines += ["", "## By where the model saw the image", "",
                  "| images | n | " + " | ".join(f"{k} (%)" for k in TEST_KEYS) + " |",
                  "| --- | ---: |" + " ---: |" * len(TEST_KEYS)]
        for group, scores in summary["by_seen_in"].items():
            lines.append(f"| {_seen_heading(group)} | {scores['n']} | "
                         + " | ".join(_pct(scores["mean"].get(k)) for k in TEST_KEYS) + " |")
    if summary["skipped"]:
        lines += ["", "## Skipped files", ""]
        lines += [f"- `{s['path'] or s['id']}`: {s['reason']}" for s in summary["skipped"]]
    if summary.get("figures"):
        lines += ["", "## Figures", ""]
        lines += [f"![{name}]({link_target(path)})" for name, path in summary["figures"].items()]
    if summary.get("command"):
        lines += ["", "Produced by:", "", f"    {summary['command']}"]
    return "\n".join(lines) + "\n"


# ---- gathering ----------------------------------------------------------------------------

def find_summaries(paths: Iterable[str | Path]) -> list[tuple[Path, dict[str, Any]]]:
    """``summary.json`` files from evaluation folders, run folders (their ``eval/``) or the
    files themselves, each once, in the order given."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            candidates = [path]
        elif (path / "summary.json").is_file():
            candidates = [path / "summary.json"]
        elif path.is_dir():
            candidates = sorted(path.rglob("summary.json"))
        else:
            raise FileNotFoundError(f"no run, evaluation folder or summary.json at {path}")
        if not candidates:
            raise FileNotFoundError(f"{path} holds no summary.json: run `mobilegan evaluate` "
                                    f"on it first")
        found += [c.resolve() for c in candidates if c.resolve() not in found]
    items = []
    for path in found:
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: not an evaluation summary (summary.json) nor a folder "
                             f"holding one ({error})") from None
        if not isinstance(summary, dict) or "mean" not in summary or "dataset" not in summary:
            raise ValueError(f"{path}: not an evaluation summary written by `mobilegan evaluate`")
        items.append((path, summary))
    return items


@dataclass
class Group:
    """Evaluations of one experiment (same name, config and evaluation) over seeds."""

    name: str
    items: list[tuple[int, Path, dict[str, Any]]] = field(default_factory=list)  # (E-number, ...)

    @property
    def summaries(self) -> list[dict[str, Any]]:
        return [s for _, _, s in self.items]

    @property
    def first(self) -> dict[str, Any]:
        return self.items[0][2]

    @property
    def leak(self) -> bool:
        return any(s.get("leak") for s in self.summaries)

    @property
    def kind(self) -> str:
        return self.first["dataset"].get("kind", "test")

    @property
    def protocol(self) -> str:
        return self.first.get("protocol", "unknown")

    @property
    def perturbation(self) -> str | None:
        return self.first.get("perturbation")

    def mean_std(self, key: str, pooled: bool = False) -> tuple[float | None, float | None]:
        values = [(s["pooled"] if pooled else s["mean"]).get(key) for s in self.summaries]
        values = [v for v in values if v is not None]
        if not values:
            return None, None
        array = np.asarray(values, dtype=np.float64)
        return float(array.mean()), (float(array.std(ddof=1)) if len(array) > 1 else None)

    def cell(self, key: str, pooled: bool = False) -> str:
        mean, std = self.mean_std(key, pooled)
        if mean is None:
            return "—"
        return f"{_pct(mean)} ± {_pct(std)}" if std is not None else _pct(mean)

    def refs(self) -> str:
        return ", ".join(f"[E{i}](#e{i})" for i, _, _ in self.items)

    def seeds(self) -> str:
        """Training seeds; as ``train/data`` pairs when the runs split the data differently."""
        if len({s.get("data_seed") for s in self.summaries}) > 1:
            return ", ".join(f"{s.get('seed')}/data {s.get('data_seed')}" for s in self.summaries)
        return ", ".join(str(s.get("seed")) for s in self.summaries)

    def hashes(self) -> str:
        return ", ".join(sorted({f"`{(s.get('train_ids_sha256') or 'unknown')[:12]}`"
                                 for s in self.summaries}))

    def devices(self) -> str:
        return "; ".join(sorted({s.get("card", s.get("device", "?")) for s in self.summaries}))

    def wall(self) -> str:
        return " + ".join(f"{s.get('wall_s', 0.0):.0f}" for s in self.summaries)

    def training(self) -> str:
        """Epochs each seed trained (best epoch), and its budget when one stopped it."""
        parts = []
        for s in self.summaries:
            t = s.get("training") or {}
            if not t:
                parts.append("—")  # evaluated before runs recorded it
                continue
            text = f"{t.get('epochs_trained', t.get('epochs_done'))} (best {t.get('best_epoch')})"
            if t.get("stop_reason") == "time budget":
                text += f", {t.get('time_budget_s'):g} s budget"
            elif t.get("stop_reason") == "collapse":
                text += ", stopped: collapsed"
            parts.append(text)
        return "; ".join(parts)

    def label(self) -> str:
        name = self.name
        if self.first.get("tta"):
            name += " + flip TTA"
        if self.first.get("exposure_normalized"):
            name += " + exposure normalisation"
        if self.first.get("postprocess"):
            name += " + post-processing"
        if self.first.get("threshold", 0.5) != 0.5:
            name += f" (threshold {self.first['threshold']:g})"
        runtime = self.first.get("runtime", "torch")
        said = "int8" if "int8" in runtime else "onnx"
        if runtime != "torch" and said not in name.lower():
            name += f" ({runtime})"  # unless the name says so already ("..., int8")
        name += partial_words(self.first)
        if self.leak:
            name += " **(LEAK)**"
        elif any(not s.get("overlap", {}).get("known", True) for s in self.summaries):
            name += " (unverified)"
        return name


#: The split drawn from the training folder by a run's own split: seeds with another data
#: seed hold out other images, and are still seeds of one row.
SPLITS_OF_A_RUN = (HELDOUT_SPLIT,)


def _image_set(summary: dict[str, Any]) -> tuple[Any, ...]:
    """Which images were scored: the ids themselves for a fixed set (two folders both
    called isic2017 but holding other images are two rows, not one), their number for a
    split each run draws for itself."""
    dataset = summary["dataset"]
    if dataset.get("split") in SPLITS_OF_A_RUN:
        return ("images", dataset.get("n_available", summary.get("n")))
    return ("ids", dataset.get("ids_sha256"))


def _group_key(summary: dict[str, Any], perturbation: bool = True) -> tuple[Any, ...]:
    """What one row of a table shares; ``perturbation=False`` matches a perturbed
    evaluation with its clean twin. The runtime is part of it: a weights file and its int8
    twin scored under one name are two rows."""
    dataset = summary["dataset"]
    key = (summary["name"], summary.get("config_fingerprint"), dataset.get("name"),
           dataset.get("split"), summary.get("image_size"), summary.get("tta"),
           summary.get("threshold"), summary.get("protocol"), summary.get("limit"),
           summary.get("postprocess", False), summary.get("exposure_normalized", False),
           summary.get("runtime", "torch"), _image_set(summary))
    return key + (summary.get("perturbation"),) if perturbation else key


def group_summaries(items: Sequence[tuple[Path, dict[str, Any]]]) -> list[Group]:
    """One group per experiment; seeds of it (same name and config but the seed) averaged.
    A repeat is not a seed: a second evaluation with a seed the group already holds (same
    config, same seed: the same experiment, whichever file its weights were read from)
    counts once; without a recorded seed, the same weights file scored twice does."""
    groups: dict[tuple[Any, ...], Group] = {}
    for number, (path, summary) in enumerate(items, start=1):
        key = _group_key(summary)
        group = groups.setdefault(key, Group(summary["name"]))
        if any(s.get("seed") == summary.get("seed") and _same_split(s, summary)
               and (summary.get("seed") is not None or _same_weights(s, summary))
               for s in group.summaries):
            continue
        group.items.append((number, path, summary))
    return _told_apart(list(groups.values()))


def _told_apart(groups: list[Group]) -> list[Group]:
    """Experiments evaluated under one ``--name`` and alike in all a row shows (protocol,
    set, options) but trained with other configs were two rows of one label, told apart
    only by their provenance links: each such row's label gets the start of its config
    fingerprint."""
    def shown(group: Group) -> tuple[Any, ...]:
        key = _group_key(group.first)
        return key[:1] + key[2:]  # all but the fingerprint

    fingerprints: dict[tuple[Any, ...], set[Any]] = {}
    for group in groups:
        fingerprints.setdefault(shown(group), set()).add(group.first.get("config_fingerprint"))
    for group in groups:
        fingerprint = group.first.get("config_fingerprint")
        if len(fingerprints[shown(group)]) > 1 and fingerprint:
            group.name += f" (config `{str(fingerprint)[:8]}`)"
    return groups


def _same_split(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """The same training ids (another ``data.seed`` is another run, not a repeat)."""
    return (a.get("data_seed"), a.get("train_ids_sha256")) == \
        (b.get("data_seed"), b.get("train_ids_sha256"))


def _same_weights(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two summaries of one weights file: the same path once resolved (``runs/x`` and
    ``./runs/x/`` are one file)."""
    pa, pb = a.get("weights"), b.get("weights")
    return pa is not None and pb is not None and Path(pa).resolve() == Path(pb).resolve()


def skipped_text(skipped: Sequence[dict[str, str]]) -> str:
    """"7 images skipped, 3 masks without an image": masks with no image are not images
    of the data set, so they are counted apart (images scored + skipped = images found)."""
    orphans = sum(entry.get("kind") == "orphan_mask" for entry in skipped)
    missing = sum(entry.get("kind") == MISSING_HELDOUT for entry in skipped)
    text = f"{len(skipped) - orphans - missing} images skipped"
    text += f", {orphans} masks without an image" if orphans else ""
    return text + (f", {missing} held-out ids not in the folder" if missing else "")


# ---- the tables -------------------------------------------------------------------------

def _params(group: Group) -> str:
    return f"{group.first['params'] / 1e6:.2f}"


def _test_table(groups: Sequence[Group], with_paper: bool) -> list[str]:
    header = ("| Model | Protocol | n | ACC | DIC | JAC | JAC_th | SEN | SPE | pooled JAC "
              "| Params (M) | Seed(s) | Train ids | Scored on | Scoring (s) | Provenance |")
    lines = [header, "|" + " --- |" * 2 + " ---: |" * 9 + " --- |" * 5]
    if with_paper:
        p = paper.PAPER_ISIC2017_TEST
        lines.append(f"| {PAPER_TEST_LABEL} | paper (leaky) | 600 | {p['ACC']:.2f} | "
                     f"{p['DIC']:.2f} | {p['JAC']:.2f} | — | {p['SEN']:.2f} | {p['SPE']:.2f} "
                     f"| — | {paper.PAPER_PARAMETERS_M:.2f} | — | — | GTX 1080Ti (paper) | — "
                     f"| {QUOTED_NOTE} |")
    for g in groups:
        lines.append(
            f"| {g.label()} | {g.protocol} | {g.first['n']} | "
            + " | ".join(g.cell(k) for k in TEST_KEYS)
            + f" | {g.cell('JAC', pooled=True)} | {_params(g)} | {g.seeds()} | {g.hashes()} "
              f"| {g.devices()} | {g.wall()} | {g.refs()} |")
    return lines


def _leak_breakdown(groups: Sequence[Group]) -> list[str]:
    """Each leaky row's test JAC within the images it trained on, chose its epoch on, or
    never saw (mean over seeds): how much of the headline number is a test at all."""
    rows = [g for g in groups if all(s.get("by_seen_in") for s in g.summaries)]
    if not rows:
        return []
    lines = ["Each row taken apart (JAC, %; images in brackets): the part of the score on "
             "images the model trained on is not a test.", "",
             "| Model | " + " | ".join(map(_seen_heading, SEEN_LABELS)) + " | all |",
             "| --- |" + " ---: |" * (len(SEEN_LABELS) + 1)]
    for g in rows:
        cells = []
        for key in SEEN_LABELS:
            parts = [s["by_seen_in"].get(key) for s in g.summaries]
            if any(p is None for p in parts):
                cells.append("—")
                continue
            mean = sum(p["mean"]["JAC"] for p in parts) / len(parts)
            cells.append(f"{100 * mean:.2f} ({parts[0]['n']})")
        lines.append(f"| {g.label()} | " + " | ".join(cells) + f" | {g.cell('JAC')} |")
    return lines + [""]


def _heldout_table(groups: Sequence[Group]) -> list[str]:
    lines = ["| Model | Protocol | n | JAC_th | JAC | DIC | Seed(s) | Train ids | Scored on "
             "| Scoring (s) | Provenance |",
             "| --- | --- |" + " ---: |" * 4 + " --- |" * 5,
             f"| Sarker et al. 2019 (published, Table 2; official ISIC 2018 validation set, "
             f"other images) | paper | — | {paper.PAPER_ISIC2018_VAL_JAC_TH:.2f} | — | — | — "
             f"| — | — | — | {QUOTED_NOTE} |"]
    for g in groups:
        lines.append(f"| {g.label()} | {g.protocol} | {g.first['n']} | {g.cell('JAC_th')} | "
                     f"{g.cell('JAC')} | {g.cell('DIC')} | {g.seeds()} | {g.hashes()} | "
                     f"{g.devices()} | {g.wall()} | {g.refs()} |")
    return lines


def _side_by_side(groups: Sequence[Group]) -> list[str]:
    lines = ["| Model | Variant | Dataset | Protocol | Input | TTA | n | ACC | DIC | JAC | JAC_th "
             "| SEN | SPE | Params (M) | Seed(s) | Epochs trained | Train ids | Scored on | Scoring (s) "
             "| Provenance |",
             "|" + " --- |" * 6 + " ---: |" * 8 + " --- |" * 6]
    for g in groups:
        s = g.first
        model = s.get("model", {})
        variant = ", ".join(part for part, off in (("no attention", not model.get("attention", True)),
                                                   ("single scale", not model.get("multiscale", True)),
                                                   ("no GAN", s.get("adversarial") is False))
                            if off) or model.get("name", "?")
        dataset = f"{s['dataset']['name']} ({s['dataset']['split']})"
        lines.append(f"| {g.label()} | {variant} | {dataset} | {g.protocol} | "
                     f"{s['image_size']} | {'on' if s.get('tta') else 'off'} | {s['n']} | "
                     + " | ".join(g.cell(k) for k in TEST_KEYS)
                     + f" | {_params(g)} | {g.seeds()} | {g.training()} | {g.hashes()} | "
                       f"{g.devices()} | {g.wall()} | {g.refs()} |")
    return lines


def _robustness_table(perturbed: Sequence[Group], clean: Sequence[Group]) -> list[str]:
    """Each perturbed evaluation beside the same model's clean one on the same images."""
    from mobilegan.evaluation.perturb import PERTURBATIONS

    def match(group: Group) -> Group | None:
        key = _group_key(group.first, perturbation=False)
        return next((c for c in clean if _group_key(c.first, perturbation=False) == key), None)

    lines = ["| Model | Dataset | Perturbation | n | JAC | clean JAC | change (points) | DIC "
             "| JAC_th | Provenance |",
             "| --- | --- | --- |" + " ---: |" * 6 + " --- |"]
    for g in perturbed:
        reference = match(g)
        clean_jac = reference.mean_std("JAC")[0] if reference else None
        jac = g.mean_std("JAC")[0]
        # from the two cells as printed, so that the row adds up (71.50, 72.00: -0.50)
        change = (f"{float(_pct(jac)) - float(_pct(clean_jac)):+.2f}"
                  if jac is not None and clean_jac is not None else "—")
        description = PERTURBATIONS[g.perturbation].description if g.perturbation in PERTURBATIONS else ""
        lines.append(f"| {g.label()} | {g.first['dataset']['name']} ({g.first['dataset']['split']}) "
                     f"| `{g.perturbation}`: {description} | {g.first['n']} | {g.cell('JAC')} | "
                     f"{_pct(clean_jac)} | {change} | {g.cell('DIC')} | {g.cell('JAC_th')} | "
                     f"{g.refs()}{', clean ' + reference.refs() if reference else ''} |")
    return lines


def _literature_table(ours: Sequence[Group]) -> list[str]:
    lines = ["| Method | ACC | DIC | JAC | SEN | SPE | Params (M) | Dataset | Source | Status |",
             "| --- |" + " ---: |" * 6 + " --- | --- | --- |"]
    for row in quoted_rows("ISBI 2017 test"):
        m = row.metrics
        cells = " | ".join(f"{m[k]:.2f}" if k in m else "—" for k in ("ACC", "DIC", "JAC", "SEN", "SPE"))
        params = f"{row.params_m:.2f}" if row.params_m is not None else "—"
        lines.append(f"| {row.method} | {cells} | {params} | {row.dataset} | "
                     f"{row.reference}: {row.source} | {row.note} |")
    for g in ours:
        status = "reproduced here" + (" (LEAK)" if g.leak else "")
        lines.append(f"| {g.label()} (this repository) | "
                     + " | ".join(g.cell(k) for k in ("ACC", "DIC", "JAC", "SEN", "SPE"))
                     + f" | {_params(g)} | {g.first['dataset']['name']} ({g.protocol}) | "
                       f"{g.refs()} | {status} |")
    return lines


def _trained(training: dict[str, Any] | None) -> str:
    if not training:
        return ""
    budget = ""
    if training.get("stop_reason") == "time budget":
        budget = f" (stopped by its {training['time_budget_s']:g} s budget)"
    elif training.get("stop_reason") == "collapse":
        budget = " (stopped: the generator collapsed, train.stop_on_collapse)"
    if training.get("resumed_at_step") is not None:
        budget += f", resumed at step {training['resumed_at_step']}"
    if training.get("wall_s_note"):
        budget += f" ({training['wall_s_note']})"
    return (f"trained {training.get('epochs_trained')} epochs on {training.get('card')} in "
            f"{training.get('wall_s')} s{budget}, best epoch {training.get('best_epoch')}; ")


def _provenance(items: Sequence[tuple[Path, dict[str, Any]]], base: Path) -> list[str]:
    lines = []
    for number, (path, s) in enumerate(items, start=1):
        label = f" — **{s['leak_label']}**" if s.get("leak_label") else ""
        if s.get("selection_note"):
            label += f" — note: {s['selection_note']}"
        if s.get("perturbation"):
            label += f" — images perturbed by `{s['perturbation']}`"
        lines += [
            f"<a id=\"e{number}\"></a>**E{number}** {s['name']} (run `{s.get('run_name')}`) on "
            f"{s['dataset']['name']} ({s['dataset']['split']}, {s['n']} images){label}  ",
            f"protocol {s.get('protocol')}; train ids sha256 `{s.get('train_ids_sha256')}`; "
            f"seed {s.get('seed')}; scored on {s.get('card')} in {s.get('wall_s', 0.0):.1f} s; "
            f"{_trained(s.get('training'))}"
            f"summary [{os.path.relpath(path, base)}]({link_target(os.path.relpath(path, base))})  ",
            f"command (in `{s.get('cwd', '?')}`): `{s.get('command') or 'not recorded'}`",
            "",
        ]
    return lines


def link_target(path: str | Path) -> str:
    """A relative path as a Markdown link target: run names hold spaces and parentheses
    (robustness folders are named after models), which end a bare target early."""
    return urllib.parse.quote(Path(path).as_posix(), safe="/")


#: Figures that draw the dataset's own images (evaluation/figures.py's "cases"): never
#: committed (.gitignore), so never linked, even where a copy lies on the disk that wrote
#: the report (RESULTS.md once linked v6's, a broken image in every clone).
FIGURES_OF_DATASET_IMAGES = frozenset({"cases"})


def _figures(items: Sequence[tuple[Path, dict[str, Any]]], base: Path) -> list[str]:
    lines = []
    for number, (path, s) in enumerate(items, start=1):
        figures = s.get("figures") or {}
        if not figures:
            continue
        lines += [f"**E{number}** {s['name']} on {s['dataset']['name']} "
                  f"({s['dataset']['split']}){' — ' + s['leak_label'] if s.get('leak_label') else ''}", ""]
        for name, relative in figures.items():
            if name in FIGURES_OF_DATASET_IMAGES:
                lines.append(f"*E{number} {name}: written by the command, not kept here "
                             "(it shows the dataset's images)*")
                continue
            if not (path.parent / relative).is_file():
                lines.append(f"*E{number} {name}: written by the command, not kept here*")
                continue
            target = os.path.relpath(path.parent / relative, base)
            lines.append(f"![E{number} {name}]({link_target(target)})")
        lines.append("")
    return lines


def is_isic2017_test(summary: dict[str, Any]) -> bool:
    """Whether an evaluation scored the ISIC 2017 test set: recorded by ``evaluate`` as the
    official set its images came from; summaries written before that record it are known
    by their folder (a name holding 2017) and split."""
    dataset = summary["dataset"]
    if "set" in dataset:
        return dataset["set"] == "ISIC 2017 test"
    return dataset.get("split") == "test" and "2017" in str(dataset.get("name", ""))


def build_report(paths: Iterable[str | Path], out: str | Path, preface: str = "") -> str:
    """RESULTS.md text for the summaries found under ``paths``; links are relative to
    ``out``'s folder. ``preface`` (Markdown) goes right under the title: the state of the
    results and the commands that made them."""
    items = find_summaries(paths)
    if not items:
        raise ValueError("no evaluation summaries given")
    base = Path(out).resolve().parent
    all_groups = group_summaries(items)
    perturbed = [g for g in all_groups if g.perturbation]
    groups = [g for g in all_groups if not g.perturbation]
    # Tables 1, 2 and 5 are about one test set: an evaluation of any other folder (a
    # user's own images, ISIC 2017 validation) stays in Table 4 with its dataset named.
    tests = [g for g in groups if g.kind == "test" and is_isic2017_test(g.first)]
    paper_protocol = [g for g in tests if g.protocol.startswith("paper")]
    # Table 2 promises that no image was seen in training *or model selection*: a row
    # scored on images that chose the run's best epoch (its validation ids) is not one.
    leak_free = [g for g in tests if g.protocol == "leak-free" and not g.leak
                 and all(s.get("overlap", {}).get("known") and not s["overlap"].get("val")
                         for s in g.summaries)]
    heldout = [g for g in groups if g.kind == "heldout"]
    lines = [
        "# Results: MobileGAN (Sarker et al. 2019), reproduced", "",
        *([preface.strip(), ""] if preface.strip() else []),
        "All numbers are per-image ISIC scores at each ground truth's own resolution, averaged "
        "over images (percent; mean ± std over seeds where several seeds ran; a paired difference "
        "written +x +- y, here and in the preface, is a mean per-image difference with its 95% "
        "interval's half-width). \"pooled\" sums "
        "pixel counts over the set first. Rows marked **LEAK** were evaluated on images the "
        "model trained on. Published numbers are quoted, not reproduced.", "",
        "## Table 1 — paper protocol (LEAKY)", "",
        "Trained on ISIC 2018 Task 1 training, which holds 529 of the 600 ISIC 2017 test images, "
        "then tested on ISIC 2017 test, as the paper did. Not a fair test: shown to compare with "
        "the published numbers only.", "",
        *(_test_table(paper_protocol, with_paper=True)), "",
        *(_leak_breakdown(paper_protocol)),
        "## Table 2 — leak-free protocol (headline)", "",
        "Every ISIC 2017 test id removed from training; no evaluated image was seen in training "
        "or model selection (checked from each run's splits.json). The first row is the "
        "paper's own number, quoted for reference: it was measured on the leaky protocol.", "",
        *(_test_table(leak_free, with_paper=True)), "",
        "## Table 3 — ISIC 2018 held-out 20% (JAC_th)", "",
        "The seeded 20% of ISIC 2018 training that each run held out. These images also chose "
        "the best epoch, so the numbers are optimistic; the paper's Table 2 used the official "
        "validation set (other images).", "",
        *(_heldout_table(heldout)), "",
        "## Table 4 — models, ablations and input sizes side by side", "",
        *(_side_by_side(groups)), "",
        "## Table 5 — published methods (quoted) beside ours", "",
        *(_literature_table(paper_protocol + leak_free)), "",
        f"Rows of the paper's comparison table not transcribed yet (no verifiable copy at "
        f"hand; add them to `mobilegan.evaluation.literature` with their source): "
        f"{', '.join(NOT_TRANSCRIBED)}. A row marked \"from its own paper\" quotes that "
        f"method's own publication, not the paper's table.", "",
    ]
    if perturbed:
        lines += ["## Table 6 — robustness: perturbed images beside clean ones", "",
                  "Every image changed before prediction as a camera, a messaging app or a "
                  "clinic's lighting might (`mobilegan evaluate --perturb NAME`); the ground "
                  "truth is unchanged. A proxy for data from other sources, not a substitute.",
                  "", *_robustness_table(perturbed, groups), ""]
    figures = _figures(items, base)
    if figures:
        lines += ["## Figures", "", *figures]
    lines += ["## Provenance", "", *_provenance(items, base)]
    return "\n".join(lines).rstrip() + "\n"


def write_report(paths: Iterable[str | Path], out: str | Path, preface: str = "") -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(build_report(paths, out, preface))
    return out

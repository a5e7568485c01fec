"""Package a run's best generator as the shipped weights, with its model card.

    python scripts/package_weights.py RUN_DIR --eval EVAL_DIR [EVAL_DIR ...]

Writes src/mobilegan/weights/mobilegan.safetensors (fp16, a few MB), mobilegan.json
(model config + provenance), mobilegan.splits.json (the run's training and validation ids)
and MODEL_CARD.md, whose metrics are read from the ``summary.json`` of each evaluation
folder given (``mobilegan evaluate`` output). The int8 twin is made afterwards by
``mobilegan export --quantize int8`` (scripts/reproduce_shipped.sh).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from mobilegan.models.io import load_model, read_model_info, save_model
from mobilegan.paper import ADAM_BETAS, BATCH_SIZE, IMAGE_SIZE, LAMBDA_JACCARD, LAMBDA_L1, LEARNING_RATE

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "src" / "mobilegan" / "weights"


def metric_rows(evaluations: list[Path]) -> list[str]:
    rows = ["| evaluated on | protocol | runtime | n | ACC | DIC | JAC | JAC_th | SEN | SPE |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for folder in evaluations:
        s = json.loads((folder / "summary.json").read_text())
        m = s["mean"]
        label = s.get("leak_label") or s.get("protocol", "")
        data = s["dataset"]
        runtime = s.get("runtime", "torch") + (", exposure normalised" if s.get("exposure_normalized") else "")
        rows.append(f"| {data['name']} ({data['split']}) | {label} | {runtime} | {s['n']} | " + " | ".join(
            f"{100 * m[k]:.2f}" for k in ("ACC", "DIC", "JAC", "JAC_th", "SEN", "SPE")) + " |")
    return rows


def augmentation(augment: dict) -> str:
    """The paper's augmentations, plus those beyond it that the run switched on."""
    extra = [text for key, text in (("rot90", "quarter turns"), ("color_p", "colour jitter"),
                                    ("zoom_p", "zoom")) if augment.get(key)]
    return "flips, gamma, CLAHE" + (f"; beyond the paper: {', '.join(extra)}" if extra else "")


def training_kind(train: dict) -> str:
    """How the packaged stage trained: the card must not call GAN-free weights a GAN's."""
    if train.get("adversarial", True):
        return "as a GAN"
    if not train.get("init_generator"):
        return ("without the adversary from start to end (the paper's L1 + Jaccard losses only; "
                "no discriminator took part)")
    return ("without the adversary in its last stage (the paper's L1 + Jaccard losses only; "
            "the note below says which stages had one)")


def optimiser(train: dict) -> str:
    """Adam and the batch as the run had them; called the paper's only where they are."""
    lr = train.get("lr", LEARNING_RATE)
    betas = tuple(train.get("betas", ADAM_BETAS))
    batch = train.get("batch_size", BATCH_SIZE)
    ours = f"Adam at lr {lr:g}, betas {betas[0]:g}/{betas[1]:g}, batch {batch}"
    if (lr, betas, batch) == (LEARNING_RATE, ADAM_BETAS, BATCH_SIZE):
        return f"the paper's optimiser and batch size ({ours})"
    return (f"{ours} (the paper: lr {LEARNING_RATE:g}, betas {ADAM_BETAS[0]:g}/{ADAM_BETAS[1]:g}, "
            f"batch {BATCH_SIZE})")


def used_losses(run_cfg: dict) -> dict:
    """The loss weights that trained the weights: no adversarial weight where no adversary ran."""
    adversarial = run_cfg["train"].get("adversarial", True)
    return {k: v for k, v in run_cfg["loss"].items() if k != "adversarial" or adversarial}


def loss_weights(loss: dict) -> str:
    """The loss weights in words, with which reading of the paper they follow."""
    l1, jaccard = loss.get("l1"), loss.get("jaccard")
    # The text's pair is the library's default (mobilegan.paper); the equation swaps the two.
    reading = {(LAMBDA_L1, LAMBDA_JACCARD): "the paper's text",
               (LAMBDA_JACCARD, LAMBDA_L1): "the paper's equation"}.get((l1, jaccard))
    return f"L1 {l1}, Jaccard {jaccard}" + (f" ({reading})" if reading else "")


def cfg_image_size(run_cfg: dict) -> int:
    return run_cfg.get("data", {}).get("image_size", IMAGE_SIZE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--eval", dest="evaluations", type=Path, nargs="*", default=[])
    parser.add_argument("--note", default="", help="a paragraph on how the run was trained")
    parser.add_argument("--note-file", type=Path, default=None, help="the same, from a file")
    parser.add_argument("--out-dir", type=Path, default=WEIGHTS_DIR,
                        help="where to write (default: the package's weights folder)")
    args = parser.parse_args()
    note = args.note_file.read_text().strip() if args.note_file else args.note
    source = args.run / "best.safetensors"
    model, cfg = load_model(source)
    meta = read_model_info(source)["metadata"]
    splits = json.loads((args.run / "splits.json").read_text())
    run_cfg = json.loads((args.run / "config.json").read_text())
    # The card shows the run folder the recipe names (scripts/reproduce_shipped.sh), not
    # wherever this machine happened to keep it.
    run_cfg["out_dir"] = args.run.as_posix()
    epochs = sum(1 for _ in (args.run / "metrics.csv").open()) - 1
    provenance = {**meta, "protocol": splits["protocol"], "train_ids_sha256": splits["train_ids_sha256"],
                  "n_train": len(splits["train"]), "n_val": len(splits["val"]),
                  "epochs_run": epochs, "loss": used_losses(run_cfg), "packaged": time.strftime("%Y-%m-%d")}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = save_model(model, cfg, args.out_dir / "mobilegan.safetensors", provenance, dtype=torch.float16)
    # The ids travel with the weights: evaluate then flags images they trained on.
    (args.out_dir / "mobilegan.splits.json").write_text(json.dumps(splits, indent=1))
    card = (Path(__file__).with_name("MODEL_CARD.template.md").read_text().format(
        size_mb=out.stat().st_size / 1e6, params=sum(p.numel() for p in model.parameters()),
        config=json.dumps(run_cfg, indent=2), provenance=json.dumps(provenance, indent=2),
        metrics="\n".join(metric_rows(args.evaluations)), note=note,
        augmentation=augmentation(run_cfg.get("augment", {})), how=training_kind(run_cfg["train"]),
        optimiser=optimiser(run_cfg["train"]), image_size=cfg_image_size(run_cfg),
        loss=loss_weights(run_cfg["loss"]),
        kv=cfg.pam_kv_stride, best_epoch=meta.get("epoch"), epochs=epochs, val_jac=100 * meta.get("val_JAC", float("nan"))))
    (args.out_dir / "MODEL_CARD.md").write_text(card)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and {args.out_dir / 'MODEL_CARD.md'}")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Copy what a trained and scored run folder says into a results folder that is committed:
# its record (train_result.json, config.json, metrics.csv, best.json, plus any FILE named
# that exists) and, for eval_test and eval_heldout, summaries, per-image scores and plots of
# numbers. Never weights, never the case figures (they show ISIC images).
#   bash scripts/keep_results.sh RUN DEST [FILE...]
set -uo pipefail
run=$1 dest=$2
shift 2
mkdir -p "$dest"
cp "$run"/{train_result.json,config.json,metrics.csv,best.json} "$dest/"
for file in "$@"; do [ -f "$run/$file" ] && cp "$run/$file" "$dest/"; done
for split in eval_test eval_heldout; do
  [ -d "$run/$split" ] || continue
  mkdir -p "$dest/$split"
  cp "$run/$split"/{summary.json,summary.md,per_image.csv} "$dest/$split/"
  # The case figure stays behind (it shows the dataset's images): say so where it was linked.
  sed -i 's|^!\[cases\](cases.png)$|*cases.png: written by the command, not kept here (it shows the dataset'"'"'s images)*|' \
    "$dest/$split/summary.md"
  cp "$run/$split"/{jac_histogram.png,training_curves.png} "$dest/$split/" 2>/dev/null
done
exit 0

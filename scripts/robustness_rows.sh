#!/usr/bin/env bash
# One model under every perturbation of benchmarks/robustness.py, with and without exposure
# normalisation, on the held-out ISIC 2018 images and the ISIC 2017 test set: its rows of
# RESULTS.md's Table 6 (results/robustness*/NAME/).
#   bash scripts/robustness_rows.sh RUN_OR_WEIGHTS NAME DATA
set -euo pipefail
run=$1 name=$2 data=$3
for set in "isic2018 heldout robustness-heldout" "isic2017 test robustness"; do
  read -r dataset split out <<<"$set"
  python benchmarks/robustness.py "$run" --names "$name" --data "$data/$dataset" --split "$split" \
    --out "results/$out"
  python benchmarks/robustness.py "$run" --names "$name" --normalize-exposure --data "$data/$dataset" \
    --split "$split" --out "results/$out-exposure"
done

#!/usr/bin/env bash
# The shipped weights and every number RESULTS.md holds for them, on a CPU (2 cores: about
# 2.5 hours of training, 20 minutes of scoring). Set TRAIN=0 to score existing runs only.
#   DATA=../shared/data bash scripts/reproduce_shipped.sh
set -euo pipefail
DATA=${DATA:-../shared/data}
TRAIN=${TRAIN:-1}
V1="MobileGAN v1 (CPU, stages 1-2)"
V2="MobileGAN v2 (CPU, stages 1-3)"

if [ "$TRAIN" = 1 ]; then
  mobilegan train --config configs/shipped.json --out runs/shipped-stage1             # best: epoch 3
  mobilegan train --config configs/shipped_stage2.json --set train.epochs=6 --out runs/shipped-stage2
  mobilegan train --config configs/shipped_stage3.json --out runs/shipped-stage3
fi

score() {  # score RUN NAME OUT [evaluate options...]
  local run=$1 name=$2 out=$3; shift 3
  mobilegan evaluate "$run" "$DATA/isic2017" --split test --out "$out/isic2017_test" --name "$name" --no-progress "$@"
  mobilegan evaluate "$run" "$DATA/isic2018" --split heldout --out "$out/isic2018_heldout" --name "$name" --no-progress "$@"
  mobilegan evaluate "$run" "$DATA/isic2017" --split test --postprocess --out "$out/isic2017_test_postprocess" --name "$name" --no-progress
}
score runs/shipped-stage2 "$V1" results/shipped-v1
score runs/shipped-stage3 "$V2" results/shipped --figures
# v2's last epoch too: trained longest with the extra augmentation, but not the one selected.
python benchmarks/robustness.py runs/shipped-stage2 runs/shipped-stage3 runs/shipped-stage3/last.safetensors \
  --names "$V1" "$V2" "MobileGAN v2, last epoch (not shipped)" \
  --data "$DATA/isic2017" --split test --out results/robustness
# The same perturbations on the held-out validation images chose between v1 and v2.
python benchmarks/robustness.py runs/shipped-stage2 runs/shipped-stage3 --names "$V1" "$V2" \
  --data "$DATA/isic2018" --split heldout --out results/robustness-heldout
python benchmarks/calibrate_confidence.py runs/shipped-stage3 "$DATA/isic2018" --limit 200 \
  --json results/shipped/confidence_calibration.json
python scripts/package_weights.py runs/shipped-stage3 --eval results/shipped/isic2017_test \
  results/shipped/isic2018_heldout --note-file results/MODEL_NOTE.md
mobilegan report results/shipped results/shipped-v1 results/robustness results/robustness-heldout \
  --preface results/PREFACE.md --out RESULTS.md

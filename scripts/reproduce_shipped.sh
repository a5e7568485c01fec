#!/usr/bin/env bash
# The shipped weights and every number RESULTS.md holds for them, on a CPU (2 cores: about
# 4 hours of training, 30 minutes of scoring). Set TRAIN=0 to score existing runs only.
#   DATA=../shared/data bash scripts/reproduce_shipped.sh
set -euo pipefail
DATA=${DATA:-../shared/data}
TRAIN=${TRAIN:-1}
V1="MobileGAN v1 (CPU, stages 1-2)"
V2="MobileGAN v2 (CPU, stages 1-3)"
V3="MobileGAN v3 (CPU, stages 1-4)"

if [ "$TRAIN" = 1 ]; then
  mobilegan train --config configs/shipped.json --out runs/shipped-stage1             # best: epoch 3
  mobilegan train --config configs/shipped_stage2.json --set train.epochs=6 --out runs/shipped-stage2
  mobilegan train --config configs/shipped_stage3.json --out runs/shipped-stage3
  mobilegan train --config configs/shipped_stage4.json --out runs/shipped-stage4   # + weight average
  # Stage 3's twin without the adversary (same start v1, recipe, seed): what the GAN adds.
  mobilegan train --config configs/shipped_stage3.json --set train.adversarial=false --out runs/nogan-stage3
  # ... and stage 4's twin from it: the shipped recipe end to end, without the adversary.
  mobilegan train --config configs/shipped_stage4.json --set train.adversarial=false \
    --set train.init_generator=runs/nogan-stage3/best.safetensors --out runs/nogan-stage4
fi

score() {  # score RUN NAME OUT [evaluate options...]
  local run=$1 name=$2 out=$3; shift 3
  mobilegan evaluate "$run" "$DATA/isic2017" --split test --out "$out/isic2017_test" --name "$name" --no-progress "$@"
  mobilegan evaluate "$run" "$DATA/isic2018" --split heldout --out "$out/isic2018_heldout" --name "$name" --no-progress "$@"
  mobilegan evaluate "$run" "$DATA/isic2017" --split test --postprocess --out "$out/isic2017_test_postprocess" --name "$name" --no-progress
}
score runs/shipped-stage2 "$V1" results/shipped-v1
score runs/shipped-stage3 "$V2" results/shipped-v2
score runs/shipped-stage4 "$V3" results/shipped --figures
score runs/nogan-stage3 "Generator without GAN (CPU, stage 3 twin of v2)" results/nogan-stage3
score runs/nogan-stage4 "Generator without GAN (CPU, stages 3-4 twin of v3)" results/nogan-stage4
# Flip test-time augmentation (`--tta`), chosen on the held-out images (+0.8 JAC there).
for set in "isic2017 test" "isic2018 heldout"; do
  read -r name split <<<"$set"
  mobilegan evaluate runs/shipped-stage4 "$DATA/$name" --split "$split" --tta --name "$V3" \
    --out "results/shipped-tta/${name}_$split" --no-progress
done
# Exposure normalisation (`mobilegan segment`'s default, `--normalize-exposure` here), chosen
# on the held-out images: clean, and under every perturbation.
for set in "isic2017 test" "isic2018 heldout"; do
  read -r name split <<<"$set"
  mobilegan evaluate runs/shipped-stage4 "$DATA/$name" --split "$split" --normalize-exposure --name "$V3" \
    --out "results/shipped-exposure/${name}_$split" --no-progress
done
python benchmarks/robustness.py runs/shipped-stage4 --names "$V3" --normalize-exposure \
  --data "$DATA/isic2018" --split heldout --out results/robustness-heldout-exposure
python benchmarks/robustness.py runs/shipped-stage4 --names "$V3" --normalize-exposure \
  --data "$DATA/isic2017" --split test --out results/robustness-exposure
# v2's last epoch too: trained longest with the extra augmentation, but not the one selected.
python benchmarks/robustness.py runs/shipped-stage2 runs/shipped-stage3 runs/shipped-stage3/last.safetensors \
    runs/shipped-stage4 --names "$V1" "$V2" "MobileGAN v2, last epoch (not shipped)" "$V3" \
  --data "$DATA/isic2017" --split test --out results/robustness
# The same perturbations on the held-out validation images chose between v1, v2 and v3.
python benchmarks/robustness.py runs/shipped-stage2 runs/shipped-stage3 runs/shipped-stage4 \
  --names "$V1" "$V2" "$V3" \
  --data "$DATA/isic2018" --split heldout --out results/robustness-heldout
# The low-confidence threshold is chosen on held-out images; the test set only reports it.
python benchmarks/calibrate_confidence.py runs/shipped-stage4 "$DATA/isic2018" \
  --json results/shipped/confidence_calibration.json --plot results/shipped/confidence_calibration.png
python benchmarks/calibrate_confidence.py runs/shipped-stage4 "$DATA/isic2017" --split test --every-image \
  --json results/shipped/confidence_test.json --plot results/shipped/confidence_test.png
python scripts/package_weights.py runs/shipped-stage4 --eval results/shipped/isic2017_test \
  results/shipped/isic2018_heldout --note-file results/MODEL_NOTE.md
# The int8 twin for phone-class CPUs, calibrated on 128 of the weights' training images
# (ids from mobilegan.splits.json), scored with segment's default pipeline (exposure on).
W=src/mobilegan/weights
mobilegan export $W/mobilegan.safetensors --quantize int8 --calibration "$DATA/isic2018" \
  --calibration-split all --check --out $W/mobilegan_int8.onnx
for set in "isic2017 test" "isic2018 heldout"; do
  read -r name split <<<"$set"
  mobilegan evaluate $W/mobilegan_int8.onnx "$DATA/$name" --split "$split" --normalize-exposure \
    --name "$V3, int8" --out "results/shipped-int8/${name}_$split" --no-progress
done
# Again, now with the int8 rows on the card (the weights written are the same bytes).
python scripts/package_weights.py runs/shipped-stage4 --eval results/shipped/isic2017_test \
  results/shipped/isic2018_heldout results/shipped-exposure/isic2017_test \
  results/shipped-exposure/isic2018_heldout results/shipped-int8/isic2017_test \
  results/shipped-int8/isic2018_heldout --note-file results/MODEL_NOTE.md
{ for set in isic2017_test isic2018_heldout; do
    echo; echo "$set:"; echo
    python benchmarks/paired_difference.py results/{shipped,shipped-v2,shipped-v1}/$set --names v3 v2 v1
    echo
    python benchmarks/paired_difference.py results/{shipped-exposure,shipped}/$set --names "v3 + exposure normalisation" v3
    echo
    python benchmarks/paired_difference.py results/{shipped-int8,shipped-exposure}/$set --names "v3 int8" "v3 float32 (both with exposure normalisation)"
    echo
    python benchmarks/paired_difference.py results/{nogan-stage3,shipped-v2}/$set --names "stage 3 without the GAN" "v2 (stage 3 with the GAN)"
    echo
    python benchmarks/paired_difference.py results/{nogan-stage4,shipped}/$set --names "stages 3-4 without the GAN" "v3 (stages 3-4 with the GAN)"
  done; } > results/paired_differences.md
for stage in 1 2 3 4; do  # training curves of every stage
  mkdir -p results/shipped/stage$stage
  cp runs/shipped-stage$stage/{config.json,metrics.csv} results/shipped/stage$stage/
done
for stage in 3 4; do cp runs/nogan-stage$stage/{config.json,metrics.csv} results/nogan-stage$stage/; done
mobilegan report results/shipped results/shipped-tta results/shipped-exposure results/shipped-int8 results/shipped-v2 results/shipped-v1 results/nogan-stage3 results/nogan-stage4 \
  results/robustness results/robustness-heldout results/robustness-exposure results/robustness-heldout-exposure \
  --preface results/PREFACE.md --out RESULTS.md

#!/usr/bin/env bash
# The shipped weights v6 and every number RESULTS.md holds for them: MobileGAN's generator
# trained on a GPU for the paper's 100 epochs (leak-free, no adversary), three training
# seeds, the best on the held-out images shipped. Run after scripts/reproduce_shipped.sh
# (v1-v5, the CPU history, whose rows v6 is compared with).
#
# 1. Training, on a lent GPU (one H200, 2026-11-29; the data carried in devdata/):
#      DEADLINE=540 INFER_TIMEOUT=210 bash scripts/gpu_budget_pair.sh      # seed 0 + the GAN
#      RUNS="nogan_seed1 nogan_seed2" TIME_INFERENCE=0 DEADLINE=320 RESERVE_S=30 \
#        bash scripts/gpu_budget_pair.sh                                    # seeds 1 and 2
#    then unpack the tarballs into runs/h200-100ep/ as generator-nogan_seed{0,1,2} and
#    mobilegan-leakfree (the GAN row).
# 2. On a CPU (2 cores: about 45 minutes): score those runs (PHASE=rows), then ship in two
#    phases, because the low-confidence thresholds are chosen on held-out images between them:
#      PHASE=rows DATA=../shared/data bash scripts/reproduce_v6.sh
#      PHASE=choose DATA=../shared/data bash scripts/reproduce_v6.sh
#      (set segmenter.LOW_CONFIDENCE* to the 20% quantiles of results/v6/confidence_calibration*.json)
#      PHASE=report DATA=../shared/data bash scripts/reproduce_v6.sh
set -euo pipefail
DATA=${DATA:-../shared/data}
PHASE=${PHASE:?PHASE=rows, choose, report or robustness}
case $PHASE in rows|choose|report|robustness) ;; *) echo "PHASE=$PHASE: rows, choose, report or robustness" >&2; exit 2 ;; esac
V6="MobileGAN v6 (H200, generator without GAN, 100 epochs)"
RUNS=runs/h200-100ep
SHIPPED=$RUNS/generator-nogan_seed0
GPU=results/gpu-h200/budget379s-100ep-batch64
W=src/mobilegan/weights
calibrate() { python benchmarks/calibrate_confidence.py $SHIPPED "$@"; }
evaluate() {  # evaluate WEIGHTS NAME SET SPLIT OUT [options...]
  local weights=$1 name=$2 set=$3 split=$4 out=$5; shift 5
  mobilegan evaluate "$weights" "$DATA/$set" --split "$split" --name "$name" --out "$out" --no-progress "$@"
}

heldout_calibration() {  # the confidence scores of the held-out images at each way of running
  calibrate "$DATA/isic2018" --json results/v6/confidence_calibration.json \
    --plot results/v6/confidence_calibration.png
  calibrate "$DATA/isic2018" --samples 8 --json results/v6/confidence_calibration_samples8.json \
    --plot results/v6/confidence_calibration_samples8.png
  for samples in 2 4 16; do
    calibrate "$DATA/isic2018" --samples $samples --json "results/v6/confidence_calibration_samples$samples.json"
  done
  calibrate "$DATA/isic2018" --tta --json results/v6/confidence_calibration_tta.json
  for samples in 2 8; do
    calibrate "$DATA/isic2018" --tta --samples $samples \
      --json "results/v6/confidence_calibration_samples${samples}_tta.json"
  done
}

robustness_rows() {  # v6 under every perturbation, beside v1-v5 in RESULTS.md's Table 6
  bash scripts/robustness_rows.sh $SHIPPED "$V6" "$DATA"
}

if [ "$PHASE" = robustness ]; then robustness_rows; exit 0; fi  # (also part of PHASE=report)

if [ "$PHASE" = rows ]; then  # the GPU runs, each scored and its record kept
  for run in generator-nogan_seed0 generator-nogan_seed1 generator-nogan_seed2 mobilegan-leakfree; do
    name="Generator without GAN, 100 epochs (H200, batch 64, lr 5e-4)"
    [ $run = mobilegan-leakfree ] && name="MobileGAN with its adversary, 100 epochs (H200, batch 64, lr 5e-4)"
    bash scripts/score_run.sh $RUNS/$run "$DATA" --name "$name"
    bash scripts/keep_results.sh $RUNS/$run $GPU/$run train.log
  done
  exit 0
fi

if [ "$PHASE" = choose ]; then
  # The seed to ship, on the held-out images only (seeds 0, 1, 2: 84.41, 84.31, 84.34).
  for s in 0 1 2; do
    python -c "import json,sys; print(sys.argv[1], json.load(open(sys.argv[2]))['mean']['JAC'])" \
      "seed $s" "$GPU/generator-nogan_seed$s/eval_heldout/summary.json"
  done
  evaluate $SHIPPED "$V6" isic2017 test results/v6/isic2017_test --figures
  evaluate $SHIPPED "$V6" isic2018 heldout results/v6/isic2018_heldout
  evaluate $SHIPPED "$V6" isic2017 test results/v6/isic2017_test_postprocess --postprocess
  for set in "isic2017 test" "isic2018 heldout"; do
    read -r name split <<<"$set"
    evaluate $SHIPPED "$V6" "$name" "$split" "results/v6-tta/${name}_$split" --tta
    evaluate $SHIPPED "$V6" "$name" "$split" "results/v6-exposure/${name}_$split" --normalize-exposure
  done
  heldout_calibration  # each threshold: the 20% quantile of the held-out scores, rounded
  # The weights into the package, then their int8 twin (calibrated on 128 training images).
  python scripts/package_weights.py $SHIPPED --eval results/v6/isic2017_test \
    results/v6/isic2018_heldout --note-file results/v6/MODEL_NOTE.md
  mobilegan export $W/mobilegan.safetensors --quantize int8 --calibration "$DATA/isic2018" \
    --calibration-split all --check --out $W/mobilegan_int8.onnx
  for set in "isic2017 test" "isic2018 heldout"; do
    read -r name split <<<"$set"
    evaluate $W/mobilegan_int8.onnx "$V6, int8" "$name" "$split" "results/v6-int8/${name}_$split" \
      --normalize-exposure
  done
  exit 0
fi

# PHASE=report: again on the held-out images, now with the chosen thresholds in the code (the
# JSON files record what each flags there), then on the test set (reported, never chosen there).
heldout_calibration
calibrate "$DATA/isic2017" --split test --every-image --json results/v6/confidence_test.json \
  --plot results/v6/confidence_test.png
calibrate "$DATA/isic2017" --split test --every-image --samples 8 \
  --json results/v6/confidence_test_samples8.json --plot results/v6/confidence_test_samples8.png
for samples in 2 4; do
  calibrate "$DATA/isic2017" --split test --every-image --samples $samples \
    --json "results/v6/confidence_test_samples$samples.json"
done
calibrate "$DATA/isic2017" --split test --every-image --tta --json results/v6/confidence_test_tta.json
calibrate "$DATA/isic2017" --split test --every-image --tta --samples 8 \
  --json results/v6/confidence_test_samples8_tta.json
for set in "isic2018 calibration" "isic2017 test --split test --every-image"; do
  read -r name tag options <<<"$set"
  # shellcheck disable=SC2086  # options split into words on purpose
  calibrate "$DATA/$name" $options --int8 $W/mobilegan_int8.onnx --json "results/v6/confidence_${tag}_int8.json"
done
# The card again, with every row (the weights written are the same bytes).
python scripts/package_weights.py $SHIPPED --eval results/v6/isic2017_test results/v6/isic2018_heldout \
  results/v6-exposure/isic2017_test results/v6-exposure/isic2018_heldout \
  results/v6-int8/isic2017_test results/v6-int8/isic2018_heldout --note-file results/v6/MODEL_NOTE.md
cp $SHIPPED/{config.json,metrics.csv} results/v6/
{ echo "v6 against v5, paired per image (95% CI); held-out chose, test reports (2-core AMD EPYC, $(date -u +%F)):"
  for set in isic2018_heldout isic2017_test; do
    echo; echo "$set:"; echo
    python benchmarks/paired_difference.py results/{v6,v5}/$set --names v6 v5
    echo
    python benchmarks/paired_difference.py results/{v6-tta,v6}/$set --names "v6 + flip TTA" v6
    echo
    python benchmarks/paired_difference.py results/{v6-exposure,v6}/$set --names "v6 + exposure normalisation" v6
    echo
    python benchmarks/paired_difference.py results/{v6-int8,v6-exposure}/$set --names "v6 int8" "v6 float32 (both with exposure normalisation)"
  done; } > results/v6/paired.md
# Three training seeds of the GPU recipe against three of v5's (same split).
for s in heldout test; do
  echo "eval_$s:"; echo
  python benchmarks/seed_comparison.py --set eval_$s --seeds 0 1 2 \
    --arm "100 epochs on an H200, batch 64" $GPU/generator-nogan_seed{0,1,2} \
    --arm "30 epochs on a CPU, batch 8 (v5's recipe)" results/candidate-30ep-equation{,-seed1,-seed2}
  echo
done > results/v6/seeds.md
robustness_rows
mobilegan report $GPU --preface $GPU/PREFACE.md --out $GPU/REPORT.md
# RESULTS.md: every row of this script, of scripts/reproduce_shipped.sh and of scripts/reproduce_side_by_side.sh.
mobilegan report results/v6 results/v6-tta results/v6-exposure results/v6-int8 \
  results/v5 results/v5-tta results/v5-exposure results/v5-int8 \
  results/v4 results/v4-tta results/v4-exposure results/v4-int8 \
  results/v3 results/v3-tta results/v3-exposure results/v3-int8 results/v2 results/v1 results/nogan-stage3 results/gan-stage3-seed11 \
  results/nogan-stage3-seed11 results/gan-stage3-seed21 results/nogan-stage3-seed21 results/v4-recipe-seed22 \
  results/leak-effect results/leak-effect-seed1 results/candidate-long-nogan results/candidate-30ep-nogan results/candidate-30ep-nogan-seed1 results/candidate-30ep-union results/candidate-30ep-bce results/candidate-30ep-equation \
  results/candidate-30ep-equation-seed1 results/candidate-30ep-equation-seed2 results/candidate-30ep-nogan-seed2 \
  results/candidate-30ep-equation-paper results/gpu-h200/budget495s-side-by-side results/candidate-30ep-equation-val2017 \
  results/candidate-v5-stage2 results/candidate-v5-jaccard1 results/robustness results/robustness-heldout results/robustness-exposure results/robustness-heldout-exposure \
  results/robustness-artefacts-heldout results/robustness-artefacts-heldout-exposure \
  results/robustness-artefacts results/robustness-artefacts-exposure \
  --preface results/PREFACE.md --out RESULTS.md

#!/usr/bin/env bash
# Issue 5's rows at v6's recipe, trained side by side on one GPU under one time budget: the
# generator without the GAN on the paper's (leaky) protocol, the U-Net baseline, the
# no-attention and single-scale ablations and input sizes 64 and 256 (leak-free), with v6
# (scripts/reproduce_v6.sh) as the reference row. Also the inference tables and the stage
# profile of the same session.
#
# 1. On a lent GPU (one H200, 2026-11-30; the data carried in devdata/), two calls:
#      TRAIN=0 DEADLINE=210 INFER_TIMEOUT=150 bash scripts/gpu_budget_pair.sh
#      RUNS="nogan-paper unet nogan-noattention nogan-singlescale nogan-size64 nogan-size256" \
#        TIME_INFERENCE=0 THREADS=2 DEADLINE=575 RESERVE_S=75 bash scripts/gpu_budget_pair.sh
#    then unpack the tarballs into runs/h200-side-by-side/, each nogan-X as generator-X.
#    (The U-Net's weights, 124 MB, could not come back; it was scored on the card, as the
#    script now does by itself for weights over 15 MiB.)
# 2. On a CPU (2 cores: about 15 minutes): score the other runs and keep their records
#    (PHASE=rows), then write the report and the paired comparisons (PHASE=report):
#      PHASE=rows DATA=../shared/data bash scripts/reproduce_side_by_side.sh
#      PHASE=report bash scripts/reproduce_side_by_side.sh
set -euo pipefail
DATA=${DATA:-../shared/data}
PHASE=${PHASE:?PHASE=rows or report}
RUNS=runs/h200-side-by-side
GPU=results/gpu-h200/budget495s-side-by-side
ROWS=(generator-paper unet generator-noattention generator-singlescale generator-size64 generator-size256)

if [ "$PHASE" = rows ]; then
  for run in "${ROWS[@]}"; do
    [ "$run" = unet ] || bash scripts/score_run.sh $RUNS/$run "$DATA"  # the U-Net: scored on the card
    bash scripts/keep_results.sh $RUNS/$run $GPU/$run train.log
  done
  exit 0
fi
[ "$PHASE" = report ] || { echo "PHASE=$PHASE: rows or report" >&2; exit 2; }

V6=results/gpu-h200/budget379s-100ep-batch64/generator-nogan_seed0
# What the leak is worth at v6's recipe: the paper-protocol run against v6, split by where
# the leaky run saw each test image.
python benchmarks/leak_breakdown.py $GPU/generator-paper/eval_test $V6/eval_test > $GPU/leak_breakdown.md
# v6 against each row, paired per image (95% CI): held-out images, then the test set.
OTHERS=(unet generator-noattention generator-singlescale generator-size64 generator-size256)
{ for set in eval_heldout eval_test; do
    echo "$set:"; echo
    paths=(); for run in "${OTHERS[@]}"; do paths+=("$GPU/$run/$set"); done
    python benchmarks/paired_difference.py $V6/$set "${paths[@]}" --names v6 "${OTHERS[@]}"
    echo
  done; } > $GPU/paired_vs_v6.md
mobilegan report $GPU $V6 --preface $GPU/PREFACE.md --out $GPU/REPORT.md

#!/usr/bin/env bash
# The ablation and baseline rows of RESULTS.md's Table 4 on a CPU, each trained from scratch
# for the same wall time (BUDGET_S, default 900 s), one after another so none shares the
# cores, then scored on the leak-free ISIC 2017 test set and the held-out ISIC 2018 images.
# About 2 hours on a 2-core CPU. The results go to results/cpu-budget$BUDGET_S/ (no weights,
# no pictures of images), with REPORT.md written from PREFACE.md there.
#   DATA=../shared/data bash scripts/cpu_budget_table.sh
# Rows without the adversary (the architecture alone, as the GAN hurt on the CPU) and
# MobileGAN as a GAN with the shipped weight 0.01; all with the first PAM's keys/values
# pooled 4x (model.pam_kv_stride=4) as shipped. ONLY="unet size64" for a subset; MORE adds
# options to every train call and EVAL_EXTRA to every evaluate call (smoke runs);
# MOBILEGAN is the command (default: mobilegan).
set -uo pipefail
DATA=${DATA:-../shared/data}
BUDGET_S=${BUDGET_S:-900}
RUNS=${RUNS:-runs/cpu-budget$BUDGET_S}
RESULTS=${RESULTS:-results/cpu-budget$BUDGET_S}
MORE=${MORE:-}
MOBILEGAN=${MOBILEGAN:-mobilegan}
PYTHON=${PYTHON:-python3}
GAN_FREE=(generator-nogan singlescale noattention size64 unet size256)
GAN=(mobilegan-leakfree_seed0)
read -ra wanted <<< "${ONLY:-${GAN_FREE[*]} ${GAN[*]}}"
in_list() { local x=$1; shift; for y in "$@"; do [ "$x" = "$y" ] && return 0; done; return 1; }
gan_free=() gan=()
for row in "${wanted[@]}"; do
  if in_list "$row" "${GAN[@]}"; then gan+=("$row"); else gan_free+=("$row"); fi
done

status=0
table() {  # table ROWS... EXTRA: one reproduce_tables.sh call (it skips finished rows)
  local extra=$1; shift
  [ "$#" -eq 0 ] && return 0
  DATA=$DATA BUDGET_S=$BUDGET_S TABLES_DIR=$RUNS ONLY="$*" EXTRA="$extra $MORE" \
    MOBILEGAN=$MOBILEGAN bash "$(dirname "$0")/reproduce_tables.sh" || status=1
}
table "--no-adversary --set model.pam_kv_stride=4" "${gan_free[@]}"
table "--set model.pam_kv_stride=4 --set loss.adversarial=0.01" "${gan[@]}"

mkdir -p "$RESULTS/logs"
cp "$RUNS"/logs/*.log "$RESULTS/logs/" 2>/dev/null
for run in "$RUNS"/*/; do
  row=$(basename "$run")
  [ -f "$run/train_result.json" ] || continue
  bash "$(dirname "$0")/keep_results.sh" "$run" "$RESULTS/$row" train.log
done
# Each row against the full generator without the GAN, image by image (95% intervals).
ref=generator-nogan
if [ -f "$RESULTS/$ref/eval_test/per_image.csv" ]; then
  for split in test heldout; do
    evaluations=("$RESULTS/$ref/eval_$split") names=("$ref")
    for run in "$RESULTS"/*/; do
      row=$(basename "$run")
      [ "$row" != "$ref" ] && [ -f "$run/eval_$split/per_image.csv" ] || continue
      evaluations+=("$run/eval_$split") names+=("$row")
    done
    echo "## $split"
    echo
    "$PYTHON" "$(dirname "$0")/../benchmarks/paired_difference.py" "${evaluations[@]}" --names "${names[@]}"
    echo
  done > "$RESULTS/paired_differences.md" || status=1
fi
preface=()
[ -f "$RESULTS/PREFACE.md" ] && preface=(--preface "$RESULTS/PREFACE.md")
$MOBILEGAN report "$RESULTS" "${preface[@]}" --out "$RESULTS/REPORT.md" || status=1
exit $status

#!/usr/bin/env bash
# Trains and scores every row of RESULTS.md's tables, then writes a report of them.
# Meant for a GPU (about 100 epochs x 10 runs); on a CPU set EPOCHS small and expect hours.
#   DATA=../shared/data EPOCHS=100 bash scripts/reproduce_tables.sh
# The same compute budget for every row instead of a number of epochs, all rows training at
# once (the models are small: one run alone leaves most of a GPU idle):
#   DATA=../shared/data BUDGET_S=330 PARALLEL=1 bash scripts/reproduce_tables.sh
# Other knobs: TABLES_DIR (runs/tables), REPORT (TABLES_DIR/RESULTS_tables.md), ONLY="unet
# size64" (a subset of the rows), MOBILEGAN (the command), EXTRA / EVAL_EXTRA (more options
# for every train / evaluate call, e.g. EXTRA="--set data.limit=16" for a smoke run).
# A run that already finished (train_result.json) is not trained again, nor a finished score;
# one that was interrupted resumes from its last checkpoint (its time budget, if any, counts
# the time it trained before).
set -uo pipefail
DATA=${DATA:-../shared/data}
EPOCHS=${EPOCHS:-100}
TABLES_DIR=${TABLES_DIR:-runs/tables}
REPORT=${REPORT:-$TABLES_DIR/RESULTS_tables.md}
MOBILEGAN=${MOBILEGAN:-mobilegan}
read -ra extra <<< "${EXTRA:-}"
read -ra eval_extra <<< "${EVAL_EXTRA:-}"
common=(--set "data.train_dir=$DATA/isic2018" --set "data.eval_dir=$DATA/isic2017"
        --set "train.epochs=$EPOCHS" --set train.progress=false)
[ -n "${BUDGET_S:-}" ] && common+=(--set "train.time_budget_s=$BUDGET_S")

ALL=(mobilegan-leakfree_seed0 mobilegan-leakfree_seed1 mobilegan-leakfree_seed2 mobilegan-paper
     generator-nogan generator-nogan-paper unet noattention singlescale size64 size256)
read -ra NAMES <<< "${ONLY:-${ALL[*]}}"

options_of() {  # the train options that make each row what it is
  case $1 in
    mobilegan-leakfree_seed*) local s=${1##*seed}
                              echo "--protocol leak-free --set train.seed=$s --set data.seed=$s" ;;
    mobilegan-paper) echo "--protocol paper" ;;                     # Table 1, labelled LEAKY
    generator-nogan) echo "--protocol leak-free --no-adversary" ;;
    # its twin on the paper's protocol: what the leak is worth (benchmarks/leak_breakdown.py)
    generator-nogan-paper) echo "--protocol paper --no-adversary" ;;
    unet)            echo "--protocol leak-free --no-adversary --set model.name=unet" ;;
    noattention)     echo "--protocol leak-free --set model.attention=false" ;;
    singlescale)     echo "--protocol leak-free --set model.multiscale=false" ;;
    size64)          echo "--protocol leak-free --set data.image_size=64" ;;
    size256)         echo "--protocol leak-free --set data.image_size=256" ;;
    *) echo "unknown row $1" >&2; return 1 ;;
  esac
}

train_row() {
  local name=$1 options
  options=$(options_of "$name") || return 1
  # Starts the row, continues it if it was interrupted, or leaves it if it finished.
  # shellcheck disable=SC2086  # options are single words by construction
  $MOBILEGAN train "${common[@]}" "${extra[@]}" $options --out "$TABLES_DIR/$name" \
    --resume-if-interrupted
}

score_row() {
  MOBILEGAN=$MOBILEGAN bash "$(dirname "$0")/score_run.sh" "$TABLES_DIR/$1" "$DATA" "${eval_extra[@]}"
}

for_each_row() {  # for_each_row STEP: one row after another, or all at once with PARALLEL=1
  local step=$1 name failed=()
  declare -A pids=()
  mkdir -p "$TABLES_DIR/logs"
  for name in "${NAMES[@]}"; do
    if [ "${PARALLEL:-0}" = 1 ]; then
      "$step" "$name" > "$TABLES_DIR/logs/$name.$step.log" 2>&1 &
      pids[$name]=$!
    else
      "$step" "$name" 2>&1 | tee "$TABLES_DIR/logs/$name.$step.log" || failed+=("$name")
    fi
  done
  for name in "${!pids[@]}"; do wait "${pids[$name]}" || failed+=("$name"); done
  for name in "${failed[@]}"; do
    echo "$step failed for $name; last lines of $TABLES_DIR/logs/$name.$step.log:" >&2
    tail -5 "$TABLES_DIR/logs/$name.$step.log" >&2
  done
  return "${#failed[@]}"
}

mkdir -p "$TABLES_DIR"
status=0
for_each_row train_row || status=1
for_each_row score_row || status=1
$MOBILEGAN report "$TABLES_DIR" --out "$REPORT" || status=1
exit $status

#!/usr/bin/env bash
# How much of a score on ISIC 2017 test does the paper's protocol owe to the leak? The same
# model, recipe, seed and number of epochs trained twice: on the paper's protocol (ISIC 2018
# training, which holds 529 of the 600 test images) and leak-free (those ids dropped). Both
# are scored on ISIC 2017 test; benchmarks/leak_breakdown.py then splits the test images by
# where the leaky run saw them (its training set, its validation set, never) and compares
# the two models image by image within each group.
#   DATA=../shared/data EPOCHS=18 bash scripts/leak_effect.sh
# The two runs train at once, THREADS cores each (default 1: a 2-core CPU), so both see the
# same machine; a run that finished (train_result.json) is not trained again, and one that
# was interrupted resumes from its last checkpoint (so the pair can span sessions). Copy
# this script elsewhere before a long run if you may edit it meanwhile: bash reads it as
# it goes.
# EXTRA / EVAL_EXTRA add train / evaluate options (smoke runs); MOBILEGAN, PYTHON name the
# commands. Results (no weights, no pictures of images) go to RESULTS, with REPORT.md and
# breakdown.md.
set -uo pipefail
DATA=${DATA:-../shared/data}
EPOCHS=${EPOCHS:-18}
THREADS=${THREADS:-1}
RUNS=${RUNS:-runs/leak-effect}
RESULTS=${RESULTS:-results/leak-effect}
MOBILEGAN=${MOBILEGAN:-mobilegan}
PYTHON=${PYTHON:-python3}
read -ra extra <<< "${EXTRA:-}"
read -ra eval_extra <<< "${EVAL_EXTRA:-}"
# The architecture alone (the adversary hurt on the CPU), PAM keys/values pooled 4x as
# shipped, the paper's lr with a cosine decay over the run, the paper's augmentation.
common=(--no-adversary --set "data.train_dir=$DATA/isic2018" --set "data.eval_dir=$DATA/isic2017"
        --set "train.epochs=$EPOCHS" --set train.lr_schedule=cosine --set model.pam_kv_stride=4
        --set "train.num_threads=$THREADS" --set train.progress=false --set train.overlay_every=100)
mkdir -p "$RUNS/logs"
status=0
pids=()
for protocol in leak-free paper; do
  # Starts the run, continues it if a session ended it, or leaves it if it finished.
  $MOBILEGAN train "${common[@]}" "${extra[@]}" --protocol "$protocol" \
    --out "$RUNS/$protocol" --resume-if-interrupted >> "$RUNS/logs/$protocol.train.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || status=1; done

NAME=${NAME:-Generator without GAN, $EPOCHS epochs from scratch}  # the report's row name
score() {  # score RUN: ISIC 2017 test and the run's own held-out ISIC 2018 images
  MOBILEGAN=$MOBILEGAN bash "$(dirname "$0")/score_run.sh" "$1" "$DATA" --name "$NAME" "${eval_extra[@]}"
}
mkdir -p "$RESULTS"
for protocol in leak-free paper; do
  run=$RUNS/$protocol
  score "$run" || { status=1; continue; }
  bash "$(dirname "$0")/keep_results.sh" "$run" "$RESULTS/$protocol" splits.json
  cp "$RUNS/logs/$protocol.train.log" "$RESULTS/$protocol/" 2>/dev/null
done
if [ -f "$RESULTS/paper/eval_test/per_image.csv" ] && [ -f "$RESULTS/leak-free/eval_test/per_image.csv" ]; then
  "$PYTHON" "$(dirname "$0")/../benchmarks/leak_breakdown.py" "$RESULTS/paper/eval_test" \
    "$RESULTS/leak-free/eval_test" > "$RESULTS/breakdown.md" || status=1
fi
preface=()
[ -f "$RESULTS/PREFACE.md" ] && preface=(--preface "$RESULTS/PREFACE.md")
$MOBILEGAN report "$RESULTS" "${preface[@]}" --out "$RESULTS/REPORT.md" || status=1
exit $status

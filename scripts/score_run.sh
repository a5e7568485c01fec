#!/usr/bin/env bash
# Score one trained run folder where every table of this project scores it: ISIC 2017 test
# (with figures) into RUN/eval_test and the run's own held-out ISIC 2018 images into
# RUN/eval_heldout. A score already written is kept, so an interrupted script can rerun it,
# but only when it is whole (no --limit), newer than the weights, and made by this script
# with the same EVALUATE OPTIONs (recorded in OUT/.score_run_options): a smoke score or one
# under another --name or threshold was kept before, silently.
#   bash scripts/score_run.sh RUN DATA [EVALUATE OPTION...]   (e.g. --name "row name")
# MOBILEGAN names the command.
set -uo pipefail
run=$1 data=$2
shift 2
MOBILEGAN=${MOBILEGAN:-mobilegan}
[ -f "$run/best.safetensors" ] || { echo "$run: no weights to score" >&2; exit 1; }
options=$(printf '%q ' "$@")
kept() {  # OUT: its score can stand for this call
  [ -f "$1/summary.json" ] && [ "$1/summary.json" -nt "$run/best.safetensors" ] &&
    [ "$(cat "$1/.score_run_options" 2>/dev/null)" = "$options" ] &&
    ! grep -q '"limit": [0-9]' "$1/summary.json"
}
score() {  # OUT EVALUATE-ARGUMENTS...: score, then record the options it was made with
  local out=$1
  shift
  kept "$out" && return 0
  rm -f "$out/.score_run_options"
  $MOBILEGAN evaluate "$@" --out "$out" --no-progress && printf '%s' "$options" > "$out/.score_run_options"
}
score "$run/eval_test" "$run" "$data/isic2017" --split test --figures "$@" || exit 1
score "$run/eval_heldout" "$run" "$data/isic2018" --split heldout "$@"

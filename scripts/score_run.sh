#!/usr/bin/env bash
# Score one trained run folder where every table of this project scores it: ISIC 2017 test
# (with figures) into RUN/eval_test and the run's own held-out ISIC 2018 images into
# RUN/eval_heldout. A score already written is kept, so an interrupted script can rerun it.
#   bash scripts/score_run.sh RUN DATA [EVALUATE OPTION...]   (e.g. --name "row name")
# MOBILEGAN names the command.
set -uo pipefail
run=$1 data=$2
shift 2
MOBILEGAN=${MOBILEGAN:-mobilegan}
[ -f "$run/best.safetensors" ] || { echo "$run: no weights to score" >&2; exit 1; }
[ -f "$run/eval_test/summary.json" ] || $MOBILEGAN evaluate "$run" "$data/isic2017" --split test \
  --out "$run/eval_test" --figures --no-progress "$@" || exit 1
[ -f "$run/eval_heldout/summary.json" ] || $MOBILEGAN evaluate "$run" "$data/isic2018" \
  --split heldout --out "$run/eval_heldout" --no-progress "$@"

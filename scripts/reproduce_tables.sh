#!/usr/bin/env bash
# Trains and scores every row of RESULTS.md's tables, then writes RESULTS.md.
# Meant for a GPU (about 100 epochs x 10 runs); on a CPU set EPOCHS small and expect hours.
#   DATA=../shared/data EPOCHS=100 bash scripts/reproduce_tables.sh
set -euo pipefail
DATA=${DATA:-../shared/data}
EPOCHS=${EPOCHS:-100}
OUT=${OUT:-runs/tables}
common=(--set "data.train_dir=$DATA/isic2018" --set "data.eval_dir=$DATA/isic2017" --set "train.epochs=$EPOCHS"
        --set train.progress=false)

run() {  # run NAME [train options...]
  local name=$1; shift
  [ -f "$OUT/$name/metrics.csv" ] && [ -f "$OUT/$name/eval_test/summary.json" ] && return 0
  mobilegan train "${common[@]}" "$@" --out "$OUT/$name"
  mobilegan evaluate "$OUT/$name" "$DATA/isic2017" --split test --out "$OUT/$name/eval_test" --figures --no-progress
  mobilegan evaluate "$OUT/$name" "$DATA/isic2018" --split heldout --out "$OUT/$name/eval_heldout" --no-progress
}

for seed in 0 1 2; do                                   # headline rows, mean +- std over seeds
  run "mobilegan-leakfree_seed$seed" --protocol leak-free --set "train.seed=$seed" --set "data.seed=$seed"
done
run mobilegan-paper --protocol paper                   # Table 1 (labelled LEAKY)
run generator-nogan --protocol leak-free --no-adversary
run unet --protocol leak-free --no-adversary --set model.name=unet
run noattention --protocol leak-free --set model.attention=false
run singlescale --protocol leak-free --set model.multiscale=false
run size64 --protocol leak-free --set data.image_size=64
run size256 --protocol leak-free --set data.image_size=256
mobilegan report "$OUT" --out RESULTS.md

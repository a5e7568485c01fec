#!/usr/bin/env bash
# Everything that needs the GPU, as one call of a lent machine (DEADLINE, 9 minutes):
#   1. benchmarks/train_speed.py and benchmarks/infer_speed.py (batch 64, bf16) on the card;
#   2. every row of scripts/reproduce_tables.sh, all rows training at once under the same
#      time budget (BUDGET_S seconds each; default: what the deadline leaves), then scored on ISIC 2017 test and the held-out 20%;
#   3. logs, evaluations and the leak-free weights packed into $OUT (at most 8 files).
# The data travel in devdata/ (git-ignored): isic2018 and the ISIC 2017 test set, e.g.
#   mkdir -p devdata/isic2017 && cp -r ../shared/data/isic2018 devdata/ &&
#   cp -r ../shared/data/isic2017/ISIC-2017_Test_v2_* devdata/isic2017/
# Run locally as a smoke test with SMOKE=1 (CPU, a few steps, OUT=some/folder).
set -uo pipefail
: "${OUT:?OUT must name the folder whose files come back}"
DATA=${DATA:-devdata}
DEADLINE=${DEADLINE:-540}  # seconds from the start by which everything is packed
DEVICE=${DEVICE:-cuda}
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
export MOBILEGAN="python3 -m mobilegan.cli.main"
WORK=${WORK:-gpu_work}
mkdir -p "$OUT" "$WORK"
exec > >(tee -a "$OUT/log.txt") 2>&1

pack() {
  echo "== packing at ${SECONDS}s"
  tar czf "$OUT/results.tar.gz" --exclude=checkpoints --exclude='*.safetensors' --exclude=events \
    --exclude=overlays --exclude=cases.png \
    --exclude=steps.csv "$WORK"
  tar czf "$OUT/steps.tar.gz" $(find "$WORK" -name steps.csv) 2>/dev/null
  for seed in 0 1 2; do
    run=$WORK/tables/mobilegan-leakfree_seed$seed
    [ -f "$run/best.safetensors" ] && cp "$run/best.safetensors" "$OUT/leakfree_seed$seed.safetensors"
  done
  ls -la "$OUT"
}
trap pack EXIT

bash "$(dirname "$0")/gpu_check.sh" "$DATA" || exit 1

if [ "${SMOKE:-0}" = 1 ]; then
  BENCH=(--steps 1 --warmup 0 --models "U-Net" --batches 2)
  INFER=(--iters 2 --warmup 1 --batch 2)
  export EXTRA="${EXTRA:-} --set data.limit=16 --set data.val_limit=8 --set train.max_steps=2 --set train.batch_size=4 --set train.device=$DEVICE"
  export EVAL_EXTRA="--limit 8 --device $DEVICE"
else
  BENCH=(--steps 10 --warmup 3)
  INFER=(--iters 50 --warmup 5 --batch 64 --bf16)
  export EVAL_EXTRA="--batch-size 8"
fi
# INFER_COMPILE=1 adds torch.compile rows (COMPILE_MODE, default reduce-overhead: CUDA
# graphs); compiling three networks takes minutes, so give it INFER_TIMEOUT=300 or so.
[ "${INFER_COMPILE:-0}" = 1 ] && INFER+=(--compile --compile-mode "${COMPILE_MODE:-reduce-overhead}")
# NHWC rows (cuDNN's tensor-core layout; bf16 convolutions in NCHW pay for transposes).
[ "${INFER_CHANNELS_LAST:-1}" = 1 ] && INFER+=(--channels-last)
echo "== benchmarks at ${SECONDS}s"
[ "${TRAIN_SPEED:-1}" = 1 ] &&
  timeout 120 python3 benchmarks/train_speed.py --device "$DEVICE" "${BENCH[@]}" | tee "$WORK/train_speed.md"
[ "${INFER_SPEED:-1}" = 1 ] &&
  timeout "${INFER_TIMEOUT:-90}" python3 benchmarks/infer_speed.py --device "$DEVICE" --no-onnx --threads 4 "${INFER[@]}" \
  | tee "$WORK/infer_speed.md"

# What is left, less RESERVE_S for loading the data, scoring and packing, is each run's budget.
BUDGET_S=${BUDGET_S:-$((DEADLINE - SECONDS - ${RESERVE_S:-150}))}
echo "== tables at ${SECONDS}s (budget ${BUDGET_S}s per run, all at once)"
TABLES_DIR=$WORK/tables DATA=$DATA BUDGET_S=$BUDGET_S PARALLEL=1 REPORT=$WORK/RESULTS_gpu.md \
  timeout $((DEADLINE - SECONDS - 10)) bash scripts/reproduce_tables.sh
echo "== tables done at ${SECONDS}s (exit $?)"
nvidia-smi --query-gpu=name,memory.used,utilization.gpu --format=csv 2>/dev/null
for f in "$WORK"/tables/*/train_result.json; do echo "$f: $(tr -d '\n ' < "$f")"; done

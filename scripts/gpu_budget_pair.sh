#!/usr/bin/env bash
# One call of a lent GPU (DEADLINE seconds, 9 minutes), two measurements:
#   1. inference throughput at batch 64 in bf16 (issue 6's GPU check): MobileGAN as shipped
#      (and its twin with the attention maths in bf16) and the U-Net, eager (NCHW and NHWC)
#      and through torch.compile with CUDA graphs, plain and frozen; the shipped generator's
#      time stage by stage and its compiled kernels (benchmarks/stage_profile.py); what bf16
#      attention does to the held-out masks (benchmarks/bf16_attention.py, into the log).
#      TRAIN=0 makes this the whole call, each step within DEADLINE;
#   2. training runs side by side on the card under one time budget (by default the
#      generator without the GAN and MobileGAN with its adversary; RUNS below), leak-free
#      protocol, the settings of configs/candidate_30ep_equation.json but batch BATCH (64) at
#      lr LR (5e-4, about sqrt(8) x the paper's 2e-4 for 8x the batch), EPOCHS epochs or the
#      budget, whichever ends first, with the cosine decay ending with it
#      (train.schedule_over_budget). A run needs about 20 s beyond its budget (loading the
#      data, the last validation), so keep RESERVE_S at 45 or more.
# Scoring is left to the CPU at home (scripts/score_run.sh on the weights that come back),
# except for weights too large to come back (the U-Net's), which are scored on the card.
# The data travel in devdata/ (git-ignored): isic2018 and the ISIC 2017 test set, e.g.
#   mkdir -p devdata/isic2017 && cp -r ../shared/data/isic2018 devdata/ &&
#   cp -r ../shared/data/isic2017/ISIC-2017_Test_v2_* devdata/isic2017/
# Smoke test on a CPU: SMOKE=1 DEVICE=cpu DATA=../shared/data OUT=/tmp/out bash scripts/gpu_budget_pair.sh
# RUNS names the rows trained side by side (default "nogan gan"), each ROW[-VARIANT...][_seedN]:
# ROW is nogan (the generator alone), gan (with the adversary) or unet; the variants are paper
# (the paper's leaky protocol), noattention, singlescale, size64 and size256; "_seedN" sets
# train.seed=N. TIME_INFERENCE=0 skips the inference tables, e.g. RUNS="nogan_seed1 nogan_seed2"
# TIME_INFERENCE=0 for more seeds of a row already timed, or RUNS="nogan-paper unet" for issue 5's
# Table 1 rows at v6's recipe. TRAIN=0 times inference alone (a short first call, so that the
# training call after it can take whatever device time is left); THREADS sets each run's CPU
# threads (default 4; 2 when six runs share the 16 cores).
set -uo pipefail
: "${OUT:?OUT must name the folder whose files come back}"
DATA=${DATA:-devdata}
DEADLINE=${DEADLINE:-540}  # seconds from the start by which everything is packed
DEVICE=${DEVICE:-cuda} TIME_INFERENCE=${TIME_INFERENCE:-1} TRAIN=${TRAIN:-1} THREADS=${THREADS:-4}
BATCH=${BATCH:-64} LR=${LR:-0.0005} EPOCHS=${EPOCHS:-100}
WORK=${WORK:-gpu_work}
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
export PYTHON=${PYTHON:-python3}  # the device's python3 holds torch
MOBILEGAN="$PYTHON -m mobilegan.cli.main"
read -r -a RUNS <<< "${RUNS:-nogan gan}"
[ "$TRAIN" = 0 ] && RUNS=()
run_options() {  # the options a row's name asks for: ROW[-VARIANT...][_seedN]
  local name=$1 word words
  if [[ $1 =~ ^(.*)_seed([0-9]+)$ ]]; then
    name=${BASH_REMATCH[1]}
    echo --set "train.seed=${BASH_REMATCH[2]}"
  fi
  if [[ $name == *_* || $name == -* || $name == *- || $name == *--* ]]; then
    echo "cannot read the row '$1' (ROW[-VARIANT...][_seedN], e.g. nogan-paper_seed1)" >&2
    return 1
  fi
  IFS=- read -r -a words <<< "$name"
  case ${words[0]} in
    nogan) ;;
    gan) echo --set train.adversarial=true ;;
    unet) echo --set model.name=unet ;;  # trained alone, as the generator without the GAN
    *) echo "unknown row '${words[0]}' in '$1' (nogan, gan or unet)" >&2; return 1 ;;
  esac
  for word in "${words[@]:1}"; do
    case $word in
      paper) echo --protocol paper ;;  # Table 1's LEAKY row: the ISIC 2017 test ids kept
      noattention) echo --set model.attention=false ;;
      singlescale) echo --set model.multiscale=false ;;
      size64|size256) echo --set "data.image_size=${word#size}" ;;
      *) echo "unknown variant '$word' in '$1' (paper, noattention, singlescale, size64, size256)" >&2
         return 1 ;;
    esac
  done
}
for run in "${RUNS[@]}"; do run_options "$run" > /dev/null || exit 2; done  # before any run starts
# The device returns at most 8 files of 16 MiB: one per run, the log, three inference tables.
files=$((${#RUNS[@]} + 1 + 3 * (TIME_INFERENCE != 0)))
[ "$files" -le 8 ] || { echo "$files files to bring back, 8 come back: fewer RUNS or TIME_INFERENCE=0" >&2; exit 2; }
# Seconds a step may take: its own limit, or what is left before DEADLINE (10 s kept for
# packing), whichever is less; at least 1 (timeout 0 would mean no limit at all).
upto() { local left=$((DEADLINE - SECONDS - 10)); echo $(( $1 < left ? $1 : (left > 1 ? left : 1) )); }
too_big() { [ -f "$1" ] && [ "$(stat -c %s "$1")" -gt $((${WEIGHTS_LIMIT_MB:-15} * 1024 * 1024)) ]; }
mkdir -p "$OUT" "$WORK"
exec > >(tee -a "$OUT/log.txt") 2>&1

pack() {
  echo "== packing at ${SECONDS}s"
  # Only tables this call made: a reused WORK folder may hold an earlier call's.
  [ "$TIME_INFERENCE" != 0 ] && cp "$WORK"/{infer_speed_eager,infer_speed_compiled,stage_profile}.md "$OUT/" 2>/dev/null
  for run in "${RUNS[@]}"; do
    local heavy=()  # weights over the size of one returned file stay here, scored (see train)
    too_big "$WORK/$run/best.safetensors" && heavy=(--exclude=best.safetensors)
    [ -d "$WORK/$run" ] && tar czf "$OUT/$run.tar.gz" -C "$WORK" --exclude=checkpoints \
      --exclude=events --exclude=overlays --exclude="last.*" "${heavy[@]}" "$run" "$run.log"
  done
  ls -la "$OUT"
  find "$OUT" -type f -size +16M -printf "warning: %f is over 16 MiB and will not come back\n"
}
trap pack EXIT

bash "$(dirname "$0")/gpu_check.sh" "$DATA" || exit 1

if [ "${SMOKE:-0}" = 1 ]; then
  INFER=(--iters 2 --warmup 1 --batch 2 --size 32)
  PROFILE=(--iters 1 --warmup 1 --batch 2 --size 32 --kernels 3)
  PAD=(--iters 1 --turns 1 --batch 2 --size 32)
  TRAIN_EXTRA=(--set data.limit=16 --set data.val_limit=8 --set train.batch_size=4)
  SCORE_EXTRA=(--limit 8)
  BUDGET_S=${BUDGET_S:-20}
else
  INFER=(--iters 50 --warmup 5 --batch 64 --bf16)
  PROFILE=(--iters 20 --warmup 5 --batch 64 --bf16 --kernels 15 --compiled)
  PAD=(--iters 20 --turns 2 --batch 64 --bf16)
  TRAIN_EXTRA=(--set "train.batch_size=$BATCH")
  SCORE_EXTRA=()
fi
INFER+=(--device "$DEVICE" --no-onnx --threads 4 --models shipped U-Net)

if [ "$TIME_INFERENCE" != 0 ]; then
  echo "== inference at ${SECONDS}s"
  # Eager first, alone: if compiling runs past its limit, this table still comes back.
  timeout "$(upto 90)" "$PYTHON" benchmarks/infer_speed.py "${INFER[@]}" --channels-last | tee "$WORK/infer_speed_eager.md"
  # Where the shipped generator's time goes, stage by stage (issue 6: 0.60-0.62x the U-Net).
  timeout "$(upto 120)" "$PYTHON" benchmarks/stage_profile.py "${PROFILE[@]}" --device "$DEVICE" --threads 4 \
    | tee "$WORK/stage_profile.md"
  # PAM's queries and keys padded for the fused kernels (2026-11-30) against the plain
  # widths, shipped and paper networks eager (into the log).
  timeout "$(upto 60)" "$PYTHON" benchmarks/pam_padding.py "${PAD[@]}" --device "$DEVICE" --threads 4
  # Does leaving the attention maths in bf16 (the speed option timed below) change the masks?
  timeout "$(upto 90)" "$PYTHON" benchmarks/bf16_attention.py src/mobilegan/weights/mobilegan.safetensors \
    "$DATA/isic2018" --device "$DEVICE" "${SCORE_EXTRA[@]}"
  # Compiled plain and frozen (batch norms folded into the convolutions; 2026-11-30's
  # "frozen" rows were not frozen, see infer_speed._compiled), NCHW only: NHWC did not help
  # compiled networks (2026-11-29); each compile of MobileGAN costs about 35 s.
  timeout "$(upto "${INFER_TIMEOUT:-270}")" "$PYTHON" benchmarks/infer_speed.py "${INFER[@]}" \
    --compile --freeze --compile-mode "${COMPILE_MODE:-reduce-overhead}" | tee "$WORK/infer_speed_compiled.md"
fi
[ "$TRAIN" = 0 ] && exit 0

# What is left, less RESERVE_S for loading the data, the last validation and packing.
BUDGET_S=${BUDGET_S:-$((DEADLINE - SECONDS - ${RESERVE_S:-70}))}
[ "${RESERVE_S:-70}" -ge 45 ] || echo "warning: RESERVE_S=$RESERVE_S leaves a run too little time to finish after its budget (2026-11-29: 30 s, and both runs were stopped by the timeout while exiting)"
echo "== training at ${SECONDS}s: ${RUNS[*]} side by side, ${BUDGET_S}s each"
train() {
  local name=$1; shift
  timeout $((DEADLINE - SECONDS - 15)) $MOBILEGAN train --config configs/candidate_30ep_equation.json \
    --set "data.train_dir=$DATA/isic2018" --set "data.eval_dir=$DATA/isic2017" \
    --set "train.device=$DEVICE" --set "train.lr=$LR" --set "train.epochs=$EPOCHS" \
    --set "train.time_budget_s=$BUDGET_S" --set train.schedule_over_budget=true \
    --set "train.num_threads=$THREADS" --set train.overlay_every=1000 "${TRAIN_EXTRA[@]}" "$@" \
    --out "$WORK/$name" > "$WORK/$name.log" 2>&1
  echo "$name: exit $? at ${SECONDS}s; $(tr -d '\n ' < "$WORK/$name/train_result.json" 2>/dev/null)"
  if too_big "$WORK/$name/best.safetensors"; then
    # The U-Net's float32 weights (124 MB) cannot come back (2026-11-30): score them here,
    # where scripts/score_run.sh would at home, and bring the scores back instead.
    score_here "$name" "$DATA/isic2017" test eval_test
    score_here "$name" "$DATA/isic2018" heldout eval_heldout
    echo "$name: weights too large to bring back, scored here: $(grep -h "images scored" "$WORK/$name.log" | tr "\n" " ")"
  fi
}
score_here() {  # NAME SET SPLIT OUT: each evaluation within what is left of DEADLINE
  local left=$((DEADLINE - SECONDS - 10))
  if [ "$left" -lt 10 ]; then
    echo "$1: no time left to score $3 here (${left}s before packing)"
    return 1
  fi
  timeout "$left" $MOBILEGAN evaluate "$WORK/$1" "$2" --split "$3" --out "$WORK/$1/$4" \
    --device "$DEVICE" --no-progress "${SCORE_EXTRA[@]}" >> "$WORK/$1.log" 2>&1
}
pids=()
for run in "${RUNS[@]}"; do
  # shellcheck disable=SC2046  # the options split into words on purpose
  train "$run" $(run_options "$run") & pids+=($!)
done
wait "${pids[@]}"  # by pid: a bare wait would also wait for the log's tee
nvidia-smi --query-gpu=name,memory.used --format=csv 2>/dev/null
for run in "${RUNS[@]}"; do echo "== $run"; tail -3 "$WORK/$run/metrics.csv" 2>/dev/null; done

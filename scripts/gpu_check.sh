#!/usr/bin/env bash
# The first lines of every lent-GPU call: which card, whether torch sees it, whether the
# carried data arrived. Exits non-zero (so the call stops early, cheaply) when either fails.
#   bash scripts/gpu_check.sh DATA
set -uo pipefail
echo "== $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null)"
"${PYTHON:-python3}" -c "import torch, mobilegan; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" || exit 1
ls "$1"/isic2018 "$1"/isic2017 || exit 1

#!/usr/bin/env bash
# Train the LIM-Net modules in parallel on one GPU (used on the lent H100).
# Usage: OUT=/some/dir SECONDS_BUDGET=420 [RESUME=1] [MODULES="interaction propagation fusion"] bash scripts/train_gpu.sh
# With RESUME=1, training continues from the shipped weights and appends to their records.
# Leaves $OUT/limnet_weights.tgz (weights, training records, histories, logs).
set -u
export PYTHONPATH="$PWD/src" PYTHONUNBUFFERED=1
S=${SECONDS_BUDGET:-420}
MODULES=${MODULES:-"interaction propagation fusion"}
W=/tmp/limnet_w
mkdir -p "$W"
RES=""
if [ "${RESUME:-0}" = 1 ]; then
  cp src/napari_limnet/weights/*.pt src/napari_limnet/weights/*.json "$W/"
  RES="--resume"
fi
python3 -c "import torch, numpy, scipy; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
declare -A ARGS=(
  [interaction]="--batch 512 --lr ${LR_INTERACTION:-2e-3}"
  [propagation]="--batch 128 --clip 10 --lr ${LR_PROPAGATION:-1e-3}"
  [fusion]="--batch 1024 --lr ${LR_FUSION:-1e-3}"
)
for m in $MODULES; do
  timeout $((S + 120)) python3 -m napari_limnet.training.train_$m --seconds "$S" ${ARGS[$m]} $RES --out "$W" --log-every 30 > "$W/$m.log" 2>&1 &
done
wait
nvidia-smi --query-gpu=name,memory.used --format=csv
tar czf "$OUT/limnet_weights.tgz" -C "$W" .
for f in "$W"/*.log; do echo "== $f"; head -n 2 "$f"; tail -n 3 "$f"; done

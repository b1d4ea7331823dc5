#!/usr/bin/env bash
# Train the three LIM-Net modules in parallel on one GPU (used on the lent H100).
# Usage: OUT=/some/dir SECONDS_BUDGET=420 bash scripts/train_gpu.sh
# Leaves $OUT/limnet_weights.tgz (weights, training records, histories, logs).
set -u
export PYTHONPATH="$PWD/src" PYTHONUNBUFFERED=1
S=${SECONDS_BUDGET:-420}
W=/tmp/limnet_w
mkdir -p "$W"
python3 -c "import torch, numpy, scipy; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
timeout $((S + 90)) python3 -m napari_limnet.training.train_interaction --seconds "$S" --batch 128 --out "$W" --log-every 30 > "$W/interaction.log" 2>&1 &
timeout $((S + 90)) python3 -m napari_limnet.training.train_propagation --seconds "$S" --batch 32 --clip 10 --out "$W" --log-every 30 > "$W/propagation.log" 2>&1 &
timeout $((S + 90)) python3 -m napari_limnet.training.train_fusion --seconds "$S" --batch 256 --out "$W" --log-every 30 > "$W/fusion.log" 2>&1 &
wait
nvidia-smi --query-gpu=name,memory.used --format=csv
tar czf "$OUT/limnet_weights.tgz" -C "$W" .
for f in "$W"/*.log; do echo "== $f"; head -n 2 "$f"; tail -n 4 "$f"; done

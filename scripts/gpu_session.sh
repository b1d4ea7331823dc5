#!/usr/bin/env bash
# Everything a lent GPU window is used for, in one call, within DEADLINE_S seconds:
#   A. training throughput before/after + profile   -> training/throughput.json, training/profile.md
#   B. scripts/gpu_check.sh (CUDA inference check)   -> speed/gpu_check.{json,log}, speed/speed_cuda.json
#   C. resumed training of interaction and propagation (fast pipeline, real volumes in the mix) and,
#      in parallel, a synthetic-only propagation run as the real-data ablation -> weights/, weights_synthetic/
# Leaves $OUT/{interaction,propagation,propagation_synthetic}.pt, $OUT/results.tgz (records, logs, reports)
# and $OUT/session.log.
# Needs: .baseline/src (the previous main's src, for "before") and .train_data/real_train.npz
#   (python -m napari_limnet.data.real_volumes --pack .train_data/real_train.npz), both carried.
# Usage: OUT=/some/dir [DEADLINE_S=560] [DEVICE=cuda] [SCALE=1] bash scripts/gpu_session.sh
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src" PYTHONUNBUFFERED=1
DEADLINE_S=${DEADLINE_S:-560}
DEVICE=${DEVICE:-cuda}
SCALE=${SCALE:-1}
REAL=.train_data/real_train.npz
R=/tmp/limnet_results
rm -rf "$R"; mkdir -p "$R/training" "$R/speed" "$R/weights" "$R/weights_synthetic"
START=$(date +%s)
left() { echo $((DEADLINE_S - ($(date +%s) - START))); }
scaled() { python3 -c "print(max(2, int($1 * $SCALE)))"; }
exec > >(tee "$OUT/session.log") 2>&1
python3 -c "import torch, numpy, scipy; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv 2>/dev/null

echo "== A. throughput (left $(left) s)"
[ "${SKIP_A:-0}" = 1 ] || timeout 200 python3 benchmarks/train_throughput.py --device "$DEVICE" --baseline .baseline/src --seconds "${TP_SECONDS:-12}" \
  --batch-scale "$SCALE" --real "$REAL" --out "$R/training" || echo "A failed"

echo "== B. gpu_check (left $(left) s)"
if [ "$DEVICE" = cuda ]; then OUT="$R/speed" timeout 170 bash scripts/gpu_check.sh || echo "B failed"; fi

echo "== C. training (left $(left) s)"
BUDGET=$(( $(left) - 45 ))
if [ "$BUDGET" -gt 30 ]; then
  cp src/napari_limnet/weights/*.pt src/napari_limnet/weights/*.json "$R/weights/"
  cp src/napari_limnet/weights/propagation*.json src/napari_limnet/weights/propagation.pt "$R/weights_synthetic/"
  COMMON="--device $DEVICE --resume --seconds $BUDGET --log-every 30 --refresh-every 4"
  timeout $((BUDGET + 40)) python3 -m napari_limnet.training.train_interaction $COMMON --out "$R/weights" \
    --batch "$(scaled 1024)" --lr 1e-3 --bank "$(scaled 2048)" --refresh-batch "$(scaled 256)" \
    --real "$REAL" --real-fraction 0.3 > "$R/weights/interaction.log" 2>&1 &
  PIDS="$!"
  timeout $((BUDGET + 40)) python3 -m napari_limnet.training.train_propagation $COMMON --out "$R/weights" \
    --batch "$(scaled 256)" --clip 10 --lr 7e-4 --bank "$(scaled 768)" --refresh-batch "$(scaled 64)" \
    --real "$REAL" --real-fraction 0.3 > "$R/weights/propagation.log" 2>&1 &
  PIDS="$PIDS $!"
  timeout $((BUDGET + 40)) python3 -m napari_limnet.training.train_propagation $COMMON --out "$R/weights_synthetic" \
    --batch "$(scaled 256)" --clip 10 --lr 7e-4 --bank "$(scaled 768)" --refresh-batch "$(scaled 64)" \
    > "$R/weights_synthetic/propagation.log" 2>&1 &
  PIDS="$PIDS $!"
  wait $PIDS  # not a bare wait: that would also wait for the tee of the log
  for f in "$R"/weights*/*.log; do echo "-- $f"; head -n 3 "$f"; tail -n 2 "$f"; done
else
  echo "no time left for training"
fi
nvidia-smi --query-gpu=name,memory.used --format=csv 2>/dev/null
echo "== done in $(( $(date +%s) - START )) s"
# weights as separate files (the tool returns files of at most 16 MiB each), the rest in one archive
cp "$R/weights/interaction.pt" "$OUT/interaction.pt" 2>/dev/null
cp "$R/weights/propagation.pt" "$OUT/propagation.pt" 2>/dev/null
cp "$R/weights_synthetic/propagation.pt" "$OUT/propagation_synthetic.pt" 2>/dev/null
for f in "$R"/weights/*.partial.pt; do [ -e "$f" ] && cp "$f" "$OUT/"; done  # checkpoints of a run cut short
tar czf "$OUT/results.tgz" -C "$R" --exclude='*.pt' .
ls -la "$OUT"

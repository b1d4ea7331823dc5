#!/usr/bin/env bash
# GPU smoke check, in one go, on a machine with an NVIDIA GPU (see scripts/gpu_check.py):
#   1. the controller on CUDA on the three samples, 6 robot rounds each, masks compared with the CPU's;
#   2. a real CUDA out-of-memory mid-round: nothing lost, the round redone on the CPU;
#   3. the CUDA rows of benchmarks/speed.py (slices/s, peak GPU memory);
#   4. each training entry point for a few steps on CUDA.
# Usage: OUT=docs/speed bash scripts/gpu_check.sh     (writes $OUT/gpu_check.json, $OUT/gpu_check.log, $OUT/speed_cuda.json)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-docs/speed}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
status=0
{
  echo "== $(date -u +%FT%TZ) $($PY -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0))')"
  echo "== 1-2. controller on CUDA vs CPU, device error"
  $PY scripts/gpu_check.py --out "$OUT/gpu_check.json" || status=1
  echo "== 3. speed, CUDA rows"
  mkdir -p /tmp/limnet_speed_cuda
  $PY benchmarks/speed.py --devices cuda --quick --no-sam --no-variants --out /tmp/limnet_speed_cuda || status=1
  cp /tmp/limnet_speed_cuda/speed.json "$OUT/speed_cuda.json" 2>/dev/null || status=1
  echo "== 4. training entry points, a few steps each on CUDA"
  W=$(mktemp -d)
  cp src/napari_limnet/weights/*.pt src/napari_limnet/weights/*.json "$W/"
  for m in interaction propagation fusion; do
    $PY -m napari_limnet.training.train_$m --device cuda --resume --out "$W" --seconds 60 --max-steps 3 --batch 16 --log-every 1000 \
      > "$W/$m.log" 2>&1 && echo "train_$m: ok ($(tail -n 1 "$W/$m.log" | cut -c1-150))" || { echo "train_$m: FAILED"; tail -n 20 "$W/$m.log"; status=1; }
  done
  echo "== gpu_check.sh: $([ $status = 0 ] && echo PASSED || echo FAILED)"
  exit $status
} 2>&1 | tee "$OUT/gpu_check.log"
exit "${PIPESTATUS[0]}"

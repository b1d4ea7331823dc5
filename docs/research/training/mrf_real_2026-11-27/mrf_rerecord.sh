#!/usr/bin/env bash
# Re-record MRF choices with candidate interaction/propagation nets and fine-tune the MRF selector on them.
#
#   docs/research/training/mrf_real_2026-11-27/mrf_rerecord.sh CANDIDATE_DIR WORK_DIR [REAL_SECONDS] [SYN_SECONDS] [TRAIN_SECONDS]
#
# The selector's training pairs are rollouts of the nets it will sit behind: once those change, the
# old rollouts are stale. Records on the real training structures that a --hold-out-every 3 run
# trained on (two halves side by side) and on fresh synthetic volumes, then resumes the
# candidate's fusion.pt into WORK_DIR/weights (interaction/propagation copied from the candidate).
set -euo pipefail
cand=$1; work=$2; real_s=${3:-360}; syn_s=${4:-180}; train_s=${5:-240}
py=${PYTHON:-.venv/bin/python}
mkdir -p "$work"
for k in 0 1; do
  nice -n 10 "$py" -m napari_limnet.training.fusion_rollouts --real "$k/2" --hold-out-every 3 --weights "$cand" \
    --seconds "$real_s" --out "$work/real_$k.npz" > "$work/rollouts_real_$k.log" 2>&1 &
done
wait
for k in 0 1; do
  nice -n 10 "$py" -m napari_limnet.training.fusion_rollouts --seed $((5300000 + 10000 * k)) --weights "$cand" \
    --seconds "$syn_s" --out "$work/syn_$k.npz" > "$work/rollouts_syn_$k.log" 2>&1 &
done
wait
rm -rf "$work/weights" && cp -r "$cand" "$work/weights"
nice -n 10 "$py" -m napari_limnet.training.train_fusion --rollouts "$work"/real_0.npz "$work"/real_1.npz "$work"/syn_0.npz \
  "$work"/syn_1.npz --resume --out "$work/weights" --seconds "$train_s" --batch 128 --lr 5e-4 --threads 2 --log-every 60 \
  > "$work/fusion.log" 2>&1
tail -n 1 "$work/fusion.log"

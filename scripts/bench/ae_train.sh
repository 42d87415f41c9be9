#!/usr/bin/env bash
# Runs the autoencoder training benchmark for latent and PyTorch, on 1 and 2
# threads, each in its own process (so each peak RSS is its own), and prints
# the ratio of latent's best samples/s to PyTorch's best.
# Needs a built latent (build/latent) and Debian's python3-torch.
set -euo pipefail
cd "$(dirname "$0")/../.."
steps=${STEPS:-200}
out=$(mktemp)
for t in 1 2; do
  build/latent scripts/bench/ae_train.lua --threads "$t" --steps "$steps" | tee -a "$out"
  /usr/bin/python3 scripts/bench/ae_train.py --threads "$t" --steps "$steps" | tee -a "$out"
done
best() { grep "^$1" "$out" | sed 's/.*samples\/s=\([0-9]*\).*/\1/' | sort -n | tail -1; }
l=$(best latent); p=$(best pytorch)
echo "best samples/s: latent $l, pytorch $p, ratio $(awk "BEGIN { printf \"%.2f\", $l / $p }")"
rm -f "$out"

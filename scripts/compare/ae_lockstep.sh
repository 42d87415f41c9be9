#!/usr/bin/env bash
# Trains each comparison model with PyTorch and with latent from the same
# initial weights on the same batches in the same order, and prints both
# loss trajectories side by side: they must agree to float precision.
# Usage: bash scripts/compare/ae_lockstep.sh [data dir] [steps]
# Needs a built latent (build/latent) and Debian's python3-torch.
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:-data/mnist10k}
steps=${2:-320}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for model in reference bn_elu; do
  /usr/bin/python3 scripts/compare/ae_lockstep.py --data "$data" --model "$model" --steps "$steps" \
    --weights "$tmp/$model.safetensors" > "$tmp/pytorch.txt"
  build/latent scripts/compare/ae_lockstep.lua --data "$data" --model "$model" --steps "$steps" \
    --weights "$tmp/$model.safetensors" > "$tmp/latent.txt"
  echo "== $model: PyTorch | latent"
  paste "$tmp/pytorch.txt" "$tmp/latent.txt" | awk -F'\t' '{ printf "  %-28s | %s\n", $1, $2 }'
done

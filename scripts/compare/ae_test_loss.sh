#!/usr/bin/env bash
# Trains the reference autoencoder and its BatchNorm/ELU variant with latent
# and with PyTorch (same models, optimizer, batch, epochs; several seeds each)
# and prints each side's test MSE, mean and spread across seeds.
# Usage: bash scripts/compare/ae_test_loss.sh [data dir] [epochs] [seeds]
# Needs a built latent (build/latent) and Debian's python3-torch.
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:-data/mnist10k}
epochs=${2:-10}
seeds=${3:-3}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for model in reference bn_elu; do
  build/latent scripts/compare/ae_test_loss.lua --data "$data" --model "$model" --epochs "$epochs" \
    --seeds "$seeds" | tee -a "$out"
  /usr/bin/python3 scripts/compare/ae_test_loss.py --data "$data" --model "$model" --epochs "$epochs" \
    --seeds "$seeds" | tee -a "$out"
done
echo "test MSE after $epochs epochs on $data, mean ± std over $seeds seeds:"
for model in reference bn_elu; do
  for fw in latent pytorch; do
    grep "\"framework\": \"$fw\", \"model\": \"$model\"" "$out" |
      sed 's/.*"test_mse": \([0-9.e-]*\).*"train_seconds": \([0-9.]*\).*/\1 \2/' |
      awk -v fw="$fw" -v model="$model" '{ s += $1; q += $1 * $1; t += $2; n++ }
        END { m = s / n; sd = n > 1 ? sqrt((q - n * m * m) / (n - 1)) : 0
              printf "  %-9s %-7s %.5f ± %.5f   (train %.1f s per seed)\n", model, fw, m, sd, t / n }'
  done
done

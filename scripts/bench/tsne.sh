#!/usr/bin/env bash
# t-SNE benchmark: the same 10,000 x 8 and 10,000 x 32 inputs (random
# projections of the Fashion-MNIST test images, written once by
# scripts/bench/tsne.py) through scikit-learn's TSNE (Debian's
# python3-sklearn, n_jobs=2) and latent's lt.tsne (2 threads), back to back,
# with the same settings: perplexity 30, 1000 iterations, init 'pca',
# learning rate 'auto', Barnes-Hut at angle 0.5. One referee
# (scikit-learn's trustworthiness with 12 neighbours, and the exact KL of
# each embedding against scikit-learn's P) judges both embeddings.
#
# Prints wall seconds, CPU seconds (the process's user + system time over
# all threads, which a busy machine inflates less than wall time), each
# side's own KL, the referee's figures, and latent's speed-up.
#
#   bash scripts/bench/tsne.sh                      # build/latent, x8 and x32, barnes_hut
#   LATENT=build-tsne/latent METHODS="barnes_hut fft" INPUTS=x8 bash scripts/bench/tsne.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
latent=${LATENT:-build/latent}
methods=${METHODS:-barnes_hut}
inputs=${INPUTS:-"x8 x32"}
threads=${THREADS:-2}
dir=${OUT:-$(mktemp -d)}
data=$dir/tsne_bench.safetensors
py=/usr/bin/python3
[ -f "$data" ] || $py scripts/bench/tsne.py gen --out "$data"

log=$dir/log.txt
: > "$log"
for input in $inputs; do
  $py scripts/bench/tsne.py sklearn --data "$data" --input "$input" --threads "$threads" \
    --out "$dir/sklearn_$input.safetensors" | tee -a "$log"
  for m in $methods; do
    OMP_NUM_THREADS=$threads "$latent" scripts/bench/tsne.lua --data "$data" --input "$input" --method "$m" \
      --threads "$threads" --out "$dir/latent_${m}_$input.safetensors" | tee -a "$log"
  done
  $py scripts/bench/tsne.py judge --data "$data" --input "$input" "$dir/sklearn_$input.safetensors" \
    $(for m in $methods; do echo "$dir/latent_${m}_$input.safetensors"; done) | tee -a "$log"
done

# speed-ups: scikit-learn's seconds (and CPU seconds) over latent's, per input and method
awk '
  /^sklearn/ { split($2, a, ":"); sk[a[1]] = $4; skc[a[1]] = $6 }
  /^latent/  { split($3, a, ":"); k = $2 " " a[1]; lw[k] = $5; lc[k] = $7 }
  END { for (k in lw) { split(k, p, " "); printf "speed-up %s %s: %.2fx wall, %.2fx cpu\n", p[1], p[2], sk[p[1]] / lw[k], skc[p[1]] / lc[k] } }
' "$log" | sort
echo "files in $dir"

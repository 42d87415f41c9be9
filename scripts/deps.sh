#!/usr/bin/env bash
# Installs the Debian packages latent builds with (needs root or sudo).
set -euo pipefail
PACKAGES=(
  build-essential cmake pkg-config
  lua5.4 liblua5.4-dev          # the language, and the headers for the bindings
  lua-argparse                  # command-line flags of the task scripts and examples
  libopenblas-openmp-dev        # BLAS sharing one OpenMP thread pool with our loops
  libedit-dev                   # line editing in the REPL (BSD licence)
  zlib1g-dev libstb-dev         # gzipped IDX data, PNG figures
)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

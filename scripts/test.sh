#!/usr/bin/env bash
# Builds latent and runs the whole test suite twice: a release build, then a
# build with AddressSanitizer and UndefinedBehaviorSanitizer.
# Usage: bash scripts/test.sh [--no-sanitize]
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
start=$(date +%s)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

if [ "${1:-}" != "--no-sanitize" ]; then
  cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DLATENT_SANITIZE=ON > /dev/null
  cmake --build build-sanitize -j"$jobs"
  # Leaks are checked too; the quarantine is kept small so that the memory
  # test measures latent's memory, not the sanitizer's.
  (cd build-sanitize && ASAN_OPTIONS="detect_leaks=1:quarantine_size_mb=16:halt_on_error=1" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" ctest --output-on-failure -j"$jobs")
fi
echo "whole test run: $(( $(date +%s) - start )) s"

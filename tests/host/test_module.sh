#!/usr/bin/env bash
# The C part as a module for stock lua5.4: the build's lib/latent/core.so
# with LUA_CPATH, the Lua library with LUA_PATH, and `require "latent"`.
# Usage: bash test_module.sh <latent binary> <build dir> <source dir>
set -euo pipefail
BUILD=$(realpath "$2")
SRC=$(realpath "$3")
MODULE="$BUILD/lib/latent/core.so"

fail() { echo "FAIL: $*" >&2; exit 1; }
check() { echo "check: $*"; }

command -v lua5.4 > /dev/null || fail "lua5.4 is not installed (apt-get install lua5.4)"
[ -f "$MODULE" ] || fail "$MODULE is missing: build the latent_core_module target"

# A module built with -fsanitize=address needs the ASan runtime loaded before
# lua5.4 itself. Leak checking is off for this one process: OpenBLAS and
# libgomp allocate in their constructors, and once lua5.4 dlcloses the module
# at exit LeakSanitizer reports that memory against an unknown module. The
# engine's own leaks are checked by the tests that run under `latent`.
# (ldd's output is captured first: under pipefail, `ldd | grep -q` fails
# whenever grep exits before ldd has finished writing.)
deps=$(ldd "$MODULE")
asan=$(awk '/libasan/ {print $3}' <<< "$deps")
if [ -n "$asan" ]; then
  export LD_PRELOAD="$asan"
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
  echo "note: sanitized module, preloading $asan"
fi

export LUA_CPATH="$BUILD/lib/?.so;;"
export LUA_PATH="$SRC/lua/?.lua;$SRC/lua/?/init.lua;;"
unset LUA_INIT LUA_INIT_5_4 LUA_CPATH_5_4 LUA_PATH_5_4 || true
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

check "stock lua5.4 loads latent.core from $MODULE"
out=$(lua5.4 -e 'local core = require "latent.core"
  print(type(core), package.searchpath("latent.core", package.cpath))') ||
  fail "require 'latent.core' failed"
[ "$out" = "table	$MODULE" ] || fail "latent.core: got [$out]"

check "require 'latent' works and makes tensors"
out=$(lua5.4 -e 'local lt = require "latent"
  local z = lt.zeros(2, 2)
  print(z:numel(), z:sum():item())
  print(z)') || fail "require 'latent' under lua5.4 failed"
case "$out" in
  "4	0.0"$'\n'*"[Tensor float32 of size 2x2]"*) ;;
  *) fail "lt.zeros(2, 2) under lua5.4 printed:"$'\n'"$out" ;;
esac

echo "test_module: all checks passed"

#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then the installed latent finds
# its own Lua library (<prefix>/share/lua/5.4) from any directory with no
# environment variables, also after the prefix is moved; stock lua5.4 loads
# the installed <prefix>/lib/lua/5.4/latent/core.so.
# Usage: bash test_install.sh <latent binary> <build dir> <source dir>
set -euo pipefail
BUILD=$(realpath "$2")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
check() { echo "check: $*"; }

# Runs a command in an empty directory with a bare environment (the
# sanitizer options pass through, so a sanitized build is still checked).
bare() {
  mkdir -p "$TMP/cwd"
  (cd "$TMP/cwd" && env -i PATH=/usr/bin:/bin HOME="$TMP" \
    ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"} ${UBSAN_OPTIONS:+UBSAN_OPTIONS="$UBSAN_OPTIONS"} "$@")
}

check "cmake --install $BUILD --prefix $TMP/prefix"
cmake --install "$BUILD" --prefix "$TMP/prefix" > "$TMP/install.log" ||
  fail "cmake --install failed: $(cat "$TMP/install.log")"
for f in bin/latent lib/lua/5.4/latent/core.so share/lua/5.4/latent/init.lua share/lua/5.4/latent/repl.lua; do
  [ -f "$TMP/prefix/$f" ] || fail "$f was not installed"
done

check "the installed latent runs require 'latent' from another directory"
out=$(bare "$TMP/prefix/bin/latent" -e 'local lt = require "latent"
  print(package.searchpath("latent", package.path), lt.zeros(3):numel())') ||
  fail "require 'latent' with the installed binary failed: $out"
[ "$out" = "$TMP/prefix/share/lua/5.4/latent/init.lua	3" ] ||
  fail "expected the installed library, got [$out]"

check "a moved prefix still finds its library"
mv "$TMP/prefix" "$TMP/moved"
out=$(bare "$TMP/moved/bin/latent" -e 'require "latent"
  print(package.searchpath("latent", package.path))') || fail "the moved install failed: $out"
[ "$out" = "$TMP/moved/share/lua/5.4/latent/init.lua" ] || fail "moved install used [$out]"

check "stock lua5.4 loads the installed core.so"
# (ldd's output is captured first: `ldd | grep -q` under pipefail fails
# whenever grep exits before ldd has finished writing.)
deps=$(ldd "$TMP/moved/lib/lua/5.4/latent/core.so")
if [[ "$deps" == *libasan* ]]; then
  echo "note: skipped for a sanitized build (see test_module.sh for how it is run there)"
else
  out=$(bare env LUA_CPATH="$TMP/moved/lib/lua/5.4/?.so" \
    LUA_PATH="$TMP/moved/share/lua/5.4/?.lua;$TMP/moved/share/lua/5.4/?/init.lua" \
    lua5.4 -e 'print(require("latent").ones(2):sum():item())') || fail "lua5.4 with the install failed: $out"
  [ "$out" = "2.0" ] || fail "lua5.4 with the install printed [$out]"
fi

echo "test_install: all checks passed"

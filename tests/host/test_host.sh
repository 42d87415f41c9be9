#!/usr/bin/env bash
# The `latent` host as a command: the arg table, -e, -i and - with piped
# input, error exits with a traceback, os.exit, LUA_INIT, and require "latent"
# from a script in another directory.
# Usage: bash test_host.sh <latent binary> <build dir> <source dir>
set -euo pipefail
LATENT=$(realpath "$1")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
unset LUA_INIT LUA_INIT_5_4 LUA_PATH LUA_PATH_5_4 || true

fail() { echo "FAIL: $*" >&2; exit 1; }
check() { echo "check: $*"; }
contains() { # what, text, expected part
  case "$2" in *"$3"*) ;; *) fail "$1: expected [$3] in output:"$'\n'"$2" ;; esac
}
equals() { # what, actual, expected
  [ "$2" = "$3" ] || fail "$1: expected [$3], got [$2]"
}
# Runs latent with the given arguments; sets OUT, ERR and RC.
run() {
  set +e
  OUT=$("$LATENT" "$@" 2> "$TMP/stderr")
  RC=$?
  set -e
  ERR=$(cat "$TMP/stderr")
}

check "-v prints the version and exits 0"
run -v
contains "-v" "$OUT" "latent 0.1.0 (Lua 5.4"
equals "-v exit code" "$RC" 0

check "-h prints the usage; a bad option fails with the usage on stderr"
run -h
contains "-h" "$OUT" "usage:"
equals "-h exit code" "$RC" 0
run -x
contains "bad option" "$ERR" "unrecognized option '-x'"
equals "bad option exit code" "$RC" 1
run -e
contains "-e without code" "$ERR" "'-e' needs argument"
equals "-e without code exit code" "$RC" 1

check "a script gets arg[0], arg[1..], negative indices and its varargs"
cat > args.lua <<'EOF'
io.write(arg[-3], "|", arg[-2], "|", arg[-1], "|", arg[0], "|", arg[1], "|", arg[2], "|", #arg, "\n")
io.write(select("#", ...), ":", table.concat({...}, ","), "\n")
EOF
run -e "x = 1" args.lua a "b c"
equals "arg table" "$(sed -n 1p <<< "$OUT")" "$LATENT|-e|x = 1|args.lua|a|b c|2"
equals "varargs" "$(sed -n 2p <<< "$OUT")" "2:a,b c"
run -e 'print(arg[0] == arg[-0], #arg, arg[1], arg[2])'
contains "arg without a script" "$OUT" "true	2	-e	print"

check "-e runs chunks in order, attached or separate, with a script after"
run -e "a = 1" -e "b = a + 1" "-eprint(b * 10)"
equals "-e chain" "$OUT" "20"
run -e "greeting = 'hi'" args.lua z
contains "-e before a script" "$OUT" "args.lua|z"

check "scripts get no lt global (only the REPL does)"
run -e 'print(lt, rawget(_G, "lt"))'
equals "no lt in -e" "$OUT" "nil	nil"

check "-i runs the script, then the REPL reads the piped input"
echo 'answer = 41' > set.lua
OUT=$(echo 'answer + 1' | "$LATENT" -i set.lua 2>&1)
contains "-i" "$OUT" "> 42"

check "- runs stdin as a script with arguments; so does no argument with a pipe"
OUT=$(echo 'print("stdin", arg[0], ...)' | "$LATENT" - p q)
equals "-" "$OUT" "stdin	-	p	q"
OUT=$(echo 'print(6 * 7)' | "$LATENT")
equals "piped stdin" "$OUT" "42"

check "a runtime error exits 1 with the message and a traceback on stderr"
cat > boom.lua <<'EOF'
local function inner() error("boom here") end
local function outer() inner() end
outer()
EOF
run boom.lua
equals "error exit code" "$RC" 1
contains "error message" "$ERR" "latent: boom.lua:1: boom here"
contains "traceback" "$ERR" "stack traceback:"
contains "traceback names the caller" "$ERR" "in local 'outer'"
run -e 'error({})'
contains "a non-string error" "$ERR" "(error object is a table value)"
equals "non-string error exit code" "$RC" 1

check "a syntax error or a missing file exits 1"
echo 'x = = 1' > bad.lua
run bad.lua
equals "syntax error exit code" "$RC" 1
contains "syntax error" "$ERR" "bad.lua:1:"
run no_such_file.lua
equals "missing file exit code" "$RC" 1
contains "missing file" "$ERR" "cannot open no_such_file.lua"

check "the script's later lines do not run after an error; -e stops the run"
run -e 'error("first")' args.lua
equals "-e error stops" "$OUT" ""
equals "-e error exit code" "$RC" 1

check "os.exit passes its code through"
run -e 'os.exit(3)'
equals "os.exit(3)" "$RC" 3
run -e 'os.exit(false)'
equals "os.exit(false)" "$RC" 1
run -e 'os.exit(true, true)'
equals "os.exit(true, true)" "$RC" 0
run -e 'io.write("flushed") os.exit(0)'
equals "output before os.exit" "$OUT" "flushed"

check "LUA_INIT runs first (code or @file); -E ignores it"
OUT=$(LUA_INIT='init_value = 5' "$LATENT" -e 'print(init_value)')
equals "LUA_INIT" "$OUT" "5"
echo 'init_value = 6' > init.lua
OUT=$(LUA_INIT_5_4="@$TMP/init.lua" LUA_INIT='init_value = 5' "$LATENT" -e 'print(init_value)')
equals "LUA_INIT_5_4 wins" "$OUT" "6"
OUT=$(LUA_INIT='init_value = 5' "$LATENT" -E -e 'print(init_value)')
equals "-E" "$OUT" "nil"

check "-l requires a module into a global"
run -l g=latent.repl -e 'print(type(g.complete))'
equals "-l g=mod" "$OUT" "function"

check "require 'latent' works from a script in another directory"
mkdir -p elsewhere/deeper
cat > elsewhere/use.lua <<'EOF'
local lt = require "latent"
local core = require "latent.core"
print(type(lt), type(core), lt.zeros(2, 3):numel())
EOF
(cd elsewhere/deeper && env -u LUA_PATH -u LUA_CPATH "$LATENT" ../use.lua) > use.out 2>&1 ||
  fail "require from another directory: $(cat use.out)"
equals "require from another directory" "$(cat use.out)" "table	table	6"

check "LUA_PATH is honoured and latent's own directory still comes first"
mkdir -p mylib/latent
echo 'return "my module"' > mylib/mymod.lua
echo 'return "a stray latent"' > mylib/latent/init.lua
OUT=$(LUA_PATH="$TMP/mylib/?.lua;$TMP/mylib/?/init.lua;;" "$LATENT" \
  -e 'print(require "mymod", type(require "latent"))')
equals "LUA_PATH" "$OUT" "my module	table"

echo "test_host: all checks passed"

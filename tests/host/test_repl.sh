#!/usr/bin/env bash
# The REPL driven through a pipe (`latent -i`, no terminal: lines come from
# stdin, prompts still go to stdout): printed results, multi-line input,
# errors that do not end the session, Ctrl-C, and the completion logic of
# latent.repl that the Tab key uses.
# Usage: bash test_repl.sh <latent binary> <build dir> <source dir>
set -euo pipefail
LATENT=$(realpath "$1")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
unset LUA_INIT LUA_INIT_5_4 || true

fail() { echo "FAIL: $*" >&2; exit 1; }
check() { echo "check: $*"; }
contains() { # what, text, expected part
  case "$2" in *"$3"*) ;; *) fail "$1: expected [$3] in output:"$'\n'"$2" ;; esac
}
lacks() { # what, text, part that must not be there
  case "$2" in *"$3"*) fail "$1: did not expect [$3] in output:"$'\n'"$2" ;; *) ;; esac
}
# Feeds stdin to `latent -i`; sets OUT (stdout), ERR (stderr) and RC.
repl() {
  set +e
  OUT=$("$LATENT" -i 2> "$TMP/stderr")
  RC=$?
  set -e
  ERR=$(cat "$TMP/stderr")
}

check "the banner, and lt is loaded in the REPL"
repl <<< 'type(lt), type(lt.zeros)'
contains "banner" "$OUT" "lt = require 'latent' is loaded; Ctrl-D exits"
contains "lt global" "$OUT" "> table	function"

check "expressions are printed: 1+1, several values, nil, '=' shorthand"
repl <<'EOF'
1+1
1, "a", nil
nil
=2*3
x = 5
x
EOF
contains "1+1" "$OUT" "> 2"
contains "several values" "$OUT" "> 1	a	nil"
contains "=2*3" "$OUT" "> 6"
contains "a statement prints nothing, its global stays" "$OUT" "> > 5"
[ "$RC" -eq 0 ] || fail "the REPL exit code at end of input was $RC"

check "a tensor is printed through its __tostring"
repl <<< 'lt.zeros(2, 2)'
contains "tensor" "$OUT" "[Tensor float32 of size 2x2]"

check "multi-line input continues with '>> ' until the statement is complete"
repl <<'EOF'
for i = 1, 2 do
print("line " .. i)
end
function f(a,
  b) return a + b end
f(20, 22)
EOF
contains "continuation prompt" "$OUT" ">> >> "
contains "loop ran" "$OUT" "line 1"$'\n'"line 2"
contains "multi-line function" "$OUT" "42"

check "an error is reported with a traceback and the session goes on"
repl <<'EOF'
error("oops")
local t = nil; t.x = 1
setmetatable({}, {__tostring = function() error("bad tostring") end})
print("still here")
EOF
contains "error message" "$ERR" "stdin:1: oops"
contains "traceback" "$ERR" "stack traceback:"
contains "indexing nil" "$ERR" "attempt to index a nil value"
contains "__tostring error" "$ERR" "bad tostring"
contains "next line ran" "$OUT" "still here"
[ "$RC" -eq 0 ] || fail "an error ended the REPL with code $RC"

check "a syntax error is reported, not taken for incomplete input"
repl <<'EOF'
x = = 1
print("after syntax error")
EOF
contains "syntax error" "$ERR" "stdin:1: unexpected symbol near '='"
contains "after syntax error" "$OUT" "after syntax error"

check "input that ends inside a statement reports the error"
repl <<< 'for i = 1, 2 do'
contains "unfinished statement" "$ERR" "'end' expected near <eof>"

check "os.exit in the REPL ends it with that code"
repl <<'EOF'
os.exit(7)
print("not reached")
EOF
[ "$RC" -eq 7 ] || fail "os.exit(7) gave $RC"
lacks "os.exit" "$OUT" "not reached"

check "completion: globals, keywords, library fields"
repl <<'EOF'
local c = require("latent.repl").complete; print("[" .. table.concat(c("string.fo"), " ") .. "]")
local c = require("latent.repl").complete; print("[" .. table.concat(c("pri"), " ") .. "]")
local c = require("latent.repl").complete; print("[" .. table.concat(c("whi"), " ") .. "]")
local c = require("latent.repl").complete; print("[" .. table.concat(c("x = math.pi + math.fl"), " ") .. "]")
local c = require("latent.repl").complete; print("[" .. table.concat(c("lt.zer"), " ") .. "]")
local c = require("latent.repl").complete; print("[" .. table.concat(c("nosuch.x"), " ") .. "]")
local c = require("latent.repl").complete; print("[" .. table.concat(c("3.1"), " ") .. "]")
EOF
contains "string.fo" "$OUT" "[string.format]"
contains "pri" "$OUT" "[print]"
contains "whi" "$OUT" "[while]"
contains "after an operator" "$OUT" "[math.floor]"
contains "lt.zer" "$OUT" "lt.zeros"
contains "unknown table" "$OUT" "> []"$'\n'"> []"

check "completion: methods through metatables, with no side effects"
repl <<'EOF'
Base = {greet = function() end, size = 3}
Obj = setmetatable({own = 1}, {__index = setmetatable({go = function() end}, {__index = Base})})
Trap = setmetatable({}, {__index = function() error("__index was called") end})
s = "text"
x = lt.zeros(2)
local c = require("latent.repl").complete; print("[" .. table.concat(c("Obj:"), " ") .. "]")
local c = require("latent.repl").complete; print("[" .. table.concat(c("Obj."), " ") .. "]")
local c = require("latent.repl").complete; print("[" .. table.concat(c("Trap.x"), " ") .. "]")
local c = require("latent.repl").complete; print("[" .. table.concat(c("s:up"), " ") .. "]")
local c = require("latent.repl").complete; print("[" .. table.concat(c("x:vie"), " ") .. "]")
local c = require("latent.repl").complete; print("[" .. table.concat(c(42), " ") .. "]")
EOF
contains "methods after ':'" "$OUT" "[Obj:go Obj:greet]"
contains "fields after '.'" "$OUT" "[Obj.go Obj.greet Obj.own Obj.size]"
contains "an __index function is not called" "$OUT" "> []"
lacks "no error from Trap" "$ERR" "__index was called"
contains "string methods" "$OUT" "[s:upper]"
contains "tensor methods" "$OUT" "[x:view x:view_as]"

check "Ctrl-C interrupts a running computation and the session goes on"
mkfifo in.fifo
"$LATENT" -i < in.fifo > int.out 2> int.err &
pid=$!
exec 3> in.fifo
printf '%s\n' 'io.write("spinning\n"); io.flush(); while true do end' >&3
for _ in $(seq 100); do grep -q spinning int.out && break; sleep 0.1; done
grep -q spinning int.out || fail "the loop did not start: $(cat int.out int.err)"
kill -INT "$pid"
echo 'print("alive after interrupt")' >&3
exec 3>&-
wait "$pid" || fail "the REPL exited with $? after Ctrl-C"
contains "interrupted" "$(cat int.err)" "interrupted!"
contains "alive" "$(cat int.out)" "alive after interrupt"

echo "test_repl: all checks passed"

#!/usr/bin/env bash
# End-to-end checks of the command-line tools: nvobj-pool's exit codes and
# one-line reasons (DESIGN.md "Interfaces"), and the restart demo surviving a
# restart and a simulated crash.
# Usage: cli_test.sh BIN_DIR
set -euo pipefail
bin=$1
pool_tool=$bin/nvobj-pool
demo=$bin/nvobj-demo
dir=$(mktemp -d /dev/shm/nvobj-cli-XXXXXX)
trap 'rm -rf "$dir"' EXIT
failures=0
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; failures=$((failures + 1)); }

# expect CODE NAME CMD...: run CMD, require exit CODE; stderr kept in $dir/err.
expect() {
  local code=$1 name=$2; shift 2
  local rc=0
  "$@" >"$dir/out" 2>"$dir/err" || rc=$?
  if [[ $rc -eq $code ]]; then pass "$name"; else fail "$name (exit $rc, want $code): $(cat "$dir/err")"; fi
}
# one_line_reason NAME PATTERN: stderr is exactly one line matching PATTERN.
one_line_reason() {
  local lines
  lines=$(wc -l <"$dir/err")
  if [[ $lines -eq 1 ]] && grep -q -- "$2" "$dir/err"; then pass "$1"; else fail "$1: $(cat "$dir/err")"; fi
}

p=$dir/a.pool
expect 0 "create" "$pool_tool" create "$p" --size 8M --mode emulated
grep -q "created" "$dir/out" && pass "create prints a summary" || fail "create summary"
expect 1 "create refuses an existing file" "$pool_tool" create "$p" --size 8M
one_line_reason "create refusal is one line naming the file" "$p"
expect 0 "create --force replaces" "$pool_tool" create "$p" --size 4M --force
expect 0 "info" "$pool_tool" info "$p"
grep -q "size            4.0 MiB" "$dir/out" && pass "info shows the size" || fail "info size: $(cat "$dir/out")"
grep -q "not applicable" "$dir/out" && pass "info: device not applicable on tmpfs" || fail "info device"
expect 0 "info --json" "$pool_tool" info "$p" --json
/usr/bin/python3 - "$dir/out" <<'PY' && pass "info --json is valid JSON with the header fields" || fail "info --json fields"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["size"] == 4 << 20, j
assert j["clean_shutdown"] is True and j["in_use"] is False
assert j["requested_mode"] == "auto" and j["layout_version"] == "2.0"
assert j["header_copies"] == ["valid", "valid"]
assert j["device"]["applicable"] is False
PY
expect 0 "grow" "$pool_tool" grow "$p" --size 16M
expect 0 "info after grow" "$pool_tool" info "$p" --json
grep -q '"size": 16777216' "$dir/out" && pass "grow took effect" || fail "grow size"
expect 1 "grow refuses to shrink" "$pool_tool" grow "$p" --size 1M
one_line_reason "shrink refusal is one line" "cannot shrink"
expect 0 "check clean pool" "$pool_tool" check "$p"

expect 1 "info on missing file" "$pool_tool" info "$dir/missing"
one_line_reason "missing file reason" "no pool at"
head -c 3000000 /dev/urandom >"$dir/junk"
cp "$dir/junk" "$dir/junk.orig"
expect 1 "info on a foreign file" "$pool_tool" info "$dir/junk"
one_line_reason "foreign file reason" "not an nvobj pool"
expect 1 "grow on a foreign file" "$pool_tool" grow "$dir/junk" --size 8M
cmp -s "$dir/junk" "$dir/junk.orig" && pass "foreign file left intact" || fail "foreign file modified"
expect 1 "create with a bad size" "$pool_tool" create "$dir/b.pool" --size 12Q
one_line_reason "bad size reason" "not a size"
[[ ! -e $dir/b.pool ]] && pass "bad size creates nothing" || fail "bad size left a file"
expect 1 "create with a bad mode" "$pool_tool" create "$dir/b.pool" --mode turbo
expect 1 "dax mode refused on tmpfs" "$pool_tool" create "$dir/c.pool" --mode dax
one_line_reason "dax refusal explains" "DAX"
[[ ! -e $dir/c.pool ]] && pass "refused dax create leaves no file" || fail "dax create left a file"

# A torn header copy: check reports it, open repairs it.
cp "$p" "$dir/torn.pool"
printf '\xff\xff\xff\xff' | dd of="$dir/torn.pool" bs=1 seek=$((4096 + 100)) conv=notrunc status=none
expect 1 "check reports a torn header copy" "$pool_tool" check "$dir/torn.pool"
grep -q "header copy 1 is torn" "$dir/err" && pass "check names the torn copy" || fail "check torn: $(cat "$dir/err")"
expect 0 "grow opens and repairs it" "$pool_tool" grow "$dir/torn.pool" --size 16M
expect 0 "check is clean after repair" "$pool_tool" check "$dir/torn.pool"

# The demo: a run survives a restart and a crash.
d=$dir/demo.pool
expect 0 "demo first run" "$demo" --pool "$d" --size 8M --note first
expect 0 "demo second run" "$demo" --pool "$d" --note second
grep -q '"first"' "$dir/out" && pass "first run survived a restart" || fail "demo restart: $(cat "$dir/out")"
grep -q "shut down cleanly" "$dir/out" && pass "clean shutdown reported" || fail "clean shutdown"
expect 0 "demo crash run" "$demo" --pool "$d" --note crashed --crash
expect 0 "demo after crash" "$demo" --pool "$d" --note after
grep -q "did NOT shut down cleanly" "$dir/out" && pass "crash detected" || fail "crash detection: $(cat "$dir/out")"
grep -q '"crashed"' "$dir/out" && pass "record written before the crash survived" || fail "crash record"
grep -q "run 4 " "$dir/out" && pass "run count is 4" || fail "run count"

# The object model: nvobj-bank, a crash, check and --repair.
bank=$bin/nvobj-bank
b=$dir/bank.pool
expect 0 "bank first run" "$bank" --pool "$b" --transfers 100
grep -q "total: 8000" "$dir/out" && pass "bank total" || fail "bank total: $(cat "$dir/out")"
expect 0 "check a cleanly closed bank" "$pool_tool" check "$b"
grep -q "no leak" "$dir/out" && pass "check finds no leak" || fail "check leak: $(cat "$dir/out")"
expect 0 "bank crash run" "$bank" --pool "$b" --transfers 100 --crash
expect 0 "check a crashed bank" "$pool_tool" check "$b"
grep -q "not closed cleanly" "$dir/out" && pass "check reports the crash" || fail "check crash: $(cat "$dir/out")"
grep -q "reclaims [1-9]" "$dir/out" && pass "check says what recovery reclaims" || fail "reclaim: $(cat "$dir/out")"
expect 0 "check --json on a crashed bank" "$pool_tool" check "$b" --json
/usr/bin/python3 - "$dir/out" <<'PY' && pass "check --json fields" || fail "check --json: $(cat "$dir/out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["consistent"] and not j["clean_shutdown"], j
assert j["objects_by_class"]["bank.Account"] == 8, j
assert j["reclaimable_objects"] > 0, j
PY
expect 0 "check --repair" "$pool_tool" check "$b" --repair
grep -q "recovered" "$dir/out" && pass "repair recovers" || fail "repair: $(cat "$dir/out")"
expect 0 "check after repair" "$pool_tool" check "$b"
grep -q "clean:" "$dir/out" && ! grep -q "not closed cleanly" "$dir/out" && pass "clean after repair" || fail "after repair: $(cat "$dir/out")"
expect 0 "bank after the crash" "$bank" --pool "$b" --transfers 10
grep -q "total: 8000" "$dir/out" && pass "money intact after crash and repair" || fail "bank total: $(cat "$dir/out")"

echo "cli tests: $failures failure(s)"
[[ $failures -eq 0 ]]

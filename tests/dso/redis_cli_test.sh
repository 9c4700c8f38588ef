#!/usr/bin/env bash
# redis-cli and redis-benchmark against nvobj-dso: argument mode, a script on
# stdin, --pipe mass insertion, RESP3 (-3), --scan, --raw, -a with a
# password-protected server, the interactive start-up (COMMAND DOCS), and a
# redis-benchmark smoke run. With BACKEND=redis the same checks run against
# a stock redis-server, which proves the expected outputs.
# Usage: redis_cli_test.sh NVOBJ_DSO_BIN [BACKEND]   (BACKEND: nvobj (default),
#        volatile, ... or redis). Exit 77 (skip) without redis-cli.
set -euo pipefail
bin=$1
backend=${2:-nvobj}
for tool in redis-cli redis-benchmark; do
  command -v $tool >/dev/null || { echo "$tool not installed: skipped"; exit 77; }
done
[[ $backend != redis ]] || command -v redis-server >/dev/null || { echo "no redis-server: skipped"; exit 77; }
dir=$(mktemp -d /dev/shm/nvobj-dso-clitest-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
failures=0
checks=0
pass() { checks=$((checks + 1)); echo "ok   $1"; }
fail() { checks=$((checks + 1)); echo "FAIL $1"; failures=$((failures + 1)); }
# same NAME WANT GOT
same() {
  if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1: want [$2] got [$3]"; fi
}
# contains NAME NEEDLE TEXT
contains() {
  if [[ $3 == *"$2"* ]]; then pass "$1"; else fail "$1: [$2] not in [$3]"; fi
}

# start NAME [server options...]: a server on a free port; its port in $port.
start() {
  local name=$1 log=$dir/$1.log
  shift
  if [[ $backend == redis ]]; then
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$dir/$name"
    local args=(--port "$port" --save '' --appendonly no --dir "$dir/$name")
    [[ ${1:-} == --requirepass ]] && args+=(--requirepass "$2")
    redis-server "${args[@]}" >"$log" 2>&1 &
    pids+=($!)
    for _ in $(seq 600); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.05; done
  else
    "$bin" --backend "$backend" --pool "$dir/$name.pool" --size 256M --port 0 "$@" >"$log" 2>&1 &
    pids+=($!)
    for _ in $(seq 600); do
      port=$(sed -n 's/^nvobj-dso ready on .*:\([0-9]*\)$/\1/p' "$log")
      [[ -n $port ]] && return
      kill -0 "${pids[-1]}" 2>/dev/null || break
      sleep 0.05
    done
  fi
  echo "server $name did not start:"; cat "$log"; exit 1
}

start main
p=$port
cli() { redis-cli -p "$p" "$@"; }

# --- argument mode (stdout not a tty: raw replies; --no-raw: the tty format)
same "SET" "OK" "$(cli set greeting hello)"
same "GET" "hello" "$(cli get greeting)"
same "GET missing (raw: empty line)" "" "$(cli get missing)"
same "INCR" "1" "$(cli incr counter)"
same "INCRBY --no-raw" "(integer) 11" "$(cli --no-raw incrby counter 10)"
same "GET missing --no-raw" "(nil)" "$(cli --no-raw get missing)"
same "RPUSH" "3" "$(cli rpush list a b c)"
same "LRANGE" $'a\nb\nc' "$(cli lrange list 0 -1)"
same "LRANGE --no-raw" $'1) "a"\n2) "b"\n3) "c"' "$(cli --no-raw lrange list 0 -1)"
same "WRONGTYPE" "WRONGTYPE Operation against a key holding the wrong kind of value" \
  "$(cli lpush greeting x)"
same "WRONGTYPE --no-raw" "(error) WRONGTYPE Operation against a key holding the wrong kind of value" \
  "$(cli --no-raw lpush greeting x)"
same "unknown command" "ERR unknown command 'nosuch', with args beginning with: 'a' " \
  "$(cli nosuch a)"
same "HSET several" "2" "$(cli hset hash f1 v1 f2 v2)"
same "HGET" "v2" "$(cli hget hash f2)"
same "ZADD" "2" "$(cli zadd zset 1.5 a 2 b)"
same "ZRANGE WITHSCORES" $'a\n1.5\nb\n2' "$(cli zrange zset 0 -1 withscores)"
same "ZSCORE --no-raw" '"1.5"' "$(cli --no-raw zscore zset a)"
same "TYPE" "zset" "$(cli type zset)"
same "-x (last argument from stdin)" "OK" "$(printf 'from stdin' | cli -x set xkey)"
same "GET of -x" "from stdin" "$(cli get xkey)"

# --- a script on stdin
script=$'SET s1 10\nINCRBY s1 5\nGET s1\nRPUSH sl x y\nLRANGE sl 0 -1\nDEL s1 sl\nEXISTS s1'
same "script on stdin" $'OK\n15\n15\n2\nx\ny\n2\n0' "$(printf '%s\n' "$script" | cli)"

# --- interactive start-up: no command arguments (redis-cli asks COMMAND DOCS first)
out=$(echo PING | timeout 20 redis-cli -p "$p" 2>&1) && rc=0 || rc=$?
same "redis-cli without arguments: PING" "PONG" "$out"
same "redis-cli without arguments: exit status" "0" "$rc"

# --- RESP3 (-3)
same "-3 HELLO proto" "3" "$(cli -3 --no-raw hello 3 | sed -n 's/^3# "proto" => (integer) \([0-9]\)$/\1/p')"
same "-3 ZSCORE is a double" "(double) 1.5" "$(cli -3 --no-raw zscore zset a)"
same "-3 HGETALL is a map" $'1# "f1" => "v1"\n2# "f2" => "v2"' \
  "$(cli -3 --no-raw hgetall hash | sort)"
same "-3 GET missing is null" "(nil)" "$(cli -3 --no-raw get missing)"
same "-3 ZRANGE WITHSCORES pairs" $'1) 1) "a"\n   2) (double) 1.5\n2) 1) "b"\n   2) (double) 2' \
  "$(cli -3 --no-raw zrange zset 0 -1 withscores)"

# --- --raw
cli set multiline "$(printf 'line1\nline2')" >/dev/null
same "--raw keeps the bytes" $'line1\nline2' "$(cli --raw get multiline)"
same "--no-raw quotes them" '"line1\nline2"' "$(cli --no-raw get multiline)"
same "--raw integer" "2" "$(cli --raw hlen hash)"

# --- --pipe: 10 k SETs in the protocol
/usr/bin/python3 - "$dir/mass.resp" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    for i in range(10000):
        k, v = b"mass:%d" % i, b"value-%d" % i
        f.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
PY
out=$(cli --pipe <"$dir/mass.resp" 2>&1)
contains "--pipe summary" "errors: 0, replies: 10000" "$out"
same "--pipe data" "value-9999" "$(cli get mass:9999)"

# --- --scan
same "--scan --pattern" "10000" "$(cli --scan --pattern 'mass:*' | wc -l)"
same "--scan --pattern with ? and [...]" "$(printf 'mass:%s\n' 10 11 12 19 | sort)" \
  "$(cli --scan --pattern 'mass:1[0-29]' | sort)"
same "--scan, exact patterns" "$(printf 'mass:%s\n' 1 10 100 1000 | sort)" \
  "$(for k in 1 10 100 1000; do cli --scan --pattern "mass:$k"; done | sort)"
same "--scan everything" "$(cli dbsize)" "$(cli --scan | wc -l)"
same "DBSIZE" "10007" "$(cli dbsize)"

# --- -a with a password-protected server
start auth --requirepass cli-secret
a=$port
same "NOAUTH without -a" "NOAUTH Authentication required." "$(redis-cli -p "$a" ping)"
same "-a password" "PONG" "$(redis-cli -p "$a" -a cli-secret --no-auth-warning ping)"
same "-a password SET" "OK" "$(redis-cli -p "$a" -a cli-secret --no-auth-warning set k v)"
same "--user default --pass" "v" "$(redis-cli -p "$a" --user default --pass cli-secret --no-auth-warning get k)"
out=$(redis-cli -p "$a" -a wrong --no-auth-warning ping 2>&1)
contains "-a wrong password" "WRONGPASS invalid username-password pair or user is disabled." "$out"
same "-3 -a (HELLO 3 AUTH)" "(double) 2.5" \
  "$(redis-cli -3 -p "$a" -a cli-secret --no-auth-warning --no-raw zincrby z 2.5 m)"

# --- redis-benchmark smoke test: every test reports a rate, no errors
out=$(timeout 300 redis-benchmark -p "$p" -n 2000 -c 10 \
  -t set,get,incr,lpush,rpush,lpop,rpop,hset,zadd,lrange_100 -q 2>&1)
echo "$out" | tr '\r' '\n' | grep 'requests per second' | sed 's/^/     /'
rates=$(echo "$out" | tr '\r' '\n' | grep -c 'requests per second' || true)
for t in SET GET INCR LPUSH RPUSH LPOP RPOP HSET ZADD LRANGE_100; do
  if echo "$out" | tr '\r' '\n' | grep -q "^$t.*: [0-9.]* requests per second"; then
    pass "redis-benchmark $t"
  else
    fail "redis-benchmark $t: no rate in [$out]"
  fi
done
if echo "$out" | grep -qiE 'error|WRONGTYPE|NOAUTH'; then
  fail "redis-benchmark reported errors: $out"
else
  pass "redis-benchmark: no errors ($rates rates)"
fi
same "the server still answers" "PONG" "$(cli ping)"

echo "redis_cli_test ($backend): $checks checks, $failures failures"
[[ $failures -eq 0 ]]

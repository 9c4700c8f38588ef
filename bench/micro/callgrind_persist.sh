#!/usr/bin/env bash
# Instructions per (64 B store + write-back + fence) through libpmem2 directly
# and through nvobj's Persister, counted by callgrind: unlike time, the counts
# repeat exactly on a shared, noisy machine. Each case runs twice (N and 2N
# ops) and the difference divided by N removes set-up costs.
# Usage: bench/micro/callgrind_persist.sh [BIN_DIR] [N]
set -euo pipefail
bin=${1:-build/bin}
n=${2:-100000}
count() {  # count BACKEND OPS -> total instructions (Ir)
  local out
  out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin/nvobj-micro-persist" \
    --only "$1" --ops "$2" >/dev/null 2>&1
  callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
  rm -f "$out"
}
printf '| case | instructions/op |\n|---|---:|\n'
for backend in none pmem2-direct pmem2 noop; do
  a=$(count "$backend" "$n")
  b=$(count "$backend" $((2 * n)))
  printf '| %s | %s |\n' "$backend" "$(awk -v a="$a" -v b="$b" -v n="$n" 'BEGIN {printf "%.1f", (b - a) / n}')"
done

#!/usr/bin/env bash
# The module workflow of docs/dso.md "Writing a module", out of the tree:
# installs the build into a temporary prefix, builds examples/modules
# against it with find_package(nvobj) (nvobj::dso_module: headers only),
# starts the installed nvobj-dso with both modules and calls them with
# redis-cli. Usage: module_install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
command -v redis-cli >/dev/null || { echo "redis-cli not installed: skipped"; exit 77; }
work=$(mktemp -d)
pool_dir=$(mktemp -d /dev/shm/nvobj-modules-XXXXXX)
server=
cleanup() {
  [[ -n $server ]] && kill -9 "$server" 2>/dev/null || true
  rm -rf "$work" "$pool_dir"
}
trap cleanup EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src/examples/modules" -B "$work/modules" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  >/dev/null
cmake --build "$work/modules" >/dev/null

exec 3< <(exec "$work/prefix/bin/nvobj-dso" --pool "$pool_dir/dso.pool" --size 32M \
  --mode emulated --port 0 --log-level warn \
  --load-module "$work/modules/kmeans.so" --load-module "$work/modules/logreg.so")
server=$!
read -r -t 60 line <&3 || { echo "nvobj-dso did not start" >&2; exit 1; }
port=${line##*:}
cli() { redis-cli -p "$port" "$@"; }
expect() {
  local want=$1
  shift
  local got
  got=$(cli "$@" | tr '\n' ' ')
  [[ $got == "$want" ]] || { echo "$*: got '$got', want '$want'" >&2; exit 1; }
}
expect "1 " DSO.NEW kmeans.GlobalCentroids c 1 2
expect "1 " DSO.CALL kmeans.GlobalCentroids c update 3 5 2
expect "3 5 " DSO.CALL kmeans.GlobalCentroids c get
expect "kmeans.GlobalCentroids " TYPE c
expect "1 " DSO.NEW logreg.Weights w 1
expect "4 " DSO.CALL logreg.Weights w add 0.5 4 IDEMPOTENT worker1 1
expect "4 " DSO.CALL logreg.Weights w add 0.5 4 IDEMPOTENT worker1 1
expect "0.5 " DSO.CALL logreg.Weights w get
cli SHUTDOWN >/dev/null 2>&1 || true
wait "$server"
server=
echo "module install test ok"

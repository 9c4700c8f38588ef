#!/usr/bin/env bash
# The client workflow of docs/dso.md "Client API", out of the tree: installs
# the build into a temporary prefix, builds a program against it with
# find_package(nvobj) and nvobj::dso_client, runs it and the installed
# Python module against the installed nvobj-dso.
# Usage: client_install_test.sh BUILD_DIR
set -euo pipefail
build=$1
command -v redis-cli >/dev/null || { echo "redis-cli not installed: skipped"; exit 77; }
work=$(mktemp -d)
pool_dir=$(mktemp -d /dev/shm/nvobj-client-install-XXXXXX)
server=
cleanup() {
  [[ -n $server ]] && kill -9 "$server" 2>/dev/null || true
  rm -rf "$work" "$pool_dir"
}
trap cleanup EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
mkdir "$work/app"
cat >"$work/app/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(client_app CXX)
find_package(nvobj 0.1 REQUIRED)
add_executable(app app.cc)
target_link_libraries(app PRIVATE nvobj::dso_client)
CMAKE
cat >"$work/app/app.cc" <<'CXX'
#include <cstdio>
#include <cstdlib>

#include <nvobj/dso-backend/client/client.h>

int main(int, char** argv) {
  nvobj::dso::ClientOptions o;
  o.port = std::atoi(argv[1]);
  nvobj::dso::Client client(o);
  client.atomic_long("n").add_and_get(41);
  auto b = client.barrier("b", 1);
  std::printf("%lld %lld\n", static_cast<long long>(client.atomic_long("n").increment_and_get()),
              static_cast<long long>(b.await()));
}
CXX
cmake -S "$work/app" -B "$work/app/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/app/build" >/dev/null
# The client links no nvobj runtime.
if nm -C "$work/app/build/app" | grep -q "nvobj::Store::"; then
  echo "the client program carries the nvobj runtime" >&2
  exit 1
fi

exec 3< <(exec "$work/prefix/bin/nvobj-dso" --pool "$pool_dir/dso.pool" --size 32M \
  --mode emulated --port 0 --log-level warn)
server=$!
read -r -t 60 line <&3 || { echo "nvobj-dso did not start" >&2; exit 1; }
port=${line##*:}
got=$("$work/app/build/app" "$port")
[[ $got == "42 0" ]] || { echo "app: got '$got', want '42 0'" >&2; exit 1; }
if /usr/bin/python3 -c "import redis" 2>/dev/null; then
  got=$(PYTHONPATH="$work/prefix/share/nvobj/python" /usr/bin/python3 -c "
import nvobj_dso
print(nvobj_dso.Client(port=$port).atomic_long('n').increment_and_get())")
  [[ $got == "43" ]] || { echo "nvobj_dso: got '$got', want '43'" >&2; exit 1; }
fi
redis-cli -p "$port" SHUTDOWN >/dev/null 2>&1 || true
wait "$server"
server=
echo "client install test ok"

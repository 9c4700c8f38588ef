#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds a tiny application
# against it twice, with find_package(nvobj) and with pkg-config, and runs both.
# Usage: run_install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
pool_dir=$(mktemp -d /dev/shm/nvobj-install-XXXXXX)
trap 'rm -rf "$work" "$pool_dir"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src/tests/install/app" -B "$work/app" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/app" >/dev/null
"$work/app/install_app" "$pool_dir/cmake.pool"

export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig:$work/prefix/lib/x86_64-linux-gnu/pkgconfig"
# shellcheck disable=SC2046
g++ -o "$work/app_pc" "$src/tests/install/app/main.cc" $(pkg-config --cflags --libs --static nvobj)
"$work/app_pc" "$pool_dir/pc.pool"
[[ -x $work/prefix/bin/nvobj-pool ]] || { echo "nvobj-pool not installed" >&2; exit 1; }

# Every installed header compiles with only what is installed beside it (a
# header that includes one left out of the install lists fails here).
(cd "$work/prefix/include" && find nvobj -name '*.h' | sort | sed 's/.*/#include <&>/') >"$work/all.cc"
# shellcheck disable=SC2046
g++ -std=c++20 -fsyntax-only $(pkg-config --cflags nvobj) "$work/all.cc" ||
  { echo "an installed header does not compile on its own" >&2; exit 1; }
echo "install test ok"

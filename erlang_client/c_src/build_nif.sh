#!/bin/sh
# Builds priv/epmdns_nif.so for rebar3 and Mix (the pre_hooks entry of ../rebar.config), with
# CMake through c_src/CMakeLists.txt: the NIF target and the libraries it links, nothing else.
# Run from the application directory (erlang_client/, where rebar.config is).
#
# Where the C++ sources come from (the NIF needs ../resolver and ../server/{common,wire}):
#   - $EPMDNS_ROOT_DIR, if set;
#   - else the nearest directory above this application that holds them (a full checkout,
#     or _checkouts/epmdns as a symlink to erlang_client/ of one; the real path counts);
#   - else the git repository this application is in, read with git archive: rebar3's
#     git_subdir and Mix's sparse: dependencies fetch the whole repository but leave only
#     the application's directory in the work tree.
# Build directory: $EPMDNS_NIF_BUILD_DIR, else $REBAR_BUILD_DIR/epmdns_nif (rebar3 sets
# REBAR_BUILD_DIR to _build/<profile>), else _build/epmdns_nif here.
# Parallel jobs: $CMAKE_BUILD_PARALLEL_LEVEL, else the number of CPUs.
set -eu

app_dir=$(pwd -P)
if [ ! -f "$app_dir/c_src/epmdns_nif.cc" ]; then
  echo "epmdns: build_nif.sh must run in the epmdns application directory (not $app_dir)" >&2
  exit 1
fi
build_dir=${EPMDNS_NIF_BUILD_DIR:-${REBAR_BUILD_DIR:-$app_dir/_build}/epmdns_nif}
mkdir -p "$build_dir"
build_dir=$(cd "$build_dir" && pwd -P)

have_sources() {
  [ -f "$1/resolver/CMakeLists.txt" ] && [ -f "$1/server/wire_library.cmake" ]
}

# The nearest directory above the application that holds the sources, if any.
checkout=
dir=$app_dir
while [ "$dir" != / ]; do
  dir=$(dirname "$dir")
  if have_sources "$dir"; then checkout=$dir; break; fi
done
if [ -n "${EPMDNS_ROOT_DIR:-}" ]; then
  root=$EPMDNS_ROOT_DIR
elif [ -n "$checkout" ]; then
  root=$checkout
elif repo=$(git -C "$app_dir" rev-parse --show-toplevel 2>/dev/null) && [ -n "$repo" ]; then
  # A sparse checkout: the sources are in its commit, not in its work tree. Extracted again
  # only when that commit changes.
  commit=$(git -C "$repo" rev-parse HEAD)
  root=$build_dir/src
  if [ "$(cat "$root/.commit" 2>/dev/null || true)" != "$commit" ]; then
    echo "epmdns: extracting resolver/ and server/ of $commit from $repo/.git"
    rm -rf "$root"
    mkdir -p "$root"
    git -C "$repo" archive --format=tar "$commit" resolver server/common server/wire | tar -x -C "$root"
    echo "$commit" > "$root/.commit"
  fi
else
  echo "epmdns: cannot find the C++ sources the NIF needs (resolver/, server/wire/, server/common/)" >&2
  echo "epmdns: not above $app_dir, which is in no git repository either; set EPMDNS_ROOT_DIR" >&2
  exit 1
fi

command -v cmake >/dev/null 2>&1 || { echo "epmdns: cmake not found (the NIF is built with CMake >= 3.25)" >&2; exit 1; }
cmake -S "$app_dir/c_src" -B "$build_dir/cmake" -DEPMDNS_ROOT="$root" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build_dir/cmake" --target epmdns_nif --parallel "${CMAKE_BUILD_PARALLEL_LEVEL:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}"
mkdir -p "$app_dir/priv"
cmake -E copy_if_different "$build_dir/cmake/erlang_client/epmdns/priv/epmdns_nif.so" "$app_dir/priv/epmdns_nif.so"

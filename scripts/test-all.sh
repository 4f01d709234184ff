#!/usr/bin/env bash
# test-all.sh - runs every test of wq: the one test command of the project.
#
#   ./scripts/test-all.sh
#
# Suites, each counted once in the final "N passed, M failed" line:
#   rust                  cargo test --workspace (unit, integration and doc tests),
#                         and the async API's tests (--features tokio)
#   python                python/tests/run.sh: pip install ./python into a fresh venv
#                         (maturin from PyPI), type-stub check, pytest
#   cmake                 CMake Release build + CTest: C and C++ tests, the demo,
#                         9 cross-language producer->consumer pairs, C, C++ and
#                         Rust workers leasing from one queue
#   sanitize              CMake Debug build with ASan/UBSan + CTest over the C/C++ tests
#   package-subdirectory  a parent project using add_subdirectory(wq)
#   install               cmake --install to a temporary prefix, then the build tree is deleted
#   package-shared        out-of-tree find_package(wq) consumer linking wq::wq
#   package-static        the same linking wq::wq_static
#   package-pkgconfig     cc $(pkg-config --cflags --libs wq), and the static library
#   bench-smoke           bench/run.sh --smoke: every benchmark workload once with tiny
#                         counts (wq, the Boost recipe, message_queue, POSIX mq, a pipe,
#                         iceoryx2), every sequence check, nothing left behind
#   shm-clean             no test queue left behind in /dev/shm
#
# Needs: cargo/rustc >= Cargo.toml's rust-version, cmake >= 3.16, a C11 and
# C++17 compiler (g++), pkg-config, readelf (binutils), setpriv/unshare
# (util-linux), script (bsdutils), python3 >= 3.11 with pip (and PyPI):
# scripts/deps.sh checks them first and
# installs what is missing where it can (or says how).
#
# Output: one line per suite, then "N passed, M failed". Each suite's full
# output goes to a log, printed only when the suite fails.
#
# Every cargo build shares one target directory, $CARGO_TARGET_DIR (default
# ./target): the Rust tests and CMake's examples and CLI build there, and
# CMake's library (linked with its SONAME) in its wq-cmake-lib/ directory.
# CMake build trees and logs go to a temporary directory that is removed at
# the end. Exit status: 0 when every suite passed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

"$root/scripts/deps.sh" test

jobs=$(nproc 2>/dev/null || echo 2)
work=$(mktemp -d "${TMPDIR:-/tmp}/wq-test-all.XXXXXX")
# Every queue the C/C++/cross tests create starts with this tag.
export WQ_TEST_TAG="wqt$$"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

cleanup() {
    rm -rf "$work"
    rm -f /dev/shm/"$WQ_TEST_TAG"-* 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

target=${CARGO_TARGET_DIR:-$root/target}
mkdir -p "$target"
target=$(cd "$target" && pwd)
export CARGO_TARGET_DIR="$target"
# The library apart: CMake links it with `cargo rustc -- <SONAME>`, which a
# plain cargo build of the same crate in the same directory would undo.
lib_cargo="$target/wq-cmake-lib"
cargo_dirs=(-DWQ_CARGO_TARGET_DIR="$lib_cargo" -DWQ_CARGO_TOOLS_DIR="$target")
logs="$work/logs"
mkdir -p "$logs"

release="$work/build-release"
sanitize="$work/build-sanitize"
prefix="$work/prefix"

passed=0
failed=0
results=()

# suite NAME COMMAND...: runs COMMAND in a subshell with `set -e` in force,
# its output in $logs/NAME.log; prints one line, and the log on failure.
suite() {
    local name=$1 rc start=$SECONDS log="$logs/$1.log"
    shift
    printf '%-22s ' "$name"
    set +e
    (set -e; "$@") >"$log" 2>&1 </dev/null
    rc=$?
    set -e
    local line
    if [[ $rc -eq 0 ]]; then
        passed=$((passed + 1))
        line="PASS  $name ($((SECONDS - start)) s)"
        echo "passed ($((SECONDS - start)) s)"
    else
        failed=$((failed + 1))
        line="FAIL  $name ($((SECONDS - start)) s, exit $rc)"
        echo "FAILED ($((SECONDS - start)) s, exit $rc); its output:"
        sed 's/^/    /' "$log"
        echo "--- end of $name"
    fi
    results+=("$line")
}

rust_tests() {
    cargo test --workspace --no-fail-fast
    # The async API (cargo feature "tokio"): its tests and doc examples.
    cargo test -p wq --features tokio --no-fail-fast --test async
    cargo test -p wq --features tokio --no-fail-fast --doc
}

cmake_release() {
    cmake -S "$root" -B "$release" -DCMAKE_BUILD_TYPE=Release "${cargo_dirs[@]}"
    cmake --build "$release" -j "$jobs"
    (cd "$release" && ctest --output-on-failure -j "$jobs")
}

cmake_sanitize() {
    cmake -S "$root" -B "$sanitize" -DCMAKE_BUILD_TYPE=Debug -DWQ_SANITIZE=ON \
        -DWQ_BUILD_RUST_EXAMPLES=OFF -DWQ_BUILD_CLI=OFF "${cargo_dirs[@]}"
    cmake --build "$sanitize" -j "$jobs"
    (cd "$sanitize" && ctest --output-on-failure -j "$jobs")
    rm -rf "$sanitize"
}

package_subdirectory() {
    # Reuses the Release build's library: cargo finds it up to date.
    "$root/tests/package/run.sh" subdirectory "$root" "$work/subdir" "$lib_cargo"
    rm -rf "$work/subdir"
}

install_and_delete_build_tree() {
    cmake --install "$release" --prefix "$prefix"
    rm -rf "$release"
    local f
    for f in lib/libwq.so lib/libwq.so.0 lib/libwq.a include/wq.h include/wq.hpp \
             lib/cmake/wq/wqConfig.cmake lib/cmake/wq/wqConfigVersion.cmake \
             lib/cmake/wq/wqTargets.cmake lib/pkgconfig/wq.pc; do
        [[ -e "$prefix/$f" ]] || { echo "not installed: $f" >&2; return 1; }
    done
    readelf -d "$prefix/lib/libwq.so" | grep -q 'SONAME.*\[libwq\.so\.0\]'
    if grep -rq "$work/build-" "$prefix/lib/cmake/wq" "$prefix/lib/pkgconfig"; then
        echo "the installed package refers to the build tree" >&2
        return 1
    fi
    find "$prefix" -type f -o -type l | sort
}

shm_clean() {
    local left
    left=$(find /dev/shm -maxdepth 1 -name "$WQ_TEST_TAG-*" 2>/dev/null)
    if [[ -n "$left" ]]; then
        echo "queues left behind:" >&2
        echo "$left" >&2
        return 1
    fi
}

suite rust rust_tests
suite python "$root/python/tests/run.sh" "$work/python"
suite cmake cmake_release
suite sanitize cmake_sanitize
suite package-subdirectory package_subdirectory
suite install install_and_delete_build_tree
suite package-shared "$root/tests/package/run.sh" cmake "$prefix" "$work/pkg" wq::wq
suite package-static "$root/tests/package/run.sh" cmake "$prefix" "$work/pkg" wq::wq_static
suite package-pkgconfig "$root/tests/package/run.sh" pkgconfig "$prefix" "$work/pkg"
suite bench-smoke env WQ_BENCH_TARGET="$target" "$root/bench/run.sh" --smoke
suite shm-clean shm_clean

echo
printf '%s\n' "${results[@]}"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

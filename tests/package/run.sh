#!/usr/bin/env bash
# run.sh - package tests of wq: builds tests/package/consumer (C, C++17 and
# C++14 programs; and once more as a project without C++) the ways users
# do, and runs what they built.
#
#   run.sh subdirectory WQ_SOURCE_DIR WORK_DIR [CARGO_TARGET_DIR]
#       add_subdirectory(wq) in a parent project
#   run.sh cmake PREFIX WORK_DIR wq::wq|wq::wq_static
#       find_package(wq CONFIG REQUIRED) with CMAKE_PREFIX_PATH=PREFIX
#   run.sh pkgconfig PREFIX WORK_DIR
#       cc $(pkg-config --cflags --libs wq) with PKG_CONFIG_PATH under PREFIX
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mode=$1

needed_libs() {  # the NEEDED entries of an ELF file
    readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
}

run_consumers() {  # DIR: runs the consumers built there
    "$1/consumer_c"
    "$1/consumer_cpp"
    "$1/consumer_cpp14"
}

# c_only_consumer BUILD_DIR CMAKE_ARGS...: the consumer as a C-only project
# (C++ never enabled) configures, builds and runs against wq.
c_only_consumer() {
    local build=$1
    shift
    cmake -S "$here/consumer" -B "$build" -DCMAKE_BUILD_TYPE=Release -DWQ_C_ONLY=ON "$@"
    cmake --build "$build" -j "$(nproc)"
    "$build/consumer_c"
}

case "$mode" in
subdirectory)
    src=$2 work=$3 cargo_dir=${4:-}
    extra=()
    if [[ -n "$cargo_dir" ]]; then
        extra+=("-DWQ_CARGO_TARGET_DIR=$cargo_dir")
    fi
    cmake -S "$here/consumer" -B "$work/subdir-build" -DCMAKE_BUILD_TYPE=Release \
        -DWQ_SOURCE_DIR="$src" "${extra[@]}"
    cmake --build "$work/subdir-build" -j "$(nproc)"
    run_consumers "$work/subdir-build"
    c_only_consumer "$work/subdir-build-c" -DWQ_SOURCE_DIR="$src" "${extra[@]}"
    ;;
cmake)
    prefix=$2 work=$3 target=$4
    build="$work/consumer-${target//:/_}"
    cmake -S "$here/consumer" -B "$build" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PREFIX_PATH="$prefix" -DWQ_TARGET="$target"
    cmake --build "$build" -j "$(nproc)"
    run_consumers "$build"
    c_only_consumer "$build-c" -DCMAKE_PREFIX_PATH="$prefix" -DWQ_TARGET="$target"
    needed=$(needed_libs "$build/consumer_c")
    if [[ "$target" == wq::wq ]]; then
        grep -qx 'libwq.so.0' <<<"$needed" || { echo "consumer_c does not need libwq.so.0: $needed" >&2; exit 1; }
        # It runs from the prefix, not from a build tree that no longer exists.
        # Not `ldd | grep -q`: under pipefail, grep quitting early can kill ldd with SIGPIPE.
        resolved=$(ldd "$build/consumer_c")
        grep -q "$prefix/.*libwq.so.0" <<<"$resolved" || { echo "$resolved" >&2; exit 1; }
    else
        if grep -q libwq <<<"$needed"; then
            echo "consumer_c is linked statically but needs: $needed" >&2
            exit 1
        fi
    fi
    echo "package test with $target: ok"
    ;;
pkgconfig)
    prefix=$2 work=$3
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    echo "pkg-config --cflags --libs wq: $(pkg-config --cflags --libs wq)"
    echo "pkg-config --modversion wq: $(pkg-config --modversion wq)"
    mkdir -p "$work/pkgconfig"
    # shellcheck disable=SC2046 # the flags are meant to split
    ${CC:-cc} -std=c11 -Wall -Wextra -Wpedantic -Werror "$here/consumer/consumer.c" \
        -o "$work/pkgconfig/consumer_c" $(pkg-config --cflags --libs wq)
    LD_LIBRARY_PATH="$(pkg-config --variable=libdir wq)" "$work/pkgconfig/consumer_c"
    # The static library with the system libraries from Libs.private.
    # shellcheck disable=SC2046
    ${CC:-cc} -std=c11 -Wall -Wextra -Wpedantic -Werror "$here/consumer/consumer.c" \
        -o "$work/pkgconfig/consumer_c_static" $(pkg-config --cflags wq) \
        "$(pkg-config --variable=libdir wq)/libwq.a" $(pkg-config --libs-only-l --static wq | sed 's/-lwq\b//')
    "$work/pkgconfig/consumer_c_static"
    echo "pkg-config test: ok"
    ;;
*)
    echo "usage: $0 subdirectory|cmake|pkgconfig ..." >&2
    exit 2
    ;;
esac

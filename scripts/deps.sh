#!/usr/bin/env bash
# deps.sh - checks that this machine has what building and testing wq needs,
# installs what is missing through apt-get where it can, and otherwise says
# exactly what to install. The one dependency check of the project: the
# README's demo command, ./scripts/test-all.sh and .ci/run all run it.
#
#   ./scripts/deps.sh demo   cargo/rustc >= Cargo.toml's rust-version, cmake,
#                            a C and a C++ compiler
#   ./scripts/deps.sh test   the same, and pkg-config, readelf (binutils),
#                            setpriv and unshare (util-linux), script (bsdutils)
#   ./scripts/deps.sh ci     the same, and Boost's headers (the Boost.Asio and
#                            recipe examples) and rustup's rustfmt and clippy
#
# Installs with apt-get when it runs as root or with password-less sudo;
# WQ_NO_INSTALL=1 only reports. Exit status 0 when everything is there,
# 2 when something is missing (with the command that installs it).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
level=${1:-}
case "$level" in
demo | test | ci) ;;
*)
    echo "usage: $0 demo|test|ci" >&2
    exit 2
    ;;
esac

say() { echo "deps.sh: $*" >&2; }

# ---- Rust: not from apt (Debian's rustc is older than edition 2024) -------

rust_version=$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$root/Cargo.toml" | head -n 1)
rustup_hint="install or update Rust with rustup (https://rustup.rs): \
curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh, then: rustup update stable"
if ! command -v cargo >/dev/null 2>&1 || ! command -v rustc >/dev/null 2>&1; then
    say "cargo and rustc (Rust >= $rust_version) are not installed; $rustup_hint"
    exit 2
fi
have=$(rustc --version | sed -n 's/^rustc \([0-9][0-9.]*\).*/\1/p')
# version_lt A B: A < B, comparing MAJOR.MINOR.PATCH numerically.
version_lt() {
    local IFS=.
    local -a a=($1) b=($2)
    local i
    for i in 0 1 2; do
        if ((${a[i]:-0} != ${b[i]:-0})); then
            ((${a[i]:-0} < ${b[i]:-0}))
            return
        fi
    done
    return 1
}
if [[ -z "$have" ]] || version_lt "$have" "$rust_version"; then
    say "wq needs Rust >= $rust_version (it is written in edition 2024), but this is \
$(rustc --version); $rustup_hint"
    exit 2
fi

# ---- system packages: tool -> Debian package ------------------------------

need=()
want() {  # want TOOL PACKAGE: PACKAGE provides TOOL
    command -v "$1" >/dev/null 2>&1 || need+=("$2")
}
want cmake cmake
want cc gcc
want g++ g++
if [[ $level != demo ]]; then
    want pkg-config pkg-config
    want readelf binutils
    want setpriv util-linux
    want unshare util-linux
    want script bsdutils
fi
if [[ $level == ci ]]; then
    # Boost's headers, for the Boost.Asio example and the recipe test only
    # (wq itself never needs Boost).
    [[ -f /usr/include/boost/asio.hpp ]] || need+=(libboost-dev)
fi
# Each package once, in order.
if ((${#need[@]} > 0)); then
    mapfile -t need < <(printf '%s\n' "${need[@]}" | awk '!seen[$0]++')
fi

if ((${#need[@]} > 0)); then
    sudo=()
    can_install=no
    if [[ ${WQ_NO_INSTALL:-0} != 1 ]] && command -v apt-get >/dev/null 2>&1; then
        if [[ $(id -u) -eq 0 ]]; then
            can_install=yes
        elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo)
            can_install=yes
        fi
    fi
    if [[ $can_install == yes ]]; then
        say "installing ${need[*]} (apt-get)"
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
    else
        say "missing: ${need[*]}; on Debian or Ubuntu install them with:"
        say "    sudo apt-get install -y ${need[*]}"
        say "(elsewhere: the same tools from your distribution's packages)"
        exit 2
    fi
fi

if [[ $level == ci ]] && command -v rustup >/dev/null 2>&1; then
    installed=$(rustup component list --installed 2>/dev/null || true)
    for component in rustfmt clippy; do
        grep -q "^$component" <<<"$installed" || rustup component add "$component"
    done
fi

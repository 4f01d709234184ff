#!/usr/bin/env bash
# One command for the whole wq benchmark suite (see bench/README.md):
#   bench/run.sh [--reps N] [--scale X] [--only tp8,tp1k,...]
#   bench/run.sh --smoke    # every workload once, tiny counts: does it all run and pass its checks?
# Installs libboost-dev and strace if missing (bench only: Boost is never a
# dependency of the library), builds wq (release) and the bench programs
# (-O2), runs every workload with producer and consumer pinned to different
# CPUs, and writes bench/RESULTS.md and bench/results.jsonl.
#
# Environment: WQ_BENCH_TARGET = cargo target dir (default /tmp/wq-bench-target,
# kept apart from the shared target/ so other builds don't contend for its lock).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
TARGET="${WQ_BENCH_TARGET:-/tmp/wq-bench-target}"
COMMAND="bench/run.sh${*:+ $*}"
# `--only py`: the Python bindings' bench instead (bench/python/run.sh).
for arg in "$@"; do
    if [ "$arg" = py ]; then exec "$BENCH_DIR/python/run.sh" "$@"; fi
done

if [ "$(nproc)" -lt 2 ]; then
    echo "run.sh: needs at least 2 CPUs (producer and consumer are pinned apart)" >&2
    exit 1
fi

need=()
[ -f /usr/include/boost/interprocess/managed_shared_memory.hpp ] || need+=(libboost-dev)
command -v strace >/dev/null || need+=(strace)
command -v g++ >/dev/null || need+=(g++)
if [ ${#need[@]} -gt 0 ]; then
    echo "== installing ${need[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "== building (target dir $TARGET)"
export CARGO_TARGET_DIR="$TARGET"
(cd "$ROOT" && cargo build --release --quiet -p wq -p wq-bench)
# iceoryx2 is a peer, never a dependency of wq: its bench program is a crate
# of its own (bench/iox, own workspace and Cargo.lock), built only here.
cargo build --release --quiet --locked --manifest-path "$BENCH_DIR/iox/Cargo.toml"
# (Compiling cbench takes ~15 s of CPU: only when it is older than what it is made of.)
stale=0
for dep in "$BENCH_DIR/cbench.cpp" "$ROOT/include/wq.h" "$TARGET/release/libwq.so" "$BENCH_DIR/run.sh"; do
    [ "$TARGET/cbench" -nt "$dep" ] || stale=1
done
if [ "$stale" = 1 ]; then
    g++ -O2 -std=c++17 -Wall -Wextra -Werror -o "$TARGET/cbench" "$BENCH_DIR/cbench.cpp" \
        -I"$ROOT/include" -L"$TARGET/release" -lwq -Wl,-rpath,"$TARGET/release" -lpthread -lrt
fi

# POSIX message queues are limited to fs.mqueue.msg_max messages (default 10)
# of fs.mqueue.msgsize_max bytes (default 8192): raise them for the run when
# allowed, and put the old values back afterwards.
MQ=/proc/sys/fs/mqueue
old_msg_max="" old_msgsize_max=""
if [ -w "$MQ/msg_max" ] && [ -w "$MQ/msgsize_max" ]; then
    old_msg_max=$(cat "$MQ/msg_max")
    old_msgsize_max=$(cat "$MQ/msgsize_max")
    echo 65536 > "$MQ/msgsize_max" 2>/dev/null || true
    echo 4096 > "$MQ/msg_max" 2>/dev/null || true
fi

cleanup() {
    # Queues are removed by the driver after each run; this catches a crash.
    rm -f /dev/shm/wqb-$$-* /dev/shm/sem.wqb-$$-* /tmp/wqb-$$-strace-*
    if [ -d /dev/mqueue ]; then rm -f /dev/mqueue/wqb-$$-*; fi
    if [ -n "$old_msg_max" ]; then
        echo "$old_msg_max" > "$MQ/msg_max" 2>/dev/null || true
        echo "$old_msgsize_max" > "$MQ/msgsize_max" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# iceoryx2 keeps a directory per live node and service here (and removes it
# when they close); the smoke mode checks that the bench left none behind.
IOX_DIR=/tmp/iceoryx2
# (On a machine where iceoryx2 never ran the directories do not exist: find
# then fails, which must not end the run under `set -e -o pipefail`.)
iox_entries() { { find "$IOX_DIR/nodes" "$IOX_DIR/services" -mindepth 1 -maxdepth 1 2>/dev/null || true; } | sort; }
iox_before=$(iox_entries)

echo "== load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$BENCH_DIR/driver.py" --cbench "$TARGET/cbench" --rbench "$TARGET/release/wq-bench" \
    --iox "$TARGET/release/wq-bench-iox" --prefix "wqb-$$" --command "$COMMAND" "$@"

for arg in "$@"; do
    [ "$arg" = "--smoke" ] || continue
    left=$(ls -d /dev/shm/wqb-$$-* /dev/shm/sem.wqb-$$-* /dev/mqueue/wqb-$$-* 2>/dev/null || true)
    new_iox=$(comm -13 <(echo "$iox_before") <(iox_entries))
    if [ -n "$left$new_iox" ]; then
        echo "run.sh --smoke: the bench left these behind:" >&2
        echo "$left$new_iox" >&2
        exit 1
    fi
    echo "smoke: nothing left in /dev/shm, /dev/mqueue or $IOX_DIR"
done

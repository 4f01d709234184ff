#!/usr/bin/env bash
# bench/python/run.sh [--reps N] [--scale X] - the Python bindings' bench
# (bench/run.sh --only py runs it): installs wq (python/, release build) and
# faster-fifo (PyPI; bench only) into a venv under the bench target dir, then
# runs bench.py, which writes bench/python/RESULTS.md.
#
# Environment: WQ_BENCH_TARGET = cargo target dir and venv place (default
# /tmp/wq-bench-target, as bench/run.sh).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${WQ_BENCH_TARGET:-/tmp/wq-bench-target}
venv="$target/py-bench-venv"
args=()
while [ $# -gt 0 ]; do
    case $1 in
        --reps|--scale) args+=("$1" "$2"); shift 2 ;;
        --only) shift 2 ;;  # bench/run.sh's selector, which chose this bench
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

echo "== pip install ./python faster-fifo (venv $venv)"
mkdir -p "$target"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
CARGO_TARGET_DIR="$target/python" PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "$venv/bin/python" -m pip install -q "$root/python" "faster-fifo>=1.4"

prefix="wqb-$$-py"
trap 'rm -f /dev/shm/$prefix-*' EXIT
echo "== load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
cd "$target"  # not python/, whose source package would shadow the installed one
"$venv/bin/python" "$here/bench.py" --prefix "$prefix" --command "bench/run.sh --only py${args[*]:+ ${args[*]}}" \
    "${args[@]}"

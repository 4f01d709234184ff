#!/usr/bin/env bash
# run.sh [WORKDIR] - the Python package's checks, as scripts/test-all.sh runs
# them (suite "python"): builds python/ with pip (maturin, from PyPI through
# build isolation) into a fresh environment under WORKDIR, checks the type
# stubs against the built module, lints the extension crate, and runs pytest.
#
# Needs python3 (3.11+) with pip, cargo, a C and C++ compiler. The
# extension is built in $CARGO_TARGET_DIR/python (default target/python), so
# later runs reuse it; the tests build libwq and the Rust consumer example
# with cargo in $CARGO_TARGET_DIR (default target/).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
python=${PYTHON:-python3}
if [[ $# -ge 1 ]]; then
    work=$1
    mkdir -p "$work"
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/wq-python.XXXXXX")
    trap 'rm -rf "$work"' EXIT
fi
export PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1

echo "== the extension crate: rustfmt, clippy"
cargo fmt --manifest-path "$root/python/Cargo.toml" -- --check
CARGO_TARGET_DIR="$target/python" cargo clippy --manifest-path "$root/python/Cargo.toml" --locked \
    --all-targets -- -D warnings

echo "== pip install ./python pytest mypy (into $work)"
deps=("$root/python" "pytest>=7" "mypy>=1.18")
if "$python" -m venv "$work/venv" >/dev/null 2>&1; then
    py="$work/venv/bin/python"
    CARGO_TARGET_DIR="$target/python" "$py" -m pip install -q "${deps[@]}"
else
    # Debian's python3 without python3-venv: a plain directory instead.
    echo "(no working 'python3 -m venv': installing with pip --target)"
    py=$python
    CARGO_TARGET_DIR="$target/python" "$py" -m pip install -q --target "$work/site" "${deps[@]}"
    export PYTHONPATH="$work/site"
fi

# Out of python/, where the source package (without its extension) would
# shadow the installed one.
cd "$work"
echo "== type stubs (mypy.stubtest) and the package's annotations (mypy --strict)"
"$py" -m mypy.stubtest wq
"$py" -m mypy --strict --no-incremental -p wq

echo "== pytest"
"$py" -m pytest -q -p no:cacheprovider "$root/python/tests"

#!/bin/sh
# run_demo.sh MAIN - runs the recipe demo twice on a fresh queue: the first
# run fills it ("Filling data"), the second drains and checks it ("Getting
# data") and removes it.
set -eu
main=$1
queue="${WQ_TEST_TAG:-wqt}-$$-demo"
trap 'rm -f "/dev/shm/$queue"' EXIT
rm -f "/dev/shm/$queue"

first=$("$main" "$queue")
echo "first run: $first"
[ "$first" = "Filling data" ] || { echo "expected 'Filling data'" >&2; exit 1; }
[ -e "/dev/shm/$queue" ] || { echo "the queue should persist between runs" >&2; exit 1; }

second=$("$main" "$queue")
echo "second run: $second"
[ "$second" = "Getting data" ] || { echo "expected 'Getting data'" >&2; exit 1; }
if [ -e "/dev/shm/$queue" ]; then
    echo "the second run should have removed the queue" >&2
    exit 1
fi

#!/bin/sh
# run_leased_worker.sh LEASED_WORKER LEASE_CROSS_C
# c-examples/leased_worker.c on a fresh queue holding "first", "crash",
# "second", "third": the worker dies (abort) each time it takes "crash",
# and is started again, as a supervisor would. The task's lease ends with
# each death, so the next worker gets it again; at its 4th delivery it is
# a poison message and goes to QUEUE-dead. Passes when that took exactly 4
# runs, the other tasks were each done once and in order, the dead-letter
# queue holds "crash" only and the queue is empty. Both queues are removed
# whatever happens.
set -eu
worker=$1 helper=$2
queue="${WQ_TEST_TAG:-wqt}-$$-leased"
out=$(mktemp "${TMPDIR:-/tmp}/wq-leased-worker.XXXXXX")

cleanup() {
    rm -f "/dev/shm/$queue" "/dev/shm/$queue-dead" "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
rm -f "/dev/shm/$queue" "/dev/shm/$queue-dead"
ulimit -c 0 2>/dev/null || true  # the deaths are on purpose: no core files

"$helper" push "$queue" first crash second third
runs=0
until "$worker" "$queue" >>"$out"; do
    runs=$((runs + 1))
    if [ "$runs" -ge 10 ]; then
        echo "the worker kept dying" >&2
        exit 1
    fi
done
runs=$((runs + 1))
echo "leased-worker: $runs runs"
cat "$out"
[ "$runs" -eq 4 ] || { echo "expected 4 runs (3 deaths on \"crash\", then set aside)" >&2; exit 1; }
[ "$(cat "$out")" = "done: first
done: second
done: third" ] || { echo "each task other than \"crash\" must be done once, in order" >&2; exit 1; }
"$helper" expect "$queue-dead" crash
"$helper" expect "$queue"

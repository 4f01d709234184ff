#!/bin/sh
# run_epoll.sh WORKER PRODUCER COUNT
# Two producer processes push COUNT messages each onto two fresh queues; one
# worker thread (epoll-worker, asio-worker) serves both through their
# readiness descriptors and
# checks every message. Passes when all three exit 0 and the worker removed
# both queues. The queues are removed whatever happens.
set -eu
worker=$1 producer=$2 count=$3
a="${WQ_TEST_TAG:-wqt}-$$-epoll-a"
b="${WQ_TEST_TAG:-wqt}-$$-epoll-b"

cleanup() {
    rm -f "/dev/shm/$a" "/dev/shm/$b"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup

"$worker" "$a" "$count" "$b" "$count" &
worker_pid=$!
"$producer" "$a" "$count" &
pa=$!
"$producer" "$b" "$count" &
pb=$!
status=0
wait "$pa" || status=1
wait "$pb" || status=1
wait "$worker_pid" || status=1
echo "$(basename "$worker"): exit status $status"
if [ "$status" -ne 0 ]; then
    exit 1
fi
if [ -e "/dev/shm/$a" ] || [ -e "/dev/shm/$b" ]; then
    echo "the worker did not remove its queues" >&2
    exit 1
fi

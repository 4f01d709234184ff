#!/bin/sh
# run_pair.sh PRODUCER CONSUMER COUNT LABEL
# Runs a producer and a consumer as separate processes on one fresh queue;
# passes when both exit 0 (the consumer checks every message, exactly once,
# in order, and that nothing more arrives). The queue is removed whatever
# happens.
set -eu
producer=$1 consumer=$2 count=$3 label=$4
queue="${WQ_TEST_TAG:-wqt}-$$-$label"

cleanup() {
    rm -f "/dev/shm/$queue"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup

"$consumer" "$queue" "$count" &
consumer_pid=$!
producer_status=0
"$producer" "$queue" "$count" || producer_status=$?
consumer_status=0
wait "$consumer_pid" || consumer_status=$?

echo "$label: producer exit $producer_status, consumer exit $consumer_status"
if [ "$producer_status" -ne 0 ] || [ "$consumer_status" -ne 0 ]; then
    exit 1
fi
if [ -e "/dev/shm/$queue" ]; then
    echo "$label: the consumer did not remove the queue" >&2
    exit 1
fi

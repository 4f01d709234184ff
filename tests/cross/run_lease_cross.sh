#!/bin/sh
# run_lease_cross.sh C_WORKER CPP_WORKER RUST_WORKER COUNT
# Three leased workers, in C, C++ and Rust, on one fresh queue; once all of
# them have opened it, the C program's produce role pushes COUNT numbered
# tasks. Every worker acks what it takes; the C worker nacks every task
# whose number is a multiple of 10 the first time it gets it. Passes when
# every task was acked exactly once overall (none missing, none twice),
# each nacked task was acked at its second delivery and every other at its
# first, every worker acked some, and the queue's counters agree. The queue
# is removed whatever happens.
set -eu
c_worker=$1 cpp_worker=$2 rust_worker=$3 count=$4
queue="${WQ_TEST_TAG:-wqt}-$$-lease-cross"
logs=$(mktemp -d "${TMPDIR:-/tmp}/wq-lease-cross.XXXXXX")
pids=""

cleanup() {
    for pid in $pids; do
        kill "$pid" 2>/dev/null || true
    done
    rm -f "/dev/shm/$queue"
    rm -rf "$logs"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
rm -f "/dev/shm/$queue"

"$c_worker" work "$queue" "$count" 10 >"$logs/c" &
pids="$pids $!"
"$cpp_worker" "$queue" "$count" 0 >"$logs/cpp" &
pids="$pids $!"
"$rust_worker" "$queue" "$count" 0 >"$logs/rust" &
pids="$pids $!"

# Start producing only once every worker waits on the queue.
tries=0
until grep -qx ready "$logs/c" && grep -qx ready "$logs/cpp" && grep -qx ready "$logs/rust"; do
    tries=$((tries + 1))
    if [ "$tries" -gt 400 ]; then
        echo "the workers did not all start within 20 s" >&2
        exit 1
    fi
    sleep 0.05
done
"$c_worker" produce "$queue" "$count"

status=0
for pid in $pids; do
    wait "$pid" || status=1
done
pids=""
if [ "$status" -ne 0 ]; then
    echo "a worker failed" >&2
    exit 1
fi
stats=$("$c_worker" stats "$queue")
echo "counters: $stats"

for lang in c cpp rust; do
    echo "$lang: $(grep -c '^ack ' "$logs/$lang" || true) acked, $(grep -c '^nack ' "$logs/$lang" || true) nacked"
done
for lang in cpp rust; do
    if grep -q '^nack ' "$logs/$lang"; then
        echo "$lang nacked, but only the C worker may" >&2
        exit 1
    fi
done

awk -v n="$count" -v stats="$stats" '
FILENAME != last { last = FILENAME; lang = FILENAME; sub(".*/", "", lang) }
$1 == "ack"  { acked[$2]++; at[$2] = $3; total++; by[lang]++
               if (lang == "c" && $2 % 10 == 0 && $3 == 1) {
                   print "the C worker acked task " $2 " at its first delivery"; bad++ } }
$1 == "nack" { nacked[$2]++; nacks++
               if ($2 % 10 != 0) { print "task " $2 " nacked, not a multiple of 10"; bad++ } }
END {
    for (i = 0; i < n; i++) {
        if (acked[i] != 1) {
            print "task " i " acked " (acked[i] + 0) " times"
            bad++
            continue
        }
        want = (i in nacked) ? 2 : 1
        if ((i in nacked) && nacked[i] != 1) {
            print "task " i " nacked " nacked[i] " times"
            bad++
        }
        if (at[i] != want) {
            print "task " i " acked at delivery " at[i] ", expected " want
            bad++
        }
    }
    if (total != n) { print total " acks for " n " tasks"; bad++ }
    if (nacks == 0) { print "the C worker nacked nothing"; bad++ }
    if (by["c"] == 0 || by["cpp"] == 0 || by["rust"] == 0) {
        print "a worker acked nothing"
        bad++
    }
    want_stats = "len 0 popped " n " leased 0 acked " n " nacked " nacks \
                 " expired 0 abandoned 0 redelivered " nacks
    if (stats != want_stats) { print "counters: expected " want_stats; bad++ }
    if (bad) { print bad " problem(s)"; exit 1 }
    print total " tasks acked once each; " nacks " nacked by C, then acked at delivery 2"
}' "$logs/c" "$logs/cpp" "$logs/rust"

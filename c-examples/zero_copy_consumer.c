/* zero_copy_consumer.c - reads COUNT messages of the example stream from
 * QUEUE where they lie, without copying them, and checks them: every
 * message exactly once, whole, in order.
 *
 *   usage: c-zc-consumer QUEUE COUNT
 *
 * For each message: wq_pop_leased_view (a lease, and a pointer into the
 * queue), check every byte in place, wq_ack. Then checks that nothing
 * more arrives and removes the queue.
 * Exit status: 0 all good, 1 wrong data, 2 bad usage, 3 a wq call failed.
 */
#include <inttypes.h>
#include <stdio.h>

#include "message_stream.h"
#include "wq.h"

#define POP_TIMEOUT_NS (INT64_C(60) * 1000 * 1000 * 1000)

static const char PROG[] = "c-zc-consumer";

int main(int argc, char **argv) {
    uint64_t count = 0;
    wq_queue *q = NULL;
    int rc = stream_start(PROG, argc, argv, &count, &q);
    if (rc != 0) {
        return rc;
    }
    for (uint64_t next = 0; next < count && rc == 0; ++next) {
        const void *msg = NULL;
        size_t len = 0;
        wq_lease lease;
        wq_status s = wq_pop_leased_view(q, &msg, &len, &lease, WQ_FOREVER, POP_TIMEOUT_NS);
        if (s == WQ_OK && stream_check(next, msg, len) != 0) {
            rc = stream_mismatch(PROG, next, msg, len);
        }
        if (s == WQ_OK) {
            s = wq_ack(q, &lease); /* after this the bytes may be reused */
        }
        if (s != WQ_OK && rc == 0) {
            char what[80];
            snprintf(what, sizeof what, "zero-copy pop of message %" PRIu64, next);
            rc = stream_fail(PROG, what, s);
        }
    }
    /* Exactly COUNT: nothing more may arrive. */
    return stream_finish(PROG, q, argv[1], count, rc);
}

/* zero_copy_producer.c - pushes COUNT messages of the example stream onto
 * QUEUE without copying them: each is written straight into the queue.
 *
 *   usage: c-zc-producer QUEUE COUNT
 *
 * For each message: wq_push_reserve for its length (waiting for room), fill
 * the reserved bytes in place, wq_push_commit. Any consumer of the stream
 * (c-consumer, cpp-consumer, rust-consumer, c-zc-consumer) can check them.
 * Exit status: 0 done, 2 bad usage, 3 a wq call failed.
 */
#include <inttypes.h>
#include <stdio.h>

#include "message_stream.h"
#include "wq.h"

#define PUSH_TIMEOUT_NS (INT64_C(60) * 1000 * 1000 * 1000)

static const char PROG[] = "c-zc-producer";

int main(int argc, char **argv) {
    uint64_t count = 0;
    wq_queue *q = NULL;
    int rc = stream_start(PROG, argc, argv, &count, &q);
    if (rc != 0) {
        return rc;
    }
    for (uint64_t i = 0; i < count && rc == 0; ++i) {
        void *room = NULL;
        wq_status s = wq_push_reserve(q, stream_len(i), &room, PUSH_TIMEOUT_NS);
        if (s == WQ_OK) {
            size_t len = stream_fill(i, room); /* in the queue's memory */
            s = wq_push_commit(q, len);
        }
        if (s != WQ_OK) {
            char what[64];
            snprintf(what, sizeof what, "zero-copy push of message %" PRIu64, i);
            rc = stream_fail(PROG, what, s);
        }
    }
    wq_close(q);
    if (rc == 0) {
        printf("c-zc-producer: pushed %" PRIu64 " messages to %s in place\n", count, argv[1]);
    }
    return rc;
}

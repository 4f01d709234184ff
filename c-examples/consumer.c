/* consumer.c - pops COUNT messages of the example stream from QUEUE and
 * checks them: every message exactly once, whole, in order.
 *
 *   usage: c-consumer QUEUE COUNT
 *
 * Opens (or creates, with 1 MiB of storage) the queue, takes messages in
 * batches with wq_pop_batch, checks each against the stream, then checks
 * that nothing more arrives and removes the queue.
 * Exit status: 0 all good, 1 wrong data, 2 bad usage, 3 a wq call failed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "message_stream.h"
#include "wq.h"

#define POP_TIMEOUT_NS (INT64_C(60) * 1000 * 1000 * 1000)
#define MAX_BATCH 32

static const char PROG[] = "c-consumer";

int main(int argc, char **argv) {
    uint64_t count = 0;
    wq_queue *q = NULL;
    int rc = stream_start(PROG, argc, argv, &count, &q);
    if (rc != 0) {
        return rc;
    }

    size_t cap = 64 * 1024;
    unsigned char *buf = malloc(cap);
    wq_span spans[MAX_BATCH];
    wq_status s = WQ_OK;
    uint64_t next = 0;
    while (buf != NULL && rc == 0 && next < count) {
        size_t n = 0;
        size_t want = count - next < MAX_BATCH ? (size_t)(count - next) : MAX_BATCH;
        s = wq_pop_batch(q, buf, cap, spans, want, &n, POP_TIMEOUT_NS);
        if (s == WQ_BUFFER_TOO_SMALL) {
            /* The next message is larger than the buffer: grow and retry. */
            unsigned char *bigger = realloc(buf, spans[0].len);
            if (bigger == NULL) {
                break;
            }
            buf = bigger;
            cap = spans[0].len;
            continue;
        }
        if (s != WQ_OK) {
            char what[80];
            snprintf(what, sizeof what, "wq_pop_batch waiting for message %" PRIu64, next);
            rc = stream_fail(PROG, what, s);
            break;
        }
        for (size_t k = 0; k < n && rc == 0; ++k, ++next) {
            const unsigned char *msg = buf + spans[k].offset;
            if (stream_check(next, msg, spans[k].len) != 0) {
                rc = stream_mismatch(PROG, next, msg, spans[k].len);
            }
        }
    }
    if (buf == NULL && rc == 0) {
        fprintf(stderr, "c-consumer: out of memory\n");
        rc = 3;
    }

    free(buf);
    /* Exactly COUNT: nothing more may arrive. */
    return stream_finish(PROG, q, argv[1], count, rc);
}

/* Pushes messages 0..count-1 of the stream (stream.h) to an existing queue,
 * alternating wq_push and wq_push_batch. Usage: producer NAME COUNT */
#include <stdio.h>
#include <stdlib.h>

#include "stream.h"
#include "wq.h"

#define BATCH 8
#define TIMEOUT_NS ((int64_t)60 * 1000 * 1000 * 1000)

static uint8_t bufs[BATCH][STREAM_MAX_LEN];

int main(int argc, char **argv) {
    wq_queue *q = NULL;
    wq_status st;
    uint32_t count = 0;
    uint32_t seq = 0;
    int rc;

    rc = stream_start("producer", argc, argv, &count, &q);
    if (rc != 0) {
        return rc;
    }
    while (seq < count) {
        if ((seq / 64u) % 2u == 0u) {
            size_t len = stream_fill(seq, bufs[0]);
            st = wq_push(q, bufs[0], len, TIMEOUT_NS);
            if (st != WQ_OK) {
                fprintf(stderr, "producer: wq_push(%u): %s: %s\n", (unsigned)seq,
                        wq_status_str(st), wq_last_error());
                wq_close(q);
                return 1;
            }
            seq++;
        } else {
            wq_iovec iov[BATCH];
            size_t n = 0;
            size_t pushed = 0;
            while (n < BATCH && seq + n < count) {
                iov[n].data = bufs[n];
                iov[n].len = stream_fill(seq + (uint32_t)n, bufs[n]);
                n++;
            }
            st = wq_push_batch(q, iov, n, &pushed, TIMEOUT_NS);
            if (st != WQ_OK || pushed < 1 || pushed > n) {
                fprintf(stderr, "producer: wq_push_batch(%u, %u): %s, pushed %u: %s\n",
                        (unsigned)seq, (unsigned)n, wq_status_str(st), (unsigned)pushed,
                        wq_last_error());
                wq_close(q);
                return 1;
            }
            /* A prefix was pushed; the rest is pushed again next round. */
            seq += (uint32_t)pushed;
        }
    }
    wq_close(q);
    return 0;
}

/* producer.c - pushes COUNT messages of the example stream onto QUEUE.
 *
 *   usage: c-producer QUEUE COUNT
 *
 * Opens (or creates, with 1 MiB of storage) the queue and pushes messages
 * 0 .. COUNT-1 one at a time, waiting for room when the queue is full.
 * Exit status: 0 done, 2 bad usage, 3 a wq call failed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "message_stream.h"
#include "wq.h"

/* Give up when no consumer makes room for this long. */
#define PUSH_TIMEOUT_NS (INT64_C(60) * 1000 * 1000 * 1000)

static const char PROG[] = "c-producer";

int main(int argc, char **argv) {
    uint64_t count = 0;
    wq_queue *q = NULL;
    int rc = stream_start(PROG, argc, argv, &count, &q);
    if (rc != 0) {
        return rc;
    }

    unsigned char *buf = malloc(STREAM_MAX_LEN);
    if (buf == NULL) {
        fprintf(stderr, "c-producer: out of memory\n");
        wq_close(q);
        return 3;
    }

    for (uint64_t i = 0; i < count; ++i) {
        size_t len = stream_fill(i, buf);
        wq_status s = wq_push(q, buf, len, PUSH_TIMEOUT_NS);
        if (s != WQ_OK) {
            char what[64];
            snprintf(what, sizeof what, "wq_push of message %" PRIu64, i);
            rc = stream_fail(PROG, what, s);
            break;
        }
    }

    free(buf);
    wq_close(q);
    if (rc == 0) {
        printf("c-producer: pushed %" PRIu64 " messages to %s\n", count, argv[1]);
    }
    return rc;
}

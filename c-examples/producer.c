/* producer.c - pushes COUNT messages of the example stream onto QUEUE.
 *
 *   usage: c-producer QUEUE COUNT
 *
 * Opens (or creates, with 1 MiB of storage) the queue and pushes messages
 * 0 .. COUNT-1 one at a time, waiting for room when the queue is full.
 * Exit status: 0 done, 2 bad usage, 3 a wq call failed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "message_stream.h"
#include "wq.h"

/* Give up when no consumer makes room for this long. */
#define PUSH_TIMEOUT_NS (INT64_C(60) * 1000 * 1000 * 1000)

static int fail(const char *what, wq_status s) {
    fprintf(stderr, "c-producer: %s: %s (%s)\n", what, wq_status_str(s), wq_last_error());
    return 3;
}

static int parse_count(const char *text, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-') {
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int main(int argc, char **argv) {
    uint64_t count = 0;
    if (argc != 3 || parse_count(argv[2], &count) != 0) {
        fprintf(stderr, "usage: %s QUEUE COUNT\n", argc > 0 ? argv[0] : "c-producer");
        return 2;
    }

    wq_options opts;
    wq_options_default(&opts);
    opts.capacity = STREAM_CAPACITY;

    wq_queue *q = NULL;
    wq_status s = wq_open(argv[1], &opts, &q);
    if (s != WQ_OK) {
        return fail("wq_open", s);
    }

    unsigned char *buf = malloc(STREAM_MAX_LEN);
    if (buf == NULL) {
        fprintf(stderr, "c-producer: out of memory\n");
        wq_close(q);
        return 3;
    }

    int rc = 0;
    for (uint64_t i = 0; i < count; ++i) {
        size_t len = stream_fill(i, buf);
        s = wq_push(q, buf, len, PUSH_TIMEOUT_NS);
        if (s != WQ_OK) {
            char what[64];
            snprintf(what, sizeof what, "wq_push of message %" PRIu64, i);
            rc = fail(what, s);
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

/* Pops COUNT messages from an existing queue, alternating wq_pop and
 * wq_pop_batch, and checks that they are messages 0..COUNT-1 of the stream
 * (stream.h), each exactly once, in order, whole; then that the queue is
 * empty. Usage: consumer NAME COUNT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"
#include "wq.h"

#define TIMEOUT_NS ((int64_t)60 * 1000 * 1000 * 1000)
#define SPANS 16

static uint8_t expected[STREAM_MAX_LEN];
static uint8_t buf[STREAM_MAX_LEN * 4];

static int check(uint32_t seq, const uint8_t *got, size_t len) {
    size_t want = stream_fill(seq, expected);
    if (len != want) {
        fprintf(stderr, "consumer: message %u: length %u, expected %u", (unsigned)seq,
                (unsigned)len, (unsigned)want);
        if (len >= 8) {
            fprintf(stderr, " (it carries seq %u)", (unsigned)stream_get32(got));
        }
        fprintf(stderr, "\n");
        return 0;
    }
    if (len >= 8 && (stream_get32(got) != seq || stream_get32(got + 4) != stream_fnv(got + 8, len - 8))) {
        fprintf(stderr, "consumer: message %u: carries seq %u, checksum %s\n", (unsigned)seq,
                (unsigned)stream_get32(got),
                stream_get32(got + 4) == stream_fnv(got + 8, len - 8) ? "ok" : "bad");
        return 0;
    }
    if (len > 0 && memcmp(got, expected, len) != 0) {
        fprintf(stderr, "consumer: message %u: content differs\n", (unsigned)seq);
        return 0;
    }
    return 1;
}

int main(int argc, char **argv) {
    wq_queue *q = NULL;
    wq_status st;
    uint32_t count = 0;
    uint32_t seq = 0;
    size_t len = 0;
    int rc;

    rc = stream_start("consumer", argc, argv, &count, &q);
    if (rc != 0) {
        return rc;
    }
    while (seq < count) {
        if ((seq / 50u) % 2u == 0u) {
            st = wq_pop(q, buf, STREAM_MAX_LEN, &len, TIMEOUT_NS);
            if (st != WQ_OK) {
                fprintf(stderr, "consumer: wq_pop(%u): %s: %s\n", (unsigned)seq,
                        wq_status_str(st), wq_last_error());
                wq_close(q);
                return 1;
            }
            if (!check(seq, buf, len)) {
                wq_close(q);
                return 1;
            }
            seq++;
        } else {
            wq_span spans[SPANS];
            size_t n = 0;
            size_t i;
            st = wq_pop_batch(q, buf, sizeof buf, spans, SPANS, &n, TIMEOUT_NS);
            if (st != WQ_OK || n < 1 || n > SPANS) {
                fprintf(stderr, "consumer: wq_pop_batch(%u): %s, count %u: %s\n", (unsigned)seq,
                        wq_status_str(st), (unsigned)n, wq_last_error());
                wq_close(q);
                return 1;
            }
            for (i = 0; i < n; i++) {
                if (spans[i].offset + spans[i].len > sizeof buf ||
                    seq >= count || !check(seq, buf + spans[i].offset, spans[i].len)) {
                    fprintf(stderr, "consumer: batch entry %u of %u is wrong\n", (unsigned)i,
                            (unsigned)n);
                    wq_close(q);
                    return 1;
                }
                seq++;
            }
        }
    }
    st = wq_pop(q, buf, sizeof buf, &len, 0);
    if (st != WQ_EMPTY) {
        fprintf(stderr, "consumer: after %u messages: %s (extra message of %u bytes?)\n",
                (unsigned)count, wq_status_str(st), (unsigned)len);
        wq_close(q);
        return 1;
    }
    wq_close(q);
    return 0;
}

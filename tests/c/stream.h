/* The message stream shared by the C and Rust sides of the interop tests
 * (tests/c_interop.rs implements the same functions).
 *
 * Message number `seq` has msg_len(seq) bytes (0 to 4096). Byte i is
 * pattern(seq, i); when the message has at least 8 bytes, bytes 0..4 hold
 * `seq` and bytes 4..8 the FNV-1a checksum of bytes 8.., both little-endian.
 */
#ifndef WQT_STREAM_H
#define WQT_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "wq.h"

#define STREAM_MAX_LEN 4096u

static inline uint32_t stream_mix(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

static inline size_t stream_len(uint32_t seq) {
    if (seq % 97u == 0u) {
        return 0;
    }
    if (seq % 101u == 0u) {
        return STREAM_MAX_LEN;
    }
    return (size_t)(stream_mix(seq) % (STREAM_MAX_LEN + 1u));
}

static inline uint32_t stream_fnv(const uint8_t *p, size_t n) {
    uint32_t h = 0x811c9dc5U;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x01000193U;
    }
    return h;
}

static inline void stream_put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t stream_get32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* Writes message `seq` into `out` (at least STREAM_MAX_LEN bytes); returns its length. */
static inline size_t stream_fill(uint32_t seq, uint8_t *out) {
    size_t len = stream_len(seq);
    uint8_t salt = (uint8_t)(stream_mix(seq ^ 0xa5a5a5a5U) >> 24);
    size_t i;
    for (i = 0; i < len; i++) {
        out[i] = (uint8_t)(salt ^ (uint8_t)(i * 131u) ^ (uint8_t)(i >> 8));
    }
    if (len >= 8) {
        stream_put32(out, seq);
        stream_put32(out + 4, stream_fnv(out + 8, len - 8));
    }
    return len;
}

/* ---- Opening the queue, shared by the test programs ---- */

/* Opens the existing queue `name` (WQ_OPEN_ONLY) into *q. On failure reports
 * "PROG: wq_open: STATUS: DETAIL" and returns 0; returns 1 on success. */
static inline int stream_open_existing(const char *prog, const char *name, wq_queue **q) {
    wq_options opts;
    wq_status st;
    wq_options_default(&opts);
    opts.flags = WQ_OPEN_ONLY;
    st = wq_open(name, &opts, q);
    if (st != WQ_OK) {
        fprintf(stderr, "%s: wq_open: %s: %s\n", prog, wq_status_str(st), wq_last_error());
        return 0;
    }
    return 1;
}

/* The command line "NAME COUNT" of the producer and consumer: stores COUNT
 * in *count and opens the existing queue NAME into *q. Returns 0 on success,
 * otherwise the exit status after reporting: 2 bad usage, 1 wq_open failed. */
static inline int stream_start(const char *prog, int argc, char **argv, uint32_t *count,
                               wq_queue **q) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s NAME COUNT\n", prog);
        return 2;
    }
    *count = (uint32_t)strtoul(argv[2], NULL, 10);
    return stream_open_existing(prog, argv[1], q) ? 0 : 1;
}

#endif /* WQT_STREAM_H */

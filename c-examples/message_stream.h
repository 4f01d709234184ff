/* message_stream.h - the deterministic message stream shared by the wq
 * producer/consumer examples (C, C++ and Rust implement the same rules, so
 * any producer can feed any consumer):
 *
 *   h      = splitmix64(i)                       for message number i
 *   length = 8192 + (h >> 40) % 24576            when h % 100 == 0 (1 in 100)
 *            (h >> 8) % 1100                     otherwise
 *   byte j = (i >> 8j) & 0xff                    for j < 8 when length >= 8
 *            ((h >> 8(j % 8)) + j) & 0xff        otherwise
 */
#ifndef WQ_EXAMPLE_MESSAGE_STREAM_H
#define WQ_EXAMPLE_MESSAGE_STREAM_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "wq.h"

/* Largest message of the stream. */
#define STREAM_MAX_LEN ((size_t)(8192 + 24576))
/* Queue capacity the examples create with: small, so producers do wait. */
#define STREAM_CAPACITY ((uint64_t)1 << 20)

static inline uint64_t stream_hash(uint64_t i) {
    uint64_t z = i + UINT64_C(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static inline size_t stream_len(uint64_t i) {
    uint64_t h = stream_hash(i);
    if (h % 100 == 0) {
        return (size_t)(8192 + (h >> 40) % 24576);
    }
    return (size_t)((h >> 8) % 1100);
}

static inline unsigned char stream_byte(uint64_t i, size_t len, size_t j) {
    uint64_t h = stream_hash(i);
    if (j < 8 && len >= 8) {
        return (unsigned char)((i >> (8 * j)) & 0xff);
    }
    return (unsigned char)(((h >> (8 * (j % 8))) + j) & 0xff);
}

/* Writes message i into buf (room for STREAM_MAX_LEN); returns its length. */
static inline size_t stream_fill(uint64_t i, unsigned char *buf) {
    size_t len = stream_len(i);
    for (size_t j = 0; j < len; ++j) {
        buf[j] = stream_byte(i, len, j);
    }
    return len;
}

/* The message number stored in a message's first 8 bytes (when it has them). */
static inline uint64_t stream_index_of(const unsigned char *msg, size_t len) {
    uint64_t i = 0;
    if (len < 8) {
        return UINT64_MAX;
    }
    for (size_t j = 0; j < 8; ++j) {
        i |= (uint64_t)msg[j] << (8 * j);
    }
    return i;
}

/* 0 when msg is message i; otherwise the first differing byte + 1. */
static inline size_t stream_check(uint64_t i, const unsigned char *msg, size_t len) {
    if (len != stream_len(i)) {
        return (size_t)-1;
    }
    for (size_t j = 0; j < len; ++j) {
        if (msg[j] != stream_byte(i, len, j)) {
            return j + 1;
        }
    }
    return 0;
}

/* ---- The command line and queue setup both example programs share ---- */

/* Reports a failed wq call as "PROG: WHAT: STATUS (DETAIL)"; returns exit status 3. */
static inline int stream_fail(const char *prog, const char *what, wq_status s) {
    fprintf(stderr, "%s: %s: %s (%s)\n", prog, what, wq_status_str(s), wq_last_error());
    return 3;
}

/* Parses a decimal message count (no sign, no trailing text); 0 on success, -1 otherwise. */
static inline int stream_parse_count(const char *text, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-') {
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

/* Handles the command line "QUEUE COUNT": stores COUNT in *count and opens
 * (or creates, with STREAM_CAPACITY of storage) QUEUE into *q. Returns 0 on
 * success, otherwise the exit status after reporting the problem: 2 bad usage
 * (the usage line names argv[0], else PROG), 3 wq_open failed. */
static inline int stream_start(const char *prog, int argc, char **argv, uint64_t *count,
                               wq_queue **q) {
    if (argc != 3 || stream_parse_count(argv[2], count) != 0) {
        fprintf(stderr, "usage: %s QUEUE COUNT\n", argc > 0 ? argv[0] : prog);
        return 2;
    }

    wq_options opts;
    wq_options_default(&opts);
    opts.capacity = STREAM_CAPACITY;

    wq_status s = wq_open(argv[1], &opts, q);
    if (s != WQ_OK) {
        return stream_fail(prog, "wq_open", s);
    }
    return 0;
}

/* ---- What the consumers share: reporting a wrong message, the end ---- */

/* Reports that message `expected` is not what arrived; returns exit status 1. */
static inline int stream_mismatch(const char *prog, uint64_t expected, const unsigned char *msg,
                                  size_t len) {
    uint64_t got = stream_index_of(msg, len);
    if (got != UINT64_MAX && got != expected && got < expected) {
        fprintf(stderr, "%s: message %llu expected, got message %llu again (duplicate or reordering)\n",
                prog, (unsigned long long)expected, (unsigned long long)got);
    } else if (got != UINT64_MAX && got != expected) {
        fprintf(stderr, "%s: message %llu expected, got message %llu (a message was lost)\n", prog,
                (unsigned long long)expected, (unsigned long long)got);
    } else {
        fprintf(stderr, "%s: message %llu is damaged (%zu bytes, expected %zu)\n", prog,
                (unsigned long long)expected, len, stream_len(expected));
    }
    return 1;
}

/* After COUNT messages: checks for 200 ms that nothing more arrives, closes
 * the queue and, when all was well (`rc` 0), removes it. Returns the exit status. */
static inline int stream_finish(const char *prog, wq_queue *q, const char *name, uint64_t count,
                                int rc) {
    if (rc == 0) {
        size_t len = 0;
        wq_status s = wq_pop(q, NULL, 0, &len, INT64_C(200) * 1000 * 1000);
        if (s == WQ_OK || s == WQ_BUFFER_TOO_SMALL) {
            fprintf(stderr, "%s: an extra message of %zu bytes after %llu\n", prog, len,
                    (unsigned long long)count);
            rc = 1;
        } else if (s != WQ_EMPTY) {
            rc = stream_fail(prog, "wq_pop (final)", s);
        }
    }
    wq_close(q);
    if (rc == 0) {
        wq_status s = wq_remove(name);
        if (s != WQ_OK && s != WQ_NOT_FOUND) {
            return stream_fail(prog, "wq_remove", s);
        }
        printf("%s: received %llu messages from %s, all in order\n", prog,
               (unsigned long long)count, name);
    }
    return rc;
}

#endif /* WQ_EXAMPLE_MESSAGE_STREAM_H */

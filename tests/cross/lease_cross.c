/* lease_cross.c - the C side of the cross-language lease tests, one program
 * with a role per first argument:
 *
 *   lease-cross-c produce QUEUE COUNT    pushes "task 0" .. "task COUNT-1"
 *   lease-cross-c work QUEUE COUNT NACK  a leased worker (below)
 *   lease-cross-c stats QUEUE            prints the queue's counters
 *   lease-cross-c push QUEUE MSG...      pushes each MSG
 *   lease-cross-c expect QUEUE MSG...    pops exactly the MSGs, in order, then nothing
 *
 * Every role opens QUEUE, creating it with 1 MiB of storage if new.
 *
 * The worker prints "ready" once the queue is open, then takes tasks under a
 * 30 s lease and prints "ack N D" for each task N it acked at delivery D.
 * With NACK > 0 it nacks (prints "nack N") every task whose number is a
 * multiple of NACK the first time it is delivered. It ends when it finds
 * nothing to lease and the queue's acked_total has reached COUNT (so all the
 * workers on the queue end together), and fails after 60 s.
 * The Rust (lease_cross.rs) and C++ (lease_cross.cpp) workers do the same.
 *
 * Exit status: 0 done, 1 wrong data or no end, 2 bad usage, 3 a wq call failed.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep, clock_gettime */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wq.h"

#define MS (INT64_C(1000) * 1000)
#define LEASE_NS (INT64_C(30) * 1000 * MS)
#define POLL_NS (100 * MS)
#define GIVE_UP_NS (INT64_C(60) * 1000 * MS)

static const char PROG[] = "lease-cross-c";

static int fail(const char *what, wq_status s) {
    fprintf(stderr, "%s: %s: %s (%s)\n", PROG, what, wq_status_str(s), wq_last_error());
    return 3;
}

static int parse_u64(const char *text, uint64_t *out) {
    char *end = NULL;
    if (text[0] < '0' || text[0] > '9') {
        return -1;
    }
    unsigned long long v = strtoull(text, &end, 10);
    *out = (uint64_t)v;
    return *end == '\0' ? 0 : -1;
}

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 * MS + t.tv_nsec;
}

/* The task number of a message "task N", or -1 if it is not one. */
static int parse_task(const char *msg, size_t len, uint64_t count, uint64_t *n) {
    char text[32];
    if (len <= 5 || len >= sizeof text || memcmp(msg, "task ", 5) != 0) {
        return -1;
    }
    memcpy(text, msg + 5, len - 5);
    text[len - 5] = '\0';
    return parse_u64(text, n) == 0 && *n < count ? 0 : -1;
}

static int produce(wq_queue *q, uint64_t count) {
    for (uint64_t i = 0; i < count; ++i) {
        char msg[32];
        int len = snprintf(msg, sizeof msg, "task %" PRIu64, i);
        wq_status s = wq_push(q, msg, (size_t)len, GIVE_UP_NS);
        if (s != WQ_OK) {
            return fail("wq_push", s);
        }
    }
    return 0;
}

static int work(wq_queue *q, uint64_t count, uint64_t nack_every) {
    printf("ready\n");
    fflush(stdout);
    const int64_t give_up = now_ns() + GIVE_UP_NS;
    const struct timespec pause = {0, 100 * 1000}; /* the "work": 100 us */
    char msg[256];
    for (;;) {
        size_t len = 0;
        wq_lease lease;
        wq_status s = wq_pop_leased(q, msg, sizeof msg, &len, &lease, LEASE_NS, POLL_NS);
        if (s == WQ_EMPTY) {
            wq_lease_stats ls;
            if ((s = wq_lease_stats_get(q, &ls)) != WQ_OK) {
                return fail("wq_lease_stats_get", s);
            }
            if (ls.acked_total >= count) {
                return 0;
            }
            if (now_ns() > give_up) {
                fprintf(stderr, "%s: only %" PRIu64 " of %" PRIu64 " acked after 60 s\n", PROG,
                        ls.acked_total, count);
                return 1;
            }
            continue;
        }
        if (s != WQ_OK) {
            return fail("wq_pop_leased", s);
        }
        uint64_t n = 0;
        if (parse_task(msg, len, count, &n) != 0) {
            fprintf(stderr, "%s: not a task: \"%.*s\"\n", PROG, (int)len, msg);
            return 1;
        }
        if (nack_every != 0 && n % nack_every == 0 && lease.deliveries == 1) {
            if ((s = wq_nack(q, &lease)) != WQ_OK) {
                return fail("wq_nack", s);
            }
            printf("nack %" PRIu64 "\n", n);
            continue;
        }
        nanosleep(&pause, NULL);
        if ((s = wq_ack(q, &lease)) != WQ_OK) {
            return fail("wq_ack", s);
        }
        printf("ack %" PRIu64 " %u\n", n, (unsigned)lease.deliveries);
    }
}

static int stats(wq_queue *q) {
    wq_stats st;
    wq_lease_stats ls;
    wq_status s = wq_stats_get(q, &st);
    if (s != WQ_OK || (s = wq_lease_stats_get(q, &ls)) != WQ_OK) {
        return fail("wq_stats_get / wq_lease_stats_get", s);
    }
    printf("len %" PRIu64 " popped %" PRIu64 " leased %" PRIu64 " acked %" PRIu64
           " nacked %" PRIu64 " expired %" PRIu64 " abandoned %" PRIu64 " redelivered %" PRIu64
           "\n",
           st.len, st.popped_total, ls.leased, ls.acked_total, ls.nacked_total, ls.expired_total,
           ls.abandoned_total, ls.redelivered_total);
    return 0;
}

static int push(wq_queue *q, int n, char **msgs) {
    for (int i = 0; i < n; ++i) {
        wq_status s = wq_push(q, msgs[i], strlen(msgs[i]), WQ_NO_WAIT);
        if (s != WQ_OK) {
            return fail("wq_push", s);
        }
    }
    return 0;
}

static int expect(wq_queue *q, int n, char **msgs) {
    char msg[256];
    size_t len = 0;
    wq_status s = WQ_OK;
    for (int i = 0; i < n; ++i) {
        if ((s = wq_pop(q, msg, sizeof msg, &len, 1000 * MS)) != WQ_OK) {
            fprintf(stderr, "%s: waiting for \"%s\": ", PROG, msgs[i]);
            return fail("wq_pop", s);
        }
        if (len != strlen(msgs[i]) || memcmp(msg, msgs[i], len) != 0) {
            fprintf(stderr, "%s: got \"%.*s\", expected \"%s\"\n", PROG, (int)len, msg, msgs[i]);
            return 1;
        }
    }
    if ((s = wq_pop(q, msg, sizeof msg, &len, WQ_NO_WAIT)) == WQ_OK) {
        fprintf(stderr, "%s: got \"%.*s\", expected nothing more\n", PROG, (int)len, msg);
        return 1;
    }
    return s == WQ_EMPTY ? 0 : fail("wq_pop", s);
}

int main(int argc, char **argv) {
    const char *role = argc > 2 ? argv[1] : "";
    uint64_t count = 0, nack_every = 0;
    int ok = (strcmp(role, "produce") == 0 && argc == 4 && parse_u64(argv[3], &count) == 0) ||
             (strcmp(role, "work") == 0 && argc == 5 && parse_u64(argv[3], &count) == 0 &&
              parse_u64(argv[4], &nack_every) == 0) ||
             (strcmp(role, "stats") == 0 && argc == 3) || strcmp(role, "push") == 0 ||
             strcmp(role, "expect") == 0;
    if (!ok) {
        fprintf(stderr,
                "usage: %s produce QUEUE COUNT | work QUEUE COUNT NACK | stats QUEUE |"
                " push QUEUE MSG... | expect QUEUE MSG...\n",
                PROG);
        return 2;
    }
    wq_options opts;
    wq_options_default(&opts);
    opts.capacity = 1 << 20;
    wq_queue *q = NULL;
    wq_status s = wq_open(argv[2], &opts, &q);
    if (s != WQ_OK) {
        return fail("wq_open", s);
    }
    int rc = 0;
    if (strcmp(role, "produce") == 0) {
        rc = produce(q, count);
    } else if (strcmp(role, "work") == 0) {
        rc = work(q, count, nack_every);
    } else if (strcmp(role, "stats") == 0) {
        rc = stats(q);
    } else if (strcmp(role, "push") == 0) {
        rc = push(q, argc - 3, argv + 3);
    } else {
        rc = expect(q, argc - 3, argv + 3);
    }
    wq_close(q);
    return rc;
}

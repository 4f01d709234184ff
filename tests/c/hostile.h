/* What the hostile-condition programs (cancel.c, interrupt.c, nomem.c)
 * share: a check that reports and exits, names derived from argv[1], a
 * monotonic clock, sleeping and a watchdog. Exit status 0 = pass. */
#ifndef WQT_HOSTILE_H
#define WQT_HOSTILE_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "wq.h"

/* Reports "FILE:LINE: message" on stderr and exits with status 1 unless `cond`. */
#define CHECK(cond, ...)                                       \
    do {                                                       \
        if (!(cond)) {                                         \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);    \
            fprintf(stderr, __VA_ARGS__);                      \
            fputc('\n', stderr);                               \
            exit(1);                                           \
        }                                                      \
    } while (0)

/* Writes "BASE-SUFFIX" into out (size cap); exits on overflow. */
static inline void hostile_name(char *out, size_t cap, const char *base, const char *suffix) {
    int n = snprintf(out, cap, "%s-%s", base, suffix);
    CHECK(n > 0 && (size_t)n < cap, "name %s-%s too long", base, suffix);
}

/* Seconds on the monotonic clock. */
static inline double hostile_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps `us` microseconds, whatever signals arrive meanwhile. */
static inline void hostile_sleep_us(long us) {
    struct timespec ts;
    ts.tv_sec = us / 1000000;
    ts.tv_nsec = (us % 1000000) * 1000;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Kills the process with SIGKILL after `seconds`, so that a hang fails
 * fast and visibly (the harness sees "signal 9"), in a forked watchdog
 * that dies with its parent. */
static inline void hostile_watchdog(unsigned seconds) {
    pid_t parent = getpid();
    pid_t pid = fork();
    CHECK(pid >= 0, "fork the watchdog");
    if (pid == 0) {
        unsigned i;
        close(STDOUT_FILENO);
        for (i = 0; i < seconds * 10; i++) {
            hostile_sleep_us(100000);
            if (getppid() != parent) {
                _exit(0);
            }
        }
        fprintf(stderr, "watchdog: %u s passed, killing the hung test\n", seconds);
        kill(parent, SIGKILL);
        _exit(0);
    }
}

/* The start of every program: unbuffered stdout (so that what it printed
 * before an abort is seen) and a watchdog of `seconds`. */
static inline void hostile_start(unsigned seconds) {
    setvbuf(stdout, NULL, _IONBF, 0);
    hostile_watchdog(seconds);
}

/* Options for a small queue: `capacity` bytes, open mode `flags`. */
static inline wq_options hostile_options(uint64_t capacity, uint32_t flags) {
    wq_options opts;
    wq_options_default(&opts);
    opts.capacity = capacity;
    opts.flags = flags;
    return opts;
}

#endif /* WQT_HOSTILE_H */

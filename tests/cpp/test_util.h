/* test_util.h - tiny check macros and unique queue names for the C/C++ tests.
 * Every queue a test creates is named "<tag>-<pid>-<what>" and registered;
 * test_finish() removes them all, also when checks failed (CHECK does not
 * exit). A crashed test leaves them to the driver, which removes
 * /dev/shm/<tag>-*.
 *
 * Not from an atexit() handler: wq 0.1.0 aborts when a wq call records an
 * error after the thread's TLS is destroyed (reported to the core). */
#ifndef WQ_TEST_UTIL_H
#define WQ_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wq.h"

#define TEST_MAX_QUEUES 32

static char test_names[TEST_MAX_QUEUES][64];
static int test_name_count = 0;
static int test_failures = 0;

static void test_remove_queues(void) {
    for (int i = 0; i < test_name_count; ++i) {
        (void)wq_remove(test_names[i]);
    }
}

/* A fresh unique queue name, removed again at exit. */
static const char *test_queue_name(const char *what) {
    if (test_name_count == TEST_MAX_QUEUES) {
        fprintf(stderr, "too many test queues\n");
        exit(2);
    }
    const char *prefix = getenv("WQ_TEST_TAG");
    char *slot = test_names[test_name_count++];
    snprintf(slot, sizeof test_names[0], "%s-%ld-%s", prefix != NULL && *prefix ? prefix : "wqt",
             (long)getpid(), what);
    (void)wq_remove(slot);
    return slot;
}

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__, \
                    #cond, wq_last_error());                                                   \
            ++test_failures;                                                                   \
        }                                                                                      \
    } while (0)

#define CHECK_STATUS(expr, want)                                                              \
    do {                                                                                      \
        wq_status got_ = (expr);                                                              \
        if (got_ != (want)) {                                                                 \
            fprintf(stderr, "%s:%d: %s returned %s (%d), expected %s: %s\n", __FILE__,        \
                    __LINE__, #expr, wq_status_str(got_), (int)got_, #want, wq_last_error()); \
            ++test_failures;                                                                  \
        }                                                                                     \
    } while (0)

static int test_finish(const char *name) {
    test_remove_queues();
    if (test_failures != 0) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, test_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

#endif /* WQ_TEST_UTIL_H */

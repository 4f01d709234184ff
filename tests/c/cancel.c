/* pthread_cancel of threads inside wq calls never aborts the process: wq
 * calls are not cancellation points (cancellation is disabled inside
 * them), so a cancelled thread goes on to its next cancellation point
 * outside wq and ends there.
 *   1. Threads looping wq_open / wq_push / wq_pop / wq_close, cancelled at
 *      random moments, 100 rounds.
 *   2. A thread blocked in wq_pop(WQ_FOREVER) (and one in wq_push on a full
 *      queue) is cancelled, stays blocked, completes its call when a message
 *      (or room) arrives, and is cancelled at its next pthread_testcancel.
 * Usage: cancel BASE-NAME (uses BASE-loop and BASE-block). Exit 0 = pass. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "hostile.h"

#define LOOPERS 4
#define ROUNDS 100

static char loop_name[300];
static atomic_ulong loops;
static atomic_ulong failures;
static char failure[256];

static void *looper(void *arg) {
    wq_options opts = hostile_options(4096, WQ_OPEN_OR_CREATE);
    (void)arg;
    for (;;) {
        wq_queue *q = NULL;
        wq_status st = wq_open(loop_name, &opts, &q);
        if (st == WQ_OK) {
            char buf[16];
            size_t len = 0;
            st = wq_push(q, "x", 1, WQ_NO_WAIT);
            if (st == WQ_OK || st == WQ_FULL) {
                st = wq_pop(q, buf, sizeof buf, &len, WQ_NO_WAIT);
            }
            wq_close(q);
        }
        if (st != WQ_OK && st != WQ_EMPTY && st != WQ_FULL &&
            atomic_fetch_add(&failures, 1) == 0) {
            snprintf(failure, sizeof failure, "%s: %s", wq_status_str(st), wq_last_error());
        }
        atomic_fetch_add(&loops, 1);
        pthread_testcancel();
    }
    return NULL;
}

static void cancel_loopers(void) {
    unsigned round;
    unsigned seed = 12345;
    for (round = 0; round < ROUNDS; round++) {
        pthread_t t[LOOPERS];
        int i;
        for (i = 0; i < LOOPERS; i++) {
            CHECK(pthread_create(&t[i], NULL, looper, NULL) == 0, "pthread_create");
        }
        seed = seed * 1103515245u + 12345u;
        hostile_sleep_us((long)(seed >> 16) % 3000);
        for (i = 0; i < LOOPERS; i++) {
            void *ret = NULL;
            CHECK(pthread_cancel(t[i]) == 0, "pthread_cancel");
            CHECK(pthread_join(t[i], &ret) == 0, "pthread_join");
            CHECK(ret == PTHREAD_CANCELED, "round %u: a looper was not cancelled", round);
        }
    }
    CHECK(atomic_load(&failures) == 0, "%lu looper calls failed, first: %s",
          atomic_load(&failures), failure);
    printf("cancelled %d loopers %d times (%lu loops)\n", LOOPERS, ROUNDS, atomic_load(&loops));
}

/* A thread blocked in a wq call with WQ_FOREVER. */
struct blocked {
    wq_queue *q;
    int push;          /* wq_push of "room" instead of wq_pop */
    atomic_int status; /* -1 until the call returned */
    char got[16];
    size_t len;
};

static void *blocked_call(void *arg) {
    struct blocked *b = arg;
    wq_status st;
    if (b->push) {
        st = wq_push(b->q, "room", 4, WQ_FOREVER);
    } else {
        st = wq_pop(b->q, b->got, sizeof b->got, &b->len, WQ_FOREVER);
    }
    atomic_store(&b->status, st);
    for (;;) {
        pthread_testcancel();
        hostile_sleep_us(1000);
    }
    return NULL;
}

static void cancel_blocked(wq_queue *q, int push) {
    const char *what = push ? "wq_push on a full queue" : "wq_pop on an empty queue";
    struct blocked b;
    pthread_t t;
    void *ret = NULL;
    char buf[16];
    size_t len = 0;
    memset(&b, 0, sizeof b);
    b.q = q;
    b.push = push;
    atomic_store(&b.status, -1);
    CHECK(pthread_create(&t, NULL, blocked_call, &b) == 0, "pthread_create");
    hostile_sleep_us(200000);
    CHECK(pthread_cancel(t) == 0, "pthread_cancel");
    hostile_sleep_us(200000);
    CHECK(atomic_load(&b.status) == -1, "%s returned %d after pthread_cancel", what,
          atomic_load(&b.status));
    if (push) {
        CHECK(wq_pop(q, buf, sizeof buf, &len, WQ_NO_WAIT) == WQ_OK, "pop to make room: %s",
              wq_last_error());
    } else {
        CHECK(wq_push(q, "hello", 5, WQ_FOREVER) == WQ_OK, "push: %s", wq_last_error());
    }
    CHECK(pthread_join(t, &ret) == 0, "pthread_join");
    CHECK(ret == PTHREAD_CANCELED, "%s: the thread was not cancelled", what);
    CHECK(atomic_load(&b.status) == WQ_OK, "%s: the call gave %s", what,
          wq_status_str((wq_status)atomic_load(&b.status)));
    if (!push) {
        CHECK(b.len == 5 && memcmp(b.got, "hello", 5) == 0, "the cancelled popper got the message");
    }
    printf("%s: completed after pthread_cancel, then cancelled outside wq\n", what);
}

int main(int argc, char **argv) {
    char block_name[300];
    wq_options opts = hostile_options(4096, WQ_CREATE_ONLY);
    wq_queue *q = NULL;
    char buf[16];
    size_t len = 0;
    unsigned filled = 0;

    CHECK(argc == 2, "usage: cancel BASE-NAME");
    hostile_start(60);
    hostile_name(loop_name, sizeof loop_name, argv[1], "loop");
    hostile_name(block_name, sizeof block_name, argv[1], "block");

    cancel_loopers();

    CHECK(wq_open(block_name, &opts, &q) == WQ_OK, "create %s: %s", block_name, wq_last_error());
    cancel_blocked(q, 0);
    while (wq_push(q, "fill", 4, WQ_NO_WAIT) == WQ_OK) {
        filled++;
    }
    CHECK(filled > 0, "the queue took no message");
    cancel_blocked(q, 1);
    while (wq_pop(q, buf, sizeof buf, &len, WQ_NO_WAIT) == WQ_OK) {
        filled--;
    }
    CHECK(filled == 0, "the blocked push added exactly one message (%u left over)", filled);
    wq_close(q);
    CHECK(wq_remove(block_name) == WQ_OK, "remove %s", block_name);
    CHECK(wq_remove(loop_name) == WQ_OK, "remove %s", loop_name);
    return 0;
}

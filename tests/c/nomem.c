/* Heap exhaustion inside wq_open gives a status, not an abort. This program
 * replaces malloc and its relatives (forwarding to glibc's __libc_*
 * functions) with versions that start failing after a given number of
 * allocations, then calls wq_open with a bad name and with a good one
 * (creating, and opening an existing queue) for every such number until
 * the call no longer allocates (PART bad-name, create, open-existing), and
 * with none at all in a thread that never called wq before (fresh-thread).
 * A call that succeeds must give a working queue, a creation that fails
 * must leave no queue behind.
 * Usage: nomem BASE-NAME PART (uses BASE-new and BASE-old). Exit 0 = pass. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "hostile.h"

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);

/* Allocations that still succeed; negative: all of them. */
static atomic_long budget = -1;
static atomic_ulong refused;

static int refuse(void) {
    long b = atomic_load(&budget);
    while (b >= 0) {
        if (b == 0) {
            atomic_fetch_add(&refused, 1);
            errno = ENOMEM;
            return 1;
        }
        if (atomic_compare_exchange_weak(&budget, &b, b - 1)) {
            return 0;
        }
    }
    return 0;
}

void *malloc(size_t n) {
    return refuse() ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t size) {
    return refuse() ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t n) {
    return refuse() ? NULL : __libc_realloc(p, n);
}

void free(void *p) {
    __libc_free(p);
}

void *memalign(size_t align, size_t n);
void *memalign(size_t align, size_t n) {
    return refuse() ? NULL : __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n) {
    return refuse() ? NULL : __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n) {
    void *p;
    if (refuse()) {
        return ENOMEM;
    }
    p = __libc_memalign(align, n);
    if (p == NULL) {
        return ENOMEM;
    }
    *out = p;
    return 0;
}

static char new_name[300];
static char old_name[300];

/* One wq_open with `allowed` allocations; returns whether it had all it
 * wanted (so that a larger budget changes nothing). */
static int open_with_budget(const char *name, uint32_t flags, long allowed, const char *what) {
    wq_options opts = hostile_options(4096, flags);
    wq_queue *q = NULL;
    wq_status st;
    const char *detail;
    unsigned long before = atomic_load(&refused);
    int satisfied;

    atomic_store(&budget, allowed);
    st = wq_open(name, &opts, &q);
    detail = wq_last_error();
    atomic_store(&budget, -1);
    satisfied = atomic_load(&refused) == before;
    CHECK(detail != NULL, "%s: wq_last_error() is NULL", what);
    if (name[0] == '\0' || strchr(name, '/') != NULL) {
        CHECK(st != WQ_OK && q == NULL, "%s: a bad name opened (%d)", what, (int)st);
    } else if (st == WQ_OK) {
        char buf[8];
        size_t len = 0;
        CHECK(q != NULL, "%s: WQ_OK without a handle", what);
        CHECK(wq_push(q, "m", 1, WQ_NO_WAIT) == WQ_OK, "%s: push: %s", what, wq_last_error());
        CHECK(wq_pop(q, buf, sizeof buf, &len, WQ_NO_WAIT) == WQ_OK && len == 1, "%s: pop", what);
        wq_close(q);
    } else if (flags == WQ_CREATE_ONLY) {
        CHECK(q == NULL, "%s: a handle written on failure", what);
        CHECK(wq_remove(name) == WQ_NOT_FOUND, "%s: a failed creation (%s) left the queue", what,
              wq_status_str(st));
    }
    if (st == WQ_OK && flags == WQ_CREATE_ONLY) {
        CHECK(wq_remove(name) == WQ_OK, "%s: remove", what);
    }
    return satisfied;
}

/* Every budget from 0 up, until the call allocates no more than it is given. */
static void sweep(const char *name, uint32_t flags, const char *what) {
    long allowed;
    printf("%s, with allocations failing after:", what);
    for (allowed = 0; allowed < 10000; allowed++) {
        printf(" %ld", allowed);
        if (open_with_budget(name, flags, allowed, what)) {
            printf("\n%s: a status for each of %ld failing allocations\n", what, allowed);
            return;
        }
    }
    CHECK(0, "%s: still allocating after 10000 allocations", what);
}

static void *fresh_thread(void *arg) {
    (void)arg;
    printf("a fresh thread: wq_open with no memory at all\n");
    /* The first calls of this thread: its wq_last_error storage is new. */
    open_with_budget("bad/name", WQ_OPEN_OR_CREATE, 0, "a fresh thread, bad name, no memory");
    open_with_budget(new_name, WQ_CREATE_ONLY, 0, "a fresh thread, creation, no memory");
    open_with_budget(old_name, WQ_OPEN_ONLY, 0, "a fresh thread, existing queue, no memory");
    return NULL;
}

int main(int argc, char **argv) {
    wq_options opts = hostile_options(4096, WQ_CREATE_ONLY);
    wq_queue *q = NULL;
    const char *part;

    CHECK(argc == 3, "usage: nomem BASE-NAME fresh-thread|bad-name|create|open-existing");
    hostile_start(60);
    part = argv[2];
    hostile_name(new_name, sizeof new_name, argv[1], "new");
    hostile_name(old_name, sizeof old_name, argv[1], "old");
    CHECK(wq_open(old_name, &opts, &q) == WQ_OK, "create %s: %s", old_name, wq_last_error());
    wq_close(q);

    if (strcmp(part, "fresh-thread") == 0) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, fresh_thread, NULL) == 0, "pthread_create");
        CHECK(pthread_join(t, NULL) == 0, "pthread_join");
    } else if (strcmp(part, "bad-name") == 0) {
        sweep("bad/name", WQ_OPEN_OR_CREATE, "wq_open of a bad name");
        sweep("", WQ_OPEN_OR_CREATE, "wq_open of an empty name");
    } else if (strcmp(part, "create") == 0) {
        sweep(new_name, WQ_CREATE_ONLY, "wq_open creating a queue");
    } else if (strcmp(part, "open-existing") == 0) {
        sweep(old_name, WQ_OPEN_ONLY, "wq_open of an existing queue");
    } else {
        CHECK(0, "unknown part %s", part);
    }

    CHECK(wq_remove(old_name) == WQ_OK, "remove %s", old_name);
    CHECK(wq_remove(new_name) == WQ_NOT_FOUND, "%s left behind", new_name);
    return 0;
}

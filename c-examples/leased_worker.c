/* leased_worker.c - a worker whose tasks survive its death.
 *
 *   usage: leased-worker QUEUE
 *
 * Opens (or creates, with 1 MiB of storage) QUEUE and takes each task under
 * a lease, acking it only once the work is done. If the worker dies first,
 * its lease ends and the task goes to the next worker, with `deliveries` one
 * higher. A task delivered more than MAX_DELIVERIES times has killed every
 * worker that took it: a poison message, which goes to the dead-letter
 * queue "QUEUE-dead" and is acked. The work here prints each task; the task
 * "crash" calls abort(), as a poison message would kill a real worker.
 * Stops after a second without tasks.
 * Exit status: 0 done, 2 bad usage, 3 a wq call failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wq.h"

#define MAX_DELIVERIES 3
#define LEASE_NS (INT64_C(30) * 1000 * 1000 * 1000) /* a task may take 30 s */
#define IDLE_NS (INT64_C(1000) * 1000 * 1000)       /* stop after 1 s without tasks */

static void work(const char *task, size_t len) {
    if (len == 5 && memcmp(task, "crash", 5) == 0) {
        abort();
    }
    printf("done: %.*s\n", (int)len, task);
    fflush(stdout);
}

static int fail(const char *what, wq_status s) {
    fprintf(stderr, "leased-worker: %s: %s (%s)\n", what, wq_status_str(s), wq_last_error());
    return 3;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s QUEUE\n", argc > 0 ? argv[0] : "leased-worker");
        return 2;
    }
    char dead_name[256];
    snprintf(dead_name, sizeof dead_name, "%s-dead", argv[1]);
    wq_options opts;
    wq_options_default(&opts);
    opts.capacity = 1 << 20;
    wq_queue *q = NULL, *dead = NULL;
    wq_status s = wq_open(argv[1], &opts, &q);
    if (s != WQ_OK || (s = wq_open(dead_name, &opts, &dead)) != WQ_OK) {
        wq_close(q);
        return fail("wq_open", s);
    }

    static char task[64 * 1024]; /* tasks up to 64 KiB */
    size_t len = 0;
    wq_lease lease;
    while ((s = wq_pop_leased(q, task, sizeof task, &len, &lease, LEASE_NS, IDLE_NS)) == WQ_OK) {
        if (lease.deliveries > MAX_DELIVERIES) {
            fprintf(stderr, "poison, delivery %u: %.*s\n", (unsigned)lease.deliveries, (int)len,
                    task);
            s = wq_push(dead, task, len, WQ_FOREVER); /* set it aside, then ack */
        } else {
            work(task, len); /* may die: then the lease gives the task to the next worker */
        }
        if (s != WQ_OK || (s = wq_ack(q, &lease)) != WQ_OK) {
            break;
        }
    }
    int rc = s == WQ_EMPTY ? 0 : fail("leased-worker", s);
    wq_close(dead);
    wq_close(q);
    return rc;
}

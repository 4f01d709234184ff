/* epoll_worker.c - one thread serving two queues and a timer from epoll.
 *
 *   usage: epoll-worker QUEUE_A COUNT_A QUEUE_B COUNT_B
 *
 * Opens (or creates, with 1 MiB of storage) both queues, asks each for its
 * readiness descriptor (wq_readable_fd) and waits in epoll_wait on both and
 * on a timerfd that ticks every second. When a queue's descriptor is
 * readable it drains that queue with WQ_NO_WAIT pops until WQ_EMPTY (which
 * resets the descriptor) and checks every message against the example
 * stream (each queue's messages 0, 1, 2... in order); each tick prints the
 * progress. It ends when COUNT_A and COUNT_B messages have arrived, and
 * removes both queues; after 60 ticks without them it gives up.
 * Exit status: 0 all good, 1 wrong data or no progress, 2 bad usage, 3 a
 * wq or system call failed.
 */
#define _GNU_SOURCE /* epoll, timerfd */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "message_stream.h"
#include "wq.h"

static const char PROG[] = "epoll-worker";

/* One queue the worker serves. */
struct source {
    const char *name;
    wq_queue *q;
    uint64_t want; /* messages to receive */
    uint64_t got;  /* messages received: the next one must be number `got` */
};

/* Pops what `src` holds until WQ_EMPTY; returns 0, or the exit status. */
static int drain(struct source *src, unsigned char *buf, size_t cap) {
    for (;;) {
        size_t len = 0;
        wq_status s = wq_pop(src->q, buf, cap, &len, WQ_NO_WAIT);
        if (s == WQ_EMPTY) {
            return 0;
        }
        if (s != WQ_OK) {
            return stream_fail(PROG, src->name, s);
        }
        if (stream_check(src->got, buf, len) != 0) {
            fprintf(stderr, "%s: %s: message %" PRIu64 " is wrong\n", PROG, src->name, src->got);
            return 1;
        }
        src->got += 1;
    }
}

static int watch(int ep, int fd, uint64_t id) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u64 = id;
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int main(int argc, char **argv) {
    struct source src[2] = {{NULL, NULL, 0, 0}, {NULL, NULL, 0, 0}};
    if (argc != 5 || stream_parse_count(argv[2], &src[0].want) != 0 ||
        stream_parse_count(argv[4], &src[1].want) != 0) {
        fprintf(stderr, "usage: %s QUEUE_A COUNT_A QUEUE_B COUNT_B\n", argc > 0 ? argv[0] : PROG);
        return 2;
    }
    src[0].name = argv[1];
    src[1].name = argv[3];

    wq_options opts;
    wq_options_default(&opts);
    opts.capacity = STREAM_CAPACITY;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (ep < 0 || timer < 0) {
        perror("epoll-worker: epoll_create1/timerfd_create");
        return 3;
    }
    for (int i = 0; i < 2; ++i) {
        wq_status s = wq_open(src[i].name, &opts, &src[i].q);
        if (s != WQ_OK) {
            return stream_fail(PROG, "wq_open", s);
        }
        int fd = wq_readable_fd(src[i].q);
        if (fd < 0 || watch(ep, fd, (uint64_t)i) != 0) {
            fprintf(stderr, "%s: wq_readable_fd or epoll_ctl: %s\n", PROG, wq_last_error());
            return 3;
        }
    }
    struct itimerspec tick = {{1, 0}, {1, 0}};
    if (timerfd_settime(timer, 0, &tick, NULL) != 0 || watch(ep, timer, 2) != 0) {
        perror("epoll-worker: timerfd");
        return 3;
    }

    unsigned char *buf = malloc(STREAM_MAX_LEN);
    int rc = buf == NULL ? 3 : 0;
    unsigned ticks = 0;
    while (rc == 0 && (src[0].got < src[0].want || src[1].got < src[1].want)) {
        struct epoll_event evs[3];
        int n = epoll_wait(ep, evs, 3, -1);
        for (int k = 0; k < n && rc == 0; ++k) {
            uint64_t id = evs[k].data.u64;
            if (id < 2) {
                rc = drain(&src[id], buf, STREAM_MAX_LEN);
                continue;
            }
            uint64_t expirations = 0;
            if (read(timer, &expirations, sizeof expirations) == (ssize_t)sizeof expirations) {
                ticks += (unsigned)expirations;
                printf("%s: %" PRIu64 "/%" PRIu64 " from %s, %" PRIu64 "/%" PRIu64 " from %s\n",
                       PROG, src[0].got, src[0].want, src[0].name, src[1].got, src[1].want,
                       src[1].name);
                fflush(stdout);
            }
            if (ticks >= 60) {
                fprintf(stderr, "%s: no end after 60 s\n", PROG);
                rc = 1;
            }
        }
    }
    if (rc == 0) {
        printf("%s: %" PRIu64 " messages from %s and %" PRIu64 " from %s, all in order\n", PROG,
               src[0].got, src[0].name, src[1].got, src[1].name);
    }
    free(buf);
    for (int i = 0; i < 2; ++i) {
        wq_close(src[i].q);
        wq_remove(src[i].name);
    }
    close(timer);
    close(ep);
    return rc;
}

/* wq_interrupt from signal handlers (SIGUSR1, SIGALRM) ends a WQ_FOREVER
 * wq_pop with WQ_INTERRUPTED; a signal whose handler does nothing does not
 * end it; an interrupt sent before the call is not lost; calls that need no
 * wait still succeed while interrupted; wq_interrupt_clear ends that state;
 * 300 signals at random instants around and inside calls each end the pop.
 * Usage: interrupt BASE-NAME (uses BASE-intr). Exit 0 = pass. */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/time.h>

#include "hostile.h"

static wq_queue *volatile g_q;
static pthread_t g_main;

static void on_interrupt(int sig) {
    int saved = errno;
    (void)sig;
    (void)wq_interrupt(g_q);
    errno = saved;
}

static void on_nothing(int sig) {
    (void)sig;
}

static void handle(int sig, void (*fn)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART */
    CHECK(sigaction(sig, &sa, NULL) == 0, "sigaction");
}

/* wq_pop(WQ_FOREVER) must end with WQ_INTERRUPTED after at least `min_s`
 * and at most `max_s` seconds. */
static void pop_interrupted(const char *what, double min_s, double max_s) {
    char buf[16];
    size_t len = 0;
    double t0 = hostile_now();
    wq_status st = wq_pop(g_q, buf, sizeof buf, &len, WQ_FOREVER);
    double dt = hostile_now() - t0;
    CHECK(st == WQ_INTERRUPTED, "%s: wq_pop gave %s: %s", what, wq_status_str(st), wq_last_error());
    CHECK(dt >= min_s && dt <= max_s, "%s: wq_pop returned after %.3f s, want %.3f..%.3f", what,
          dt, min_s, max_s);
    printf("%s: WQ_INTERRUPTED after %.3f s\n", what, dt);
}

static void clear(void) {
    wq_status st = wq_interrupt_clear(g_q);
    CHECK(st == WQ_OK, "wq_interrupt_clear: %s", wq_status_str(st));
}

/* Sends SIGUSR2 then SIGUSR1 to the main thread, 100 ms and 300 ms from now. */
static void *two_signals(void *arg) {
    (void)arg;
    hostile_sleep_us(100000);
    pthread_kill(g_main, SIGUSR2);
    hostile_sleep_us(200000);
    pthread_kill(g_main, SIGUSR1);
    return NULL;
}

/* Calls wq_interrupt directly, 100 ms from now. */
static void *interrupt_later(void *arg) {
    (void)arg;
    hostile_sleep_us(100000);
    (void)wq_interrupt(g_q);
    return NULL;
}

static sem_t go, sent;
static atomic_long delay_ns;

static void wait_sem(sem_t *s) {
    while (sem_wait(s) != 0) {
        CHECK(errno == EINTR, "sem_wait");
    }
}

/* For each post of `go`: spins delay_ns, signals the main thread, posts `sent`. */
static void *racing_sender(void *arg) {
    (void)arg;
    for (;;) {
        long d;
        double until;
        wait_sem(&go);
        d = atomic_load(&delay_ns);
        if (d < 0) {
            return NULL;
        }
        until = hostile_now() + (double)d / 1e9;
        while (hostile_now() < until) {
        }
        pthread_kill(g_main, SIGUSR1);
        sem_post(&sent);
    }
}

int main(int argc, char **argv) {
    char name[300];
    wq_options opts = hostile_options(4096, WQ_CREATE_ONLY);
    wq_queue *q = NULL;
    pthread_t t;
    sigset_t sigs;
    struct itimerval timer;
    char buf[16];
    size_t len = 0;
    double t0;
    unsigned seed = 4242, round, filled = 0;

    CHECK(argc == 2, "usage: interrupt BASE-NAME");
    hostile_start(60);
    hostile_name(name, sizeof name, argv[1], "intr");
    CHECK(wq_open(name, &opts, &q) == WQ_OK, "create %s: %s", name, wq_last_error());
    g_q = q;
    g_main = pthread_self();
    CHECK(wq_interrupt(NULL) == WQ_INVALID_ARGUMENT, "wq_interrupt(NULL)");
    CHECK(wq_interrupt_clear(NULL) == WQ_INVALID_ARGUMENT, "wq_interrupt_clear(NULL)");
    handle(SIGUSR1, on_interrupt);
    handle(SIGALRM, on_interrupt);
    handle(SIGUSR2, on_nothing);
    /* Helper threads block the signals, so process-directed ones reach main. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGUSR2);
    sigaddset(&sigs, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    CHECK(sem_init(&go, 0, 0) == 0 && sem_init(&sent, 0, 0) == 0, "sem_init");
    CHECK(pthread_create(&t, NULL, racing_sender, NULL) == 0, "pthread_create");
    pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);

    /* 1. SIGUSR2 (handler does nothing) does not end the wait; SIGUSR1 does. */
    {
        pthread_t s;
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);
        CHECK(pthread_create(&s, NULL, two_signals, NULL) == 0, "pthread_create");
        pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
        pop_interrupted("SIGUSR2 then SIGUSR1 to the waiting thread", 0.25, 5.0);
        pthread_join(s, NULL);
    }

    /* 2. SIGALRM from a timer, to the process. */
    clear();
    memset(&timer, 0, sizeof timer);
    timer.it_value.tv_usec = 150000;
    CHECK(setitimer(ITIMER_REAL, &timer, NULL) == 0, "setitimer");
    pop_interrupted("SIGALRM", 0.12, 5.0);

    /* 3. An interrupt before the wait starts is not lost. */
    clear();
    CHECK(raise(SIGUSR1) == 0, "raise");
    pop_interrupted("an interrupt before wq_pop(WQ_FOREVER)", 0.0, 0.5);
    t0 = hostile_now();
    CHECK(wq_pop(q, buf, sizeof buf, &len, 2000000000) == WQ_INTERRUPTED, "a 2 s wq_pop");
    CHECK(hostile_now() - t0 < 0.5, "a 2 s wq_pop waited while interrupted");

    /* 4. While interrupted, calls that need no wait succeed. */
    CHECK(wq_push(q, "one", 3, WQ_FOREVER) == WQ_OK, "push while interrupted: %s", wq_last_error());
    CHECK(wq_push(q, "two", 3, WQ_FOREVER) == WQ_OK, "push while interrupted: %s", wq_last_error());
    CHECK(wq_pop(q, buf, sizeof buf, &len, WQ_FOREVER) == WQ_OK && len == 3 &&
              memcmp(buf, "one", 3) == 0,
          "pop of a queued message while interrupted: %s", wq_last_error());
    CHECK(wq_pop(q, buf, sizeof buf, &len, WQ_FOREVER) == WQ_OK && len == 3 &&
              memcmp(buf, "two", 3) == 0,
          "pop of a queued message while interrupted: %s", wq_last_error());
    pop_interrupted("wq_pop(WQ_FOREVER) once drained", 0.0, 0.5);

    /* 5. wq_interrupt_clear: waits wait again. */
    clear();
    t0 = hostile_now();
    CHECK(wq_pop(q, buf, sizeof buf, &len, 200000000) == WQ_EMPTY, "a 200 ms wq_pop after clear");
    CHECK(hostile_now() - t0 >= 0.18, "a 200 ms wq_pop after clear returned early");

    /* 6. wq_interrupt from another thread ends a wq_push waiting for room. */
    while (wq_push(q, "fill", 4, WQ_NO_WAIT) == WQ_OK) {
        filled++;
    }
    {
        pthread_t s;
        wq_status st;
        CHECK(pthread_create(&s, NULL, interrupt_later, NULL) == 0, "pthread_create");
        t0 = hostile_now();
        st = wq_push(q, "late", 4, WQ_FOREVER);
        CHECK(st == WQ_INTERRUPTED, "a wq_push waiting for room gave %s", wq_status_str(st));
        CHECK(hostile_now() - t0 >= 0.08, "the push did not wait");
        pthread_join(s, NULL);
    }
    while (filled > 0) {
        CHECK(wq_pop(q, buf, sizeof buf, &len, WQ_FOREVER) == WQ_OK, "drain while interrupted");
        filled--;
    }

    /* 7. Signals at random instants: before, between and inside calls. */
    for (round = 0; round < 300; round++) {
        unsigned calls;
        clear();
        seed = seed * 1103515245u + 12345u;
        atomic_store(&delay_ns, (long)((seed >> 8) % 300000));
        calls = (seed >> 4) % 3;
        sem_post(&go);
        while (calls-- > 0) {
            CHECK(wq_push(q, "r", 1, WQ_FOREVER) == WQ_OK, "round %u: push", round);
            CHECK(wq_pop(q, buf, sizeof buf, &len, WQ_FOREVER) == WQ_OK, "round %u: pop", round);
        }
        {
            wq_status st = wq_pop(q, buf, sizeof buf, &len, WQ_FOREVER);
            CHECK(st == WQ_INTERRUPTED, "round %u: wq_pop gave %s", round, wq_status_str(st));
        }
        wait_sem(&sent);
    }
    printf("300 racing signals each ended wq_pop(WQ_FOREVER)\n");
    atomic_store(&delay_ns, -1);
    sem_post(&go);
    pthread_join(t, NULL);

    clear();
    wq_close(q);
    CHECK(wq_remove(name) == WQ_OK, "remove %s", name);
    return 0;
}

/* The C API contract (spec/c-api.md) checked from C. Usage: api_contract BASE
 * BASE is a fresh queue name; the program also uses BASE-missing and
 * BASE-big (neither should ever exist) and removes everything it creates.
 * Exit status 0: every check held; 1: at least one contract violation. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>

#include "wq.h"

static int failures = 0;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            failures++;                                                                 \
            fprintf(stderr, "%s:%d: CHECK(%s) failed; wq_last_error: \"%s\"\n", __FILE__, \
                    __LINE__, #cond, wq_last_error());                                  \
        }                                                                               \
    } while (0)

#define CHECK_ST(call, want)                                                             \
    do {                                                                                 \
        wq_status got_ = (call);                                                         \
        if (got_ != (want)) {                                                            \
            failures++;                                                                  \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %s; wq_last_error: \"%s\"\n", \
                    __FILE__, __LINE__, #call, (int)got_, wq_status_str(got_), #want,     \
                    wq_last_error());                                                    \
        }                                                                                \
    } while (0)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *fresh_thread(void *arg) {
    const char *e = wq_last_error();
    *(int *)arg = (e != NULL && e[0] == '\0');
    /* Fail here; the main thread's text must not change. */
    (void)wq_remove(NULL);
    return NULL;
}

static void check_static(void) {
    wq_options o;
    int s;
    char v[64];
    int fresh = 0;
    pthread_t t;
    const char *before;

    CHECK(wq_last_error() != NULL && strcmp(wq_last_error(), "") == 0);

    memset(&o, 0xff, sizeof o);
    wq_options_default(&o);
    CHECK(o.capacity == 33554432u);
    CHECK(o.max_message_size == 0);
    CHECK(o.mode == 0600);
    CHECK(o.flags == WQ_OPEN_OR_CREATE);
    wq_options_default(NULL);
    wq_close(NULL);

    CHECK(strcmp(wq_version(), WQ_VERSION) == 0);
    snprintf(v, sizeof v, "%d.%d.%d", WQ_VERSION_MAJOR, WQ_VERSION_MINOR, WQ_VERSION_PATCH);
    CHECK(strcmp(wq_version(), v) == 0);

    for (s = -2; s <= 14; s++) {
        CHECK(wq_status_str(s) != NULL);
    }
    CHECK(wq_status_str(1000) != NULL);
    CHECK(wq_status_str(INT32_MIN) != NULL);
    CHECK(WQ_OK == 0 && WQ_EMPTY == 1 && WQ_FULL == 2 && WQ_INVALID_ARGUMENT == 3);
    CHECK(WQ_NOT_FOUND == 4 && WQ_EXISTS == 5 && WQ_MESSAGE_TOO_LARGE == 6);
    CHECK(WQ_BUFFER_TOO_SMALL == 7 && WQ_INCOMPATIBLE == 8 && WQ_CORRUPTED == 9);
    CHECK(WQ_PERMISSION_DENIED == 10 && WQ_SYSTEM_ERROR == 11 && WQ_INTERNAL == 12);
    CHECK(WQ_OPEN_OR_CREATE == 0 && WQ_CREATE_ONLY == 1 && WQ_OPEN_ONLY == 2);
    CHECK(WQ_NO_WAIT == 0 && WQ_FOREVER < 0);

    /* A failure, then the per-thread check. */
    CHECK_ST(wq_remove(NULL), WQ_INVALID_ARGUMENT);
    CHECK(wq_last_error()[0] != '\0');
    before = wq_last_error();
    v[0] = '\0';
    strncat(v, before, sizeof v - 1);
    CHECK(pthread_create(&t, NULL, fresh_thread, &fresh) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(fresh == 1);
    CHECK(strncmp(wq_last_error(), v, strlen(v)) == 0);
}

static void check_nulls(const char *base) {
    wq_queue *q = (wq_queue *)&failures; /* sentinel, never dereferenced */
    wq_stats st;
    size_t n = 77;
    char buf[8];
    wq_span sp[2];
    wq_iovec iov[1];

    iov[0].data = "x";
    iov[0].len = 1;
    CHECK_ST(wq_open(NULL, NULL, &q), WQ_INVALID_ARGUMENT);
    CHECK(q == (wq_queue *)&failures);
    CHECK_ST(wq_open(base, NULL, NULL), WQ_INVALID_ARGUMENT);
    CHECK_ST(wq_push(NULL, "x", 1, WQ_NO_WAIT), WQ_INVALID_ARGUMENT);
    CHECK_ST(wq_pop(NULL, buf, sizeof buf, &n, WQ_NO_WAIT), WQ_INVALID_ARGUMENT);
    CHECK(n == 77);
    CHECK_ST(wq_stats_get(NULL, &st), WQ_INVALID_ARGUMENT);
    CHECK_ST(wq_push_batch(NULL, iov, 1, &n, WQ_NO_WAIT), WQ_INVALID_ARGUMENT);
    CHECK_ST(wq_pop_batch(NULL, buf, sizeof buf, sp, 2, &n, WQ_NO_WAIT), WQ_INVALID_ARGUMENT);
    CHECK(n == 77);
    CHECK_ST(wq_remove(NULL), WQ_INVALID_ARGUMENT);
}

static void check_names(void) {
    static const char *const bad[] = {"", "/", ".", "..", "/..", "a/b", "//q", "a b", "\xc3\xa9",
                                      "\xff"};
    char long_name[300];
    size_t i;
    wq_queue *q = NULL;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ST(wq_open(bad[i], NULL, &q), WQ_INVALID_ARGUMENT);
        CHECK(q == NULL);
        CHECK_ST(wq_remove(bad[i]), WQ_INVALID_ARGUMENT);
    }
    memset(long_name, 'z', 251);
    long_name[251] = '\0';
    CHECK_ST(wq_open(long_name, NULL, &q), WQ_INVALID_ARGUMENT);
    CHECK(q == NULL);
}

static void check_queue(const char *base) {
    char missing[300], slashed[300], big[300], path[320];
    wq_options o;
    wq_queue *q = NULL, *q2 = NULL, *q3 = NULL;
    wq_stats s;
    struct stat sb;
    unsigned char buf[256];
    unsigned char msg[200];
    size_t n = 0;
    size_t pushed = 0;
    int i;
    double t0;
    wq_iovec iov[4];
    wq_span sp[4];

    snprintf(missing, sizeof missing, "%s-missing", base);
    snprintf(slashed, sizeof slashed, "/%s", base);
    snprintf(big, sizeof big, "%s-big", base);
    snprintf(path, sizeof path, "/dev/shm/%s", base);
    memset(msg, 0x3c, sizeof msg);

    /* Flags and geometry. */
    wq_options_default(&o);
    o.flags = WQ_OPEN_ONLY;
    CHECK_ST(wq_open(missing, &o, &q), WQ_NOT_FOUND);
    CHECK(q == NULL);
    o.flags = 7;
    CHECK_ST(wq_open(base, &o, &q), WQ_INVALID_ARGUMENT);
    wq_options_default(&o);
    o.capacity = 0;
    CHECK_ST(wq_open(base, &o, &q), WQ_INVALID_ARGUMENT);
    o.capacity = 4096;
    o.max_message_size = 4097;
    CHECK_ST(wq_open(base, &o, &q), WQ_INVALID_ARGUMENT);
    CHECK(stat(path, &sb) != 0);

    /* Create with an exact mode despite the umask. */
    umask(077);
    o.capacity = 1024;
    o.max_message_size = 100;
    o.mode = 0644;
    o.flags = WQ_CREATE_ONLY;
    CHECK_ST(wq_open(base, &o, &q), WQ_OK);
    if (q == NULL) {
        return;
    }
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 07777) == 0644);
    CHECK_ST(wq_open(slashed, &o, &q2), WQ_EXISTS);
    CHECK(q2 == NULL);
    wq_options_default(&o); /* 32 MiB: ignored, the queue exists */
    CHECK_ST(wq_open(slashed, &o, &q2), WQ_OK);
    CHECK_ST(wq_stats_get(q2, &s), WQ_OK);
    CHECK(s.capacity == 1024 && s.max_message_size == 100);
    CHECK(s.len == 0 && s.bytes_used == 0 && s.pushed_total == 0 && s.popped_total == 0);

    /* Messages. */
    CHECK_ST(wq_push(q, NULL, 0, WQ_NO_WAIT), WQ_OK);
    CHECK_ST(wq_push(q, NULL, 1, WQ_NO_WAIT), WQ_INVALID_ARGUMENT);
    CHECK_ST(wq_push(q, msg, 101, WQ_NO_WAIT), WQ_MESSAGE_TOO_LARGE);
    CHECK_ST(wq_push(q, "hello", 5, WQ_NO_WAIT), WQ_OK);
    CHECK_ST(wq_pop(q2, NULL, 0, &n, WQ_NO_WAIT), WQ_OK);
    CHECK(n == 0);
    CHECK_ST(wq_pop(q2, buf, sizeof buf, NULL, WQ_NO_WAIT), WQ_INVALID_ARGUMENT);
    n = 0;
    CHECK_ST(wq_pop(q2, NULL, 0, &n, WQ_NO_WAIT), WQ_BUFFER_TOO_SMALL);
    CHECK(n == 5);
    n = 0;
    CHECK_ST(wq_pop(q2, buf, 4, &n, WQ_NO_WAIT), WQ_BUFFER_TOO_SMALL);
    CHECK(n == 5);
    CHECK_ST(wq_pop(q2, buf, sizeof buf, &n, WQ_NO_WAIT), WQ_OK);
    CHECK(n == 5 && memcmp(buf, "hello", 5) == 0);
    n = 99;
    CHECK_ST(wq_pop(q2, buf, sizeof buf, &n, WQ_NO_WAIT), WQ_EMPTY);
    CHECK(n == 99);
    t0 = now_s();
    CHECK_ST(wq_pop(q2, buf, sizeof buf, &n, 200 * 1000 * 1000), WQ_EMPTY);
    CHECK(now_s() - t0 >= 0.18 && now_s() - t0 < 10.0);

    /* FULL. */
    for (i = 0; i < 1000 && wq_push(q, msg, 100, WQ_NO_WAIT) == WQ_OK; i++) {
    }
    CHECK(i > 0 && i < 1000);
    CHECK_ST(wq_push(q, msg, 100, WQ_NO_WAIT), WQ_FULL);
    t0 = now_s();
    CHECK_ST(wq_push(q, msg, 100, 200 * 1000 * 1000), WQ_FULL);
    CHECK(now_s() - t0 >= 0.18 && now_s() - t0 < 10.0);
    CHECK_ST(wq_stats_get(q, &s), WQ_OK);
    CHECK(s.len == (uint64_t)i && s.bytes_used > 0 && s.bytes_used <= s.capacity);
    CHECK(s.pushed_total == (uint64_t)i + 2 && s.popped_total == 2);
    while (wq_pop(q2, buf, sizeof buf, &n, WQ_NO_WAIT) == WQ_OK) {
        CHECK(n == 100 && memcmp(buf, msg, 100) == 0);
    }
    CHECK_ST(wq_stats_get(q, &s), WQ_OK);
    CHECK(s.len == 0 && s.bytes_used == 0 && s.pushed_total == s.popped_total);

    /* Batches. */
    iov[0].data = "one";
    iov[0].len = 3;
    iov[1].data = NULL;
    iov[1].len = 0;
    iov[2].data = "three";
    iov[2].len = 5;
    iov[3].data = msg;
    iov[3].len = 101; /* too large: the batch stops before it */
    CHECK_ST(wq_push_batch(q, iov, 4, &pushed, WQ_NO_WAIT), WQ_OK);
    CHECK(pushed == 3);
    CHECK_ST(wq_push_batch(q, iov + 3, 1, &pushed, WQ_NO_WAIT), WQ_MESSAGE_TOO_LARGE);
    CHECK(pushed == 3);
    CHECK_ST(wq_push_batch(q, NULL, 0, &pushed, WQ_NO_WAIT), WQ_OK);
    CHECK(pushed == 0);
    CHECK_ST(wq_pop_batch(q2, buf, sizeof buf, sp, 0, &n, WQ_NO_WAIT), WQ_INVALID_ARGUMENT);
    n = 55;
    CHECK_ST(wq_pop_batch(q2, buf, 2, sp, 4, &n, WQ_NO_WAIT), WQ_BUFFER_TOO_SMALL);
    CHECK(n == 0 && sp[0].len == 3);
    CHECK_ST(wq_pop_batch(q2, buf, sizeof buf, sp, 4, &n, WQ_NO_WAIT), WQ_OK);
    CHECK(n == 3);
    if (n == 3) {
        CHECK(sp[0].len == 3 && memcmp(buf + sp[0].offset, "one", 3) == 0);
        CHECK(sp[1].len == 0);
        CHECK(sp[2].len == 5 && memcmp(buf + sp[2].offset, "three", 5) == 0);
    }

    /* A child of fork() may go on using its parent's handle. */
    {
        pid_t pid = fork();
        int status = 0;
        if (pid == 0) {
            _exit(wq_push(q, "from child", 10, WQ_NO_WAIT) == WQ_OK ? 0 : 1);
        }
        CHECK(pid > 0);
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        CHECK_ST(wq_pop(q2, buf, sizeof buf, &n, WQ_NO_WAIT), WQ_OK);
        CHECK(n == 10 && memcmp(buf, "from child", 10) == 0);
    }

    /* Persistence and remove. */
    CHECK_ST(wq_push(q, "persist", 7, WQ_NO_WAIT), WQ_OK);
    wq_close(q);
    wq_close(q2);
    q = q2 = NULL;
    o.flags = WQ_OPEN_ONLY;
    CHECK_ST(wq_open(base, &o, &q), WQ_OK);
    if (q == NULL) {
        return;
    }
    CHECK_ST(wq_remove(base), WQ_OK);
    CHECK(stat(path, &sb) != 0);
    CHECK_ST(wq_remove(slashed), WQ_NOT_FOUND);
    CHECK_ST(wq_open(base, &o, &q3), WQ_NOT_FOUND);
    CHECK_ST(wq_pop(q, buf, sizeof buf, &n, WQ_NO_WAIT), WQ_OK);
    CHECK(n == 7 && memcmp(buf, "persist", 7) == 0);
    CHECK_ST(wq_push(q, "still", 5, WQ_NO_WAIT), WQ_OK);
    CHECK_ST(wq_pop(q, buf, sizeof buf, &n, WQ_NO_WAIT), WQ_OK);
    wq_close(q);

    /* An OS failure: 1 TiB cannot be reserved in /dev/shm. errno says why. */
    wq_options_default(&o);
    o.capacity = (uint64_t)1 << 40;
    o.flags = WQ_CREATE_ONLY;
    errno = 0;
    q = NULL;
    CHECK_ST(wq_open(big, &o, &q), WQ_SYSTEM_ERROR);
    CHECK(errno == ENOSPC);
    CHECK(q == NULL);
    CHECK(wq_last_error()[0] != '\0');
    if (q != NULL) {
        wq_close(q);
        (void)wq_remove(big);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: api_contract BASE\n");
        return 2;
    }
    check_static();
    check_nulls(argv[1]);
    check_names();
    check_queue(argv[1]);
    if (failures != 0) {
        fprintf(stderr, "api_contract: %d contract violation(s)\n", failures);
        return 1;
    }
    printf("api_contract: all checks passed\n");
    return 0;
}

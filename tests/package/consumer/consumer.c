/* consumer.c - a C program built against an installed wq (CMake package or
 * pkg-config): one message there and back on a queue of its own. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <wq.h>

static int fail(const char *what, wq_status s) {
    fprintf(stderr, "consumer_c: %s: %s (%s)\n", what, wq_status_str(s), wq_last_error());
    return 1;
}

int main(void) {
    char name[64];
    snprintf(name, sizeof name, "wqt-pkg-c-%ld", (long)getpid());
    wq_queue *q = NULL;
    wq_status s = wq_open(name, NULL, &q);
    if (s != WQ_OK) {
        return fail("wq_open", s);
    }
    char buf[16];
    size_t len = 0;
    s = wq_push(q, "package", 7, WQ_NO_WAIT);
    if (s == WQ_OK) {
        s = wq_pop(q, buf, sizeof buf, &len, WQ_NO_WAIT);
    }
    wq_close(q);
    wq_status r = wq_remove(name);
    if (s != WQ_OK) {
        return fail("push/pop", s);
    }
    if (r != WQ_OK) {
        return fail("wq_remove", r);
    }
    if (len != 7 || memcmp(buf, "package", 7) != 0 || strcmp(wq_version(), WQ_VERSION) != 0) {
        fprintf(stderr, "consumer_c: wrong message or version\n");
        return 1;
    }
    printf("consumer_c: ok (wq %s)\n", wq_version());
    return 0;
}

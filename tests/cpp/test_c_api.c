/* test_c_api.c - the C contract of wq.h, exercised from C11. */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <string.h>

#include "test_util.h"
#include "wq.h"

#ifndef WQ_CMAKE_VERSION
#error "the build passes the CMake package version as WQ_CMAKE_VERSION"
#endif

static void test_version(void) {
    CHECK(strcmp(wq_version(), WQ_VERSION) == 0);
    CHECK(strcmp(WQ_VERSION, WQ_CMAKE_VERSION) == 0);
    char parts[32];
    snprintf(parts, sizeof parts, "%d.%d.%d", WQ_VERSION_MAJOR, WQ_VERSION_MINOR,
             WQ_VERSION_PATCH);
    CHECK(strcmp(parts, WQ_VERSION) == 0);
}

static void test_status_str(void) {
    for (wq_status s = WQ_OK; s <= WQ_INTERNAL; ++s) {
        const char *text = wq_status_str(s);
        CHECK(text != NULL && text[0] != '\0');
    }
    CHECK(wq_status_str(-1) != NULL);
    CHECK(wq_status_str(12345) != NULL);
}

static void test_options_and_open(void) {
    wq_options o;
    memset(&o, 0xff, sizeof o);
    wq_options_default(&o);
    CHECK(o.capacity == WQ_DEFAULT_CAPACITY);
    CHECK(o.max_message_size == 0);
    CHECK(o.mode == WQ_DEFAULT_MODE);
    CHECK(o.flags == WQ_OPEN_OR_CREATE);
    wq_options_default(NULL);

    const char *name = test_queue_name("open");
    wq_queue *q = NULL;
    o.flags = WQ_OPEN_ONLY;
    CHECK_STATUS(wq_open(name, &o, &q), WQ_NOT_FOUND);
    CHECK(q == NULL);
    CHECK(wq_last_error()[0] != '\0');

    o.flags = WQ_CREATE_ONLY;
    o.capacity = 4096;
    CHECK_STATUS(wq_open(name, &o, &q), WQ_OK);
    CHECK(q != NULL);
    wq_queue *again = NULL;
    CHECK_STATUS(wq_open(name, &o, &again), WQ_EXISTS);
    CHECK(again == NULL);

    /* "/name" is the same queue; its geometry is the stored one. */
    char slashed[80];
    snprintf(slashed, sizeof slashed, "/%s", name);
    CHECK_STATUS(wq_open(slashed, NULL, &again), WQ_OK);
    wq_stats st;
    CHECK_STATUS(wq_stats_get(again, &st), WQ_OK);
    CHECK(st.capacity == 4096);
    CHECK_STATUS(wq_push(q, "x", 1, WQ_NO_WAIT), WQ_OK);
    CHECK_STATUS(wq_stats_get(again, &st), WQ_OK);
    CHECK(st.len == 1 && st.pushed_total == 1);
    wq_close(again);
    wq_close(q);
    wq_close(NULL);

    CHECK_STATUS(wq_open("bad/name", NULL, &q), WQ_INVALID_ARGUMENT);
    CHECK_STATUS(wq_open("..", NULL, &q), WQ_INVALID_ARGUMENT);
    CHECK_STATUS(wq_open(NULL, NULL, &q), WQ_INVALID_ARGUMENT);
    CHECK_STATUS(wq_open(name, NULL, NULL), WQ_INVALID_ARGUMENT);

    CHECK_STATUS(wq_remove(name), WQ_OK);
    CHECK_STATUS(wq_remove(name), WQ_NOT_FOUND);
}

static void test_push_pop(void) {
    const char *name = test_queue_name("pushpop");
    wq_options o;
    wq_options_default(&o);
    o.capacity = 1024;
    o.max_message_size = 100;
    wq_queue *q = NULL;
    CHECK_STATUS(wq_open(name, &o, &q), WQ_OK);
    if (q == NULL) {
        return;
    }

    char buf[200];
    size_t len = 12345;
    CHECK_STATUS(wq_pop(q, buf, sizeof buf, &len, WQ_NO_WAIT), WQ_EMPTY);
    CHECK(len == 12345);
    CHECK_STATUS(wq_pop(q, buf, sizeof buf, &len, 1000000 /* 1 ms */), WQ_EMPTY);

    CHECK_STATUS(wq_push(q, "hello", 5, WQ_NO_WAIT), WQ_OK);
    CHECK_STATUS(wq_push(q, NULL, 0, WQ_NO_WAIT), WQ_OK);
    CHECK_STATUS(wq_push(q, NULL, 3, WQ_NO_WAIT), WQ_INVALID_ARGUMENT);
    CHECK_STATUS(wq_push(q, buf, 101, WQ_NO_WAIT), WQ_MESSAGE_TOO_LARGE);
    CHECK_STATUS(wq_push(NULL, "x", 1, WQ_NO_WAIT), WQ_INVALID_ARGUMENT);

    /* Size probe: cap 0 tells the size, the message stays queued. */
    CHECK_STATUS(wq_pop(q, NULL, 0, &len, WQ_NO_WAIT), WQ_BUFFER_TOO_SMALL);
    CHECK(len == 5);
    CHECK_STATUS(wq_pop(q, buf, 4, &len, WQ_NO_WAIT), WQ_BUFFER_TOO_SMALL);
    CHECK(len == 5);
    CHECK_STATUS(wq_pop(q, buf, sizeof buf, &len, WQ_NO_WAIT), WQ_OK);
    CHECK(len == 5 && memcmp(buf, "hello", 5) == 0);
    CHECK_STATUS(wq_pop(q, NULL, 0, &len, WQ_NO_WAIT), WQ_OK);
    CHECK(len == 0);
    CHECK_STATUS(wq_pop(q, buf, sizeof buf, NULL, WQ_NO_WAIT), WQ_INVALID_ARGUMENT);

    /* Fill it with records of 100 bytes (8 + 104 = 112 each). No record
     * wraps around the ring's end: from the tail at 24 (the two popped
     * records), 8 fit before the end, and a 9th would need the 104 bytes
     * left there as padding, plus its own 112, more than the 128 free. */
    memset(buf, 'z', sizeof buf);
    int pushed = 0;
    while (wq_push(q, buf, 100, WQ_NO_WAIT) == WQ_OK) {
        ++pushed;
    }
    CHECK(pushed == 8);
    CHECK_STATUS(wq_push(q, buf, 100, 1000000), WQ_FULL);
    wq_stats st;
    CHECK_STATUS(wq_stats_get(q, &st), WQ_OK);
    CHECK(st.len == (uint64_t)pushed);
    CHECK(st.max_message_size == 100);
    CHECK(st.pushed_total == (uint64_t)pushed + 2);
    CHECK(st.popped_total == 2);
    CHECK_STATUS(wq_stats_get(q, NULL), WQ_INVALID_ARGUMENT);
    wq_close(q);
}

static void test_batches(void) {
    const char *name = test_queue_name("batch");
    wq_queue *q = NULL;
    wq_options o;
    wq_options_default(&o);
    o.capacity = 1 << 16;
    CHECK_STATUS(wq_open(name, &o, &q), WQ_OK);
    if (q == NULL) {
        return;
    }
    const char *texts[] = {"one", "", "three", "four!"};
    wq_iovec iov[4];
    for (int i = 0; i < 4; ++i) {
        iov[i].data = texts[i];
        iov[i].len = strlen(texts[i]);
    }
    size_t pushed = 99;
    CHECK_STATUS(wq_push_batch(q, iov, 0, &pushed, WQ_NO_WAIT), WQ_OK);
    CHECK(pushed == 0);
    CHECK_STATUS(wq_push_batch(q, iov, 4, &pushed, WQ_NO_WAIT), WQ_OK);
    CHECK(pushed == 4);

    char buf[64];
    wq_span spans[8];
    size_t count = 0;
    /* A buffer too small for the first: its size in spans[0].len. */
    CHECK_STATUS(wq_pop_batch(q, buf, 2, spans, 8, &count, WQ_NO_WAIT), WQ_BUFFER_TOO_SMALL);
    CHECK(count == 0 && spans[0].len == 3);
    CHECK_STATUS(wq_pop_batch(q, buf, sizeof buf, spans, 0, &count, WQ_NO_WAIT),
                 WQ_INVALID_ARGUMENT);
    CHECK_STATUS(wq_pop_batch(q, buf, sizeof buf, spans, 3, &count, WQ_NO_WAIT), WQ_OK);
    CHECK(count == 3);
    for (size_t i = 0; i < count && i < 3; ++i) {
        CHECK(spans[i].len == strlen(texts[i]));
        CHECK(memcmp(buf + spans[i].offset, texts[i], spans[i].len) == 0);
    }
    CHECK_STATUS(wq_pop_batch(q, buf, sizeof buf, spans, 8, &count, WQ_NO_WAIT), WQ_OK);
    CHECK(count == 1 && spans[0].len == 5 && memcmp(buf + spans[0].offset, "four!", 5) == 0);
    CHECK_STATUS(wq_pop_batch(q, buf, sizeof buf, spans, 8, &count, WQ_NO_WAIT), WQ_EMPTY);
    wq_close(q);
}

int main(void) {
    test_version();
    test_status_str();
    test_options_and_open();
    test_push_pop();
    test_batches();
    return test_finish("test_c_api");
}

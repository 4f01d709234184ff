/* Pushes (or pops) messages of SIZE bytes for ever, to keep the queue's
 * producer (or consumer) lock busy. Usage: flood NAME push|pop SIZE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"
#include "wq.h"

int main(int argc, char **argv) {
    wq_queue *q = NULL;
    wq_status st;
    size_t size;
    size_t len = 0;
    unsigned char *buf;
    int push;

    if (argc != 4) {
        fprintf(stderr, "usage: flood NAME push|pop SIZE\n");
        return 2;
    }
    push = strcmp(argv[2], "push") == 0;
    size = (size_t)strtoul(argv[3], NULL, 10);
    buf = calloc(size, 1);
    if (buf == NULL) {
        return 2;
    }
    if (!stream_open_existing("flood", argv[1], &q)) {
        return 1;
    }
    for (;;) {
        st = push ? wq_push(q, buf, size, WQ_FOREVER)
                  : wq_pop(q, buf, size, &len, WQ_FOREVER);
        if (st != WQ_OK) {
            fprintf(stderr, "flood: %s: %s\n", wq_status_str(st), wq_last_error());
            wq_close(q);
            free(buf);
            return 1;
        }
    }
}

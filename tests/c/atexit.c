/* wq calls stay safe during process teardown: a failing call from an
 * atexit() handler (after the thread's Rust thread-locals may be gone)
 * returns its status and does not abort. Exit code 0 = pass. */
#include <stdio.h>
#include <stdlib.h>

#include "wq.h"

static void at_exit(void) {
    wq_status s = wq_remove("wq-atexit-no-such-queue");
    if (s != WQ_NOT_FOUND) {
        fprintf(stderr, "wq_remove in atexit gave %d (%s)\n", (int)s, wq_status_str(s));
        _Exit(1);
    }
    if (wq_last_error() == NULL) {
        _Exit(2);
    }
    /* _Exit: report success from here, after the check really ran. */
    _Exit(0);
}

int main(void) {
    if (wq_remove("wq-atexit-no-such-queue") != WQ_NOT_FOUND) {
        return 3;
    }
    if (atexit(at_exit) != 0) {
        return 4;
    }
    return 5; /* only at_exit's _Exit(0) can make the process succeed */
}

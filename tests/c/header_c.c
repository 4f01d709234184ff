/* wq.h must compile on its own under strict C99 and C11 (-Wpedantic -Werror). */
#include "wq.h"

wq_status header_c_probe(wq_queue *q, const wq_options *o);

wq_status header_c_probe(wq_queue *q, const wq_options *o) {
    wq_stats s;
    wq_iovec iov;
    wq_span span;
    size_t n = 0;
    (void)o;
    iov.data = 0;
    iov.len = 0;
    span.offset = 0;
    span.len = 0;
    (void)span;
    if (wq_push_batch(q, &iov, 1, &n, WQ_NO_WAIT) != WQ_OK) {
        return wq_stats_get(q, &s);
    }
    return (wq_status)WQ_FOREVER + WQ_INTERNAL;
}

// wq.h must compile as C++ (-std=c++17 -Wall -Wextra -Wpedantic -Werror) and
// its functions must link with C linkage. Exit 0 when the version agrees.
#include "wq.h"

#include <cstdio>
#include <cstring>

int main() {
    wq_options o{};
    wq_options_default(&o);
    wq_stats s{};
    wq_iovec iov{nullptr, 0};
    wq_span span{0, 0};
    static_assert(sizeof(wq_status) == 4, "wq_status is a 32-bit integer");
    static_assert(WQ_INTERNAL == 12, "status values are fixed");
    (void)s;
    (void)iov;
    (void)span;
    wq_close(nullptr);
    if (std::strcmp(wq_version(), WQ_VERSION) != 0 || o.capacity != 33554432u ||
        wq_status_str(WQ_OK) == nullptr || wq_remove(nullptr) != WQ_INVALID_ARGUMENT) {
        std::fprintf(stderr, "header_cxx: unexpected result\n");
        return 1;
    }
    return 0;
}

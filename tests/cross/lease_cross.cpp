// lease_cross.cpp - the C++ leased worker of the cross-language lease test,
// with wq::queue::try_pop_leased_for and wq::lease. The same rules as the C
// worker (lease_cross.c, "work" role):
//
//   usage: lease-cross-cpp QUEUE COUNT NACK
//
// prints "ready", then "ack N D" per task N acked at delivery D, and
// "nack N" per task whose number is a multiple of NACK (> 0) that it gave
// back at its first delivery; ends when nothing is left to lease and the
// queue's acked_total reached COUNT; fails after 60 s.
// Exit status: 0 done, 1 wrong data or no end, 2 bad usage, 3 a wq call failed.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "wq.hpp"

namespace {

using namespace std::chrono_literals;

bool parse_u64(std::string_view text, std::uint64_t& out) {
    if (text.empty() || text.size() > 19) {
        return false;
    }
    std::uint64_t v = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') {
            return false;
        }
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    out = v;
    return true;
}

int work(const char* name, std::uint64_t count, std::uint64_t nack_every) {
    wq::options opts;
    opts.capacity = 1 << 20;
    wq::queue q(name, opts);
    std::cout << "ready" << std::endl;
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    for (;;) {
        std::optional<wq::lease> task = q.try_pop_leased_for(30s, 100ms);
        if (!task) {
            const wq::lease_stats s = q.lease_stats();
            if (s.acked_total >= count) {
                return 0;
            }
            if (std::chrono::steady_clock::now() > give_up) {
                std::cerr << "lease-cross-cpp: only " << s.acked_total << " of " << count
                          << " acked after 60 s\n";
                return 1;
            }
            continue;
        }
        const std::string_view msg = task->view();
        std::uint64_t n = 0;
        if (msg.substr(0, 5) != "task " || !parse_u64(msg.substr(5), n) || n >= count) {
            std::cerr << "lease-cross-cpp: not a task: \"" << msg << "\"\n";
            return 1;
        }
        if (nack_every != 0 && n % nack_every == 0 && task->deliveries() == 1) {
            task->nack();
            std::cout << "nack " << n << "\n";
            continue;
        }
        std::this_thread::sleep_for(100us);  // the "work"
        task->ack();
        std::cout << "ack " << n << " " << task->deliveries() << "\n";
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t count = 0;
    std::uint64_t nack_every = 0;
    if (argc != 4 || !parse_u64(argv[2], count) || !parse_u64(argv[3], nack_every)) {
        std::cerr << "usage: lease-cross-cpp QUEUE COUNT NACK\n";
        return 2;
    }
    try {
        return work(argv[1], count, nack_every);
    } catch (const wq::error& e) {
        std::cerr << "lease-cross-cpp: " << e.what() << "\n";
        return 3;
    }
}

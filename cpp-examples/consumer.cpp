// consumer.cpp - pops COUNT messages of the example stream from QUEUE and
// checks them: every message exactly once, whole, in order. Then checks that
// nothing more arrives and removes the queue.
//
//   usage: cpp-consumer QUEUE COUNT
//
// Exit status: 0 all good, 1 wrong data, 2 bad usage, 3 a wq call failed.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "message_stream.hpp"
#include "wq.hpp"

int main(int argc, char** argv) {
    const std::optional<std::uint64_t> args = stream::parse_args(argc, argv, "cpp-consumer");
    if (!args) {
        return 2;
    }
    const std::uint64_t count = *args;

    try {
        wq::queue q = stream::open_queue(argv[1]);

        for (std::uint64_t i = 0; i < count; ++i) {
            const auto msg = q.try_pop_for(std::chrono::seconds(60));
            if (!msg) {
                std::cerr << "cpp-consumer: nothing arrived for 60 s, waiting for message " << i
                          << "\n";
                return 1;
            }
            if (const auto wrong = stream::check(i, msg->data(), msg->size())) {
                std::cerr << "cpp-consumer: " << *wrong << "\n";
                return 1;
            }
        }
        if (const auto extra = q.try_pop_for(std::chrono::milliseconds(200))) {
            std::cerr << "cpp-consumer: an extra message of " << extra->size() << " bytes after "
                      << count << "\n";
            return 1;
        }
        wq::queue::remove(argv[1]);
        std::cout << "cpp-consumer: received " << count << " messages from " << argv[1]
                  << ", all in order" << std::endl;
    } catch (const wq::error& e) {
        std::cerr << "cpp-consumer: " << e.what() << "\n";
        return 3;
    }
    return 0;
}

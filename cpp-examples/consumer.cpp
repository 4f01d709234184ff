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
#include <stdexcept>
#include <string>
#include <vector>

#include "message_stream.hpp"
#include "wq.hpp"

int main(int argc, char** argv) {
    std::uint64_t count = 0;
    try {
        if (argc != 3 || std::string(argv[2]).find_first_not_of("0123456789") != std::string::npos) {
            throw std::invalid_argument("bad arguments");
        }
        count = std::stoull(argv[2]);
    } catch (const std::exception&) {
        std::cerr << "usage: " << (argc > 0 ? argv[0] : "cpp-consumer") << " QUEUE COUNT\n";
        return 2;
    }

    try {
        wq::options opts;
        opts.capacity = stream::capacity;
        wq::queue q(argv[1], opts);

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

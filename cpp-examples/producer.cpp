// producer.cpp - pushes COUNT messages of the example stream onto QUEUE,
// in batches (wq::queue::push_batch).
//
//   usage: cpp-producer QUEUE COUNT
//
// Exit status: 0 done, 2 bad usage, 3 a wq call failed.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <optional>
#include <vector>

#include "message_stream.hpp"
#include "wq.hpp"

int main(int argc, char** argv) {
    const std::optional<std::uint64_t> args = stream::parse_args(argc, argv, "cpp-producer");
    if (!args) {
        return 2;
    }
    const std::uint64_t count = *args;

    try {
        wq::queue q = stream::open_queue(argv[1]);

        constexpr std::uint64_t batch_size = 16;
        std::vector<std::vector<std::byte>> pending;
        for (std::uint64_t i = 0; i < count;) {
            pending.clear();
            for (std::uint64_t k = i; k < count && k < i + batch_size; ++k) {
                pending.push_back(stream::message(k));
            }
            // push_batch pushes a prefix (as many as fit now); send the rest next.
            std::size_t sent = 0;
            while (sent < pending.size()) {
                const std::vector<std::vector<std::byte>> rest(pending.begin() + sent, pending.end());
                const std::size_t n = q.try_push_batch_for(rest, std::chrono::seconds(60));
                if (n == 0) {
                    std::cerr << "cpp-producer: no room for 60 s at message " << i + sent << "\n";
                    return 3;
                }
                sent += n;
            }
            i += pending.size();
        }
        std::cout << "cpp-producer: pushed " << count << " messages to " << argv[1] << std::endl;
    } catch (const wq::error& e) {
        std::cerr << "cpp-producer: " << e.what() << "\n";
        return 3;
    }
    return 0;
}

// asio_worker.cpp - two queues served from one Boost.Asio io_context.
//
//   usage: asio-worker QUEUE_A COUNT_A QUEUE_B COUNT_B
//
// Opens (or creates, with 1 MiB of storage) both queues and hands each
// queue's readiness descriptor (wq::queue::native_handle(), duplicated: a
// posix::stream_descriptor closes what it owns) to Asio. When one is
// readable, the handler drains that queue with try_pop() until it is empty
// (which resets the descriptor), checks every message against the example
// stream (messages 0, 1, 2... of each queue, in order) and waits again. A
// steady_timer prints the progress every second. It ends when COUNT_A and
// COUNT_B messages have arrived and removes both queues; after 60 s
// without them it gives up. Built only where Boost.Asio's headers are
// installed: wq itself never needs Boost.
//
// Exit status: 0 all good, 1 wrong data or no progress, 2 bad usage,
// 3 a wq call failed.
#include <unistd.h>

#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "message_stream.hpp"
#include "wq.hpp"

namespace {

namespace asio = boost::asio;

/// One queue the worker serves, with its descriptor registered with Asio.
struct source {
    source(asio::io_context& io, const std::string& queue_name, std::uint64_t count)
        : name(queue_name), q(name, options()), want(count), fd(io, ::dup(q.native_handle())) {}

    static wq::options options() {
        wq::options o;
        o.capacity = stream::capacity;
        return o;
    }

    std::string name;
    wq::queue q;
    std::uint64_t want;
    std::uint64_t got = 0;
    asio::posix::stream_descriptor fd;
};

int status = 0;

bool done(const std::vector<std::unique_ptr<source>>& sources) {
    for (const auto& s : sources) {
        if (s->got < s->want) {
            return false;
        }
    }
    return true;
}

void serve(source& s, asio::io_context& io, const std::vector<std::unique_ptr<source>>& all) {
    s.fd.async_wait(asio::posix::stream_descriptor::wait_read,
                    [&s, &io, &all](const boost::system::error_code& ec) {
                        if (ec) {
                            return;  // cancelled at the end
                        }
                        while (auto msg = s.q.try_pop()) {
                            if (auto wrong = stream::check(s.got, msg->data(), msg->size())) {
                                std::cerr << "asio-worker: " << s.name << ": " << *wrong << "\n";
                                status = 1;
                                io.stop();
                                return;
                            }
                            ++s.got;
                        }
                        if (done(all)) {
                            io.stop();
                            return;
                        }
                        serve(s, io, all);
                    });
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5) {
        std::cerr << "usage: " << (argc > 0 ? argv[0] : "asio-worker")
                  << " QUEUE_A COUNT_A QUEUE_B COUNT_B\n";
        return 2;
    }
    try {
        asio::io_context io;
        std::vector<std::unique_ptr<source>> sources;
        sources.push_back(std::make_unique<source>(io, argv[1], std::strtoull(argv[2], nullptr, 10)));
        sources.push_back(std::make_unique<source>(io, argv[3], std::strtoull(argv[4], nullptr, 10)));
        for (auto& s : sources) {
            serve(*s, io, sources);
        }
        asio::steady_timer tick(io);
        unsigned ticks = 0;
        std::function<void(const boost::system::error_code&)> on_tick =
            [&](const boost::system::error_code& ec) {
                if (ec) {
                    return;
                }
                std::cout << "asio-worker: " << sources[0]->got << "/" << sources[0]->want << ", "
                          << sources[1]->got << "/" << sources[1]->want << std::endl;
                if (++ticks >= 60) {
                    std::cerr << "asio-worker: no end after 60 s\n";
                    status = 1;
                    io.stop();
                    return;
                }
                tick.expires_after(std::chrono::seconds(1));
                tick.async_wait(on_tick);
            };
        tick.expires_after(std::chrono::seconds(1));
        tick.async_wait(on_tick);
        io.run();
        if (status == 0) {
            std::cout << "asio-worker: " << sources[0]->got << " messages from " << sources[0]->name
                      << " and " << sources[1]->got << " from " << sources[1]->name
                      << ", all in order\n";
        }
        for (auto& s : sources) {
            wq::queue::remove(s->name);
        }
    } catch (const wq::error& e) {
        std::cerr << "asio-worker: " << e.what() << "\n";
        return 3;
    }
    return status;
}

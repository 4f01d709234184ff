// task_producer.cpp - a C++ producer of fixed-layout tasks for a Python
// worker (struct_worker.py reads the same struct with `struct` or ctypes).
//
//   usage: task_producer QUEUE COUNT
//
// Opens (or creates, with 32 MiB) QUEUE and pushes COUNT resize_task values
// with wq::work_queue<resize_task>::push_task; task i has id i and fields
// derived from i (see struct_worker.py's expected()).
// Build (from the repository root, with libwq.so in LIBDIR):
//   c++ -std=c++17 -Wall -Wextra -Werror -I include python/examples/task_producer.cpp -LLIBDIR -lwq
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>

#include "wq.hpp"

// Natural alignment: 6 bytes of padding after `priority` round the size up
// to a multiple of 8 (Python: struct format "@QIId32sH0Q", or ctypes).
struct resize_task {
    std::uint64_t id;
    std::uint32_t width;
    std::uint32_t height;
    double scale;
    char path[32];
    std::uint16_t priority;
};
static_assert(sizeof(resize_task) == 64, "the layout struct_worker.py expects");

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: task_producer QUEUE COUNT\n";
        return 2;
    }
    try {
        wq::work_queue<resize_task> queue(argv[1]);
        const unsigned long count = std::strtoul(argv[2], nullptr, 10);
        for (unsigned long i = 0; i < count; ++i) {
            resize_task t{};
            t.id = i;
            t.width = 640 + static_cast<std::uint32_t>(i % 1000);
            t.height = 480 + static_cast<std::uint32_t>(i % 7);
            t.scale = static_cast<double>(i) * 0.5;
            std::snprintf(t.path, sizeof t.path, "img/%06lu.png", i);
            t.priority = static_cast<std::uint16_t>(i % 3);
            queue.push_task(t);
        }
        std::cout << "task_producer: pushed " << count << " tasks to " << argv[1] << std::endl;
    } catch (const std::exception& e) {
        std::cerr << "task_producer: " << e.what() << std::endl;
        return 3;
    }
    return 0;
}

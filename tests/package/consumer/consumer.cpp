// consumer.cpp - a C++ program built against an installed wq: the recipe's
// work_queue on a queue of its own.
#include <cstddef>
#include <iostream>
#include <string>

#include <unistd.h>

#include <wq.hpp>

struct task_structure {
    std::size_t value_;
};

int main() {
    const std::string name = "wqt-pkg-cpp-" + std::to_string(getpid());
    try {
        wq::work_queue<task_structure> queue(name.c_str(), 1 << 20);
        for (std::size_t i = 0; i < 100; ++i) {
            queue.push_task(task_structure{i});
        }
        for (std::size_t i = 0; i < 100; ++i) {
            if (queue.pop_task().value_ != i) {
                std::cerr << "consumer_cpp: wrong task\n";
                queue.cleanup();
                return 1;
            }
        }
        const bool empty = !queue.try_pop_task();
        queue.cleanup();
        if (!empty) {
            std::cerr << "consumer_cpp: queue not empty\n";
            return 1;
        }
    } catch (const wq::error& e) {
        std::cerr << "consumer_cpp: " << e.what() << "\n";
        wq::queue::remove(name);
        return 1;
    }
    std::cout << "consumer_cpp: ok (wq " << wq::version() << ")\n";
    return 0;
}

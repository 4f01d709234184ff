// main.cpp - the Boost.Interprocess work_queue recipe's demo, on wq.
//
// The program is written the way the recipe's is: a task_structure, a
// work_queue opened with its default constructor, push_task / try_pop_task /
// pop_task / cleanup. Only the queue itself changed: instead of a class over
// managed_shared_memory + deque + interprocess_mutex + interprocess_condition
// it is one line (below).
//
// First run:  prints "Filling data" and leaves 10,000 tasks in the queue.
// Next run:   prints "Getting data", checks all 10,000 arrive in order and
//             the queue is then empty, and removes the queue.
//
// usage: main [QUEUE]   (default queue: "work-queue", as in the recipe)
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>

#include "wq.hpp"

struct task_structure {
    // ...
    std::size_t value_;
};

using work_queue = wq::work_queue<task_structure>;

namespace {

// The recipe uses assert(); these checks stay on in release builds.
void expect(bool ok, const char* what) {
    if (!ok) {
        std::cerr << "check failed: " << what << std::endl;
        std::exit(1);
    }
}

work_queue open_queue(int argc, char** argv) {
    if (argc > 1) {
        return work_queue(argv[1]);
    }
    return work_queue();
}

}  // namespace

int main(int argc, char** argv) {
    try {
        static const std::size_t max_tasks_count = 10000;
        work_queue queue = open_queue(argc, argv);

        std::optional<task_structure> task = queue.try_pop_task();
        if (!task) {
            std::cout << "Filling data" << std::endl;
            task_structure ts;
            for (std::size_t i = 0; i < max_tasks_count; ++i) {
                ts.value_ = i;
                queue.push_task(ts);
            }
        } else {
            std::cout << "Getting data" << std::endl;
            expect(task->value_ == 0, "the first task is task 0");
            for (std::size_t i = 1; i < max_tasks_count; ++i) {
                expect(queue.pop_task().value_ == i, "tasks arrive in order");
            }

            expect(!queue.try_pop_task(), "the queue is empty afterwards");

            queue.cleanup();
        }
    } catch (const std::exception& e) {
        std::cout << e.what() << std::endl;
        return 1;
    }
    return 0;
}

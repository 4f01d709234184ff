// test_recipe_compat.cpp - wq::work_queue<T> as a drop-in for the
// Boost.Interprocess work_queue recipe: the recipe's member signatures hold
// (checked at compile time), and a program written against it runs as
// before with `using work_queue = wq::work_queue<task_structure>;`.
#include <cstddef>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <type_traits>

#include <unistd.h>

#include "wq.hpp"

struct task_structure {
    // ...
    std::size_t value_;
};

using work_queue = wq::work_queue<task_structure>;

// The recipe's interface, member by member.
static_assert(std::is_same_v<work_queue::task_type, task_structure>);
static_assert(std::is_default_constructible_v<work_queue>);
static_assert(std::is_same_v<decltype(&work_queue::push_task),
                             void (work_queue::*)(const task_structure&)>);
static_assert(std::is_same_v<decltype(&work_queue::try_pop_task),
                             std::optional<task_structure> (work_queue::*)()>);
static_assert(std::is_same_v<decltype(&work_queue::pop_task), task_structure (work_queue::*)()>);
static_assert(std::is_same_v<decltype(&work_queue::cleanup), void (work_queue::*)()>);
// ... plus the constructor the contract adds: (name, bytes = 32 MiB).
static_assert(std::is_constructible_v<work_queue, const char*>);
static_assert(std::is_constructible_v<work_queue, const char*, std::size_t>);
static_assert(!std::is_convertible_v<const char*, work_queue>);
static_assert(work_queue::default_bytes == 1024 * 1024 * 32);

namespace {

int failed = 0;

void check(bool ok, const char* what) {
    if (!ok) {
        std::cerr << "check failed: " << what << "\n";
        ++failed;
    }
}

// The recipe's main(), shaped as it is written there (assert -> check).
void recipe_main(work_queue& queue) {
    static const std::size_t max_tasks_count = 10000;
    auto task = queue.try_pop_task();
    if (!task) {
        task_structure ts;
        for (std::size_t i = 0; i < max_tasks_count; ++i) {
            ts.value_ = i;
            queue.push_task(ts);
        }
    } else {
        check(task->value_ == 0, "first task");
        for (std::size_t i = 1; i < max_tasks_count; ++i) {
            check(queue.pop_task().value_ == i, "task order");
        }
        check(!queue.try_pop_task(), "empty afterwards");
        queue.cleanup();
    }
}

}  // namespace

int main() {
    const char* tag = std::getenv("WQ_TEST_TAG");
    const std::string name = std::string(tag != nullptr && *tag ? tag : "wqt") + "-" +
                             std::to_string(getpid()) + "-recipe";
    try {
        {
            work_queue first_run(name.c_str());
            recipe_main(first_run);  // fills
        }
        {
            work_queue second_run(name.c_str());
            check(second_run.raw().stats().len == 10000, "10,000 tasks persist between runs");
            recipe_main(second_run);  // drains, checks, cleans up
        }
        check(!wq::queue::remove(name), "cleanup() removed the queue");
    } catch (const std::exception& e) {
        std::cerr << e.what() << "\n";
        wq::queue::remove(name);
        return 1;
    }
    if (failed != 0) {
        wq::queue::remove(name);
        return 1;
    }
    std::cout << "test_recipe_compat: the recipe's program runs unchanged on wq::work_queue\n";
    return 0;
}

// test_recipe_compat.cpp - wq::work_queue<T> as a drop-in for the
// Boost.Interprocess work_queue recipe (Boost C++ Application Development
// Cookbook, "interprocess queue"), with Boost's own boost::optional.
//
// The recipe's program stays as it is written against the recipe's class:
// the class is replaced by `using work_queue = wq::work_queue<task_structure>;`
// and nothing else changes. recipe_program() below uses every statement of
// it that touches the queue as it is spelled there, asserts included, and
// the driver runs it as two processes, as the recipe is run: the first
// fills the queue, the second drains, checks and cleans up. (One difference:
// the queue is named after this test's pid rather than "work-queue", so
// that concurrent test runs do not share it; the default constructor is
// checked at compile time.)
//
// Then the recipe's size: its 32 MiB segment held about 3.9 M tasks of 8
// bytes before push_task threw bad_alloc; a wq::work_queue of 32 MiB takes
// 32 MiB / 8 tasks without waiting, then push_task throws too.
#undef NDEBUG  // the recipe's asserts are its checks: keep them in every build
#include <cassert>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <type_traits>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/optional.hpp>

#include "test_util.hpp"
#include "wq.hpp"

extern char** environ;

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
static_assert(std::is_same_v<decltype(&work_queue::pop_task), task_structure (work_queue::*)()>);
static_assert(std::is_same_v<decltype(&work_queue::cleanup), void (work_queue::*)()>);
// try_pop_task gives a std::optional (the C++ contract's type) that the
// recipe's boost::optional is initialised from.
using popped = decltype(std::declval<work_queue&>().try_pop_task());
static_assert(std::is_base_of_v<std::optional<task_structure>, popped>);
static_assert(std::is_convertible_v<popped, boost::optional<task_structure>>);
static_assert(std::is_convertible_v<popped, std::optional<task_structure>>);
// No other conversion: not to a task, not to a boost::optional of another type.
static_assert(!std::is_convertible_v<popped, task_structure>);
static_assert(!std::is_convertible_v<popped, boost::optional<int>>);
// ... plus the constructor the contract adds: (name, bytes = 32 MiB).
static_assert(std::is_constructible_v<work_queue, const char*>);
static_assert(std::is_constructible_v<work_queue, const char*, std::size_t>);
static_assert(!std::is_convertible_v<const char*, work_queue>);
static_assert(work_queue::default_bytes == 1024 * 1024 * 32);

namespace {

using test::unique_name;

const char* queue_name = nullptr;  // the role's argument

// The recipe's program (its main()'s body, catch included). Exit status 0
// and one line on stdout: "Filling data" or "Gettinging data" (sic); a
// failed assert aborts, and an exception shows as its what() on stdout.
int recipe_program() {
    try {
        static const std::size_t max_tasks_count = 10000;
        work_queue queue(queue_name);

        boost::optional<task_structure> task = queue.try_pop_task();
        if (!task) {
            std::cout << "Filling data" << std::endl;
            task_structure ts;
            for (std::size_t i = 0; i < max_tasks_count; ++i) {
                ts.value_ = i;
                queue.push_task(ts);
            }
        } else {
            std::cout << "Gettinging data" << std::endl;
            assert(task->value_ == 0);
            for (std::size_t i = 1; i < max_tasks_count; ++i) {
                assert(queue.pop_task().value_ == i);
            }

            assert(!queue.try_pop_task());

            queue.cleanup();
        }
    } catch (const std::exception& e) {
        std::cout << e.what();
    }
    return 0;
}

// Runs this program again as `<self> recipe <name>`; its exit status and stdout.
struct run_result {
    int status = -1;
    std::string out;
};

run_result run_recipe(const std::string& name) {
    static char self[] = "/proc/self/exe";
    run_result r;
    int out[2];
    if (pipe(out) != 0) {
        return r;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    char role[] = "recipe";
    std::string name_arg = name;
    char* argv[] = {self, role, name_arg.data(), nullptr};
    pid_t pid = -1;
    const int spawned = posix_spawn(&pid, self, &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    if (spawned == 0) {
        char buf[256];
        ssize_t n = 0;
        while ((n = read(out[0], buf, sizeof buf)) > 0) {
            r.out.append(buf, static_cast<std::size_t>(n));
        }
        int status = 0;
        if (waitpid(pid, &status, 0) == pid) {
            r.status = status;
        }
    }
    close(out[0]);
    return r;
}

void test_recipe_runs_unchanged() {
    const std::string name = unique_name("recipe");
    const run_result fill = run_recipe(name);
    CHECK(WIFEXITED(fill.status) && WEXITSTATUS(fill.status) == 0);
    CHECK(fill.out == "Filling data\n");
    {
        wq::queue between(name, wq::options{0, 0, 0600, wq::open_mode::open_only});
        CHECK(between.stats().len == 10000);  // the tasks wait between the runs
    }
    const run_result drain = run_recipe(name);
    CHECK(WIFEXITED(drain.status) && WEXITSTATUS(drain.status) == 0);  // no assert failed
    CHECK(drain.out == "Gettinging data\n");
    CHECK(!wq::queue::remove(name));  // cleanup() removed it
    if (fill.out != "Filling data\n" || drain.out != "Gettinging data\n") {
        std::cerr << "recipe runs printed: [" << fill.out << "] [" << drain.out << "]\n";
    }
}

// The recipe's segment held about 3.9 M tasks of 8 bytes; this one holds
// 32 MiB / 8 = 4,194,304, pushed without waiting, and then push_task
// throws as the recipe's did.
void test_recipe_capacity() {
    static_assert(sizeof(task_structure) == 8);
    const std::string name = unique_name("recipe-size");
    work_queue queue(name.c_str());
    const std::size_t tasks = work_queue::default_bytes / sizeof(task_structure);
    CHECK(queue.raw().stats().capacity == work_queue::capacity_for(work_queue::default_bytes));
    const auto start = std::chrono::steady_clock::now();
    task_structure ts{};
    for (std::size_t i = 0; i < tasks; ++i) {
        ts.value_ = i;
        queue.push_task(ts);  // throws, never waits, when there is no room
    }
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(queue.raw().stats().len == tasks && tasks > 3900000);
    CHECK_THROWS(wq::timeout_error, WQ_FULL, queue.push_task(ts));
    try {
        queue.push_task(ts);
    } catch (const wq::error& e) {
        CHECK(std::string(e.what()).rfind("wq::work_queue::push_task: ", 0) == 0);
    }
    CHECK(queue.pop_task().value_ == 0);
    queue.push_task(ts);  // room for one again
    std::cout << "test_recipe_compat: " << tasks << " tasks of 8 bytes in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
              << " ms, capacity " << queue.raw().stats().capacity << " bytes\n";
    queue.cleanup();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::string(argv[1]) == "recipe") {
        queue_name = argv[2];
        return recipe_program();
    }
    return test::run("test_recipe_compat", test_recipe_runs_unchanged, test_recipe_capacity);
}

// test_wq_hpp.cpp - wq.hpp: RAII, error mapping, byte queue, batches,
// work_queue<T>. Built with -Wall -Wextra -Wpedantic -Werror (and ASan/UBSan
// in the sanitizer configuration).
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include <poll.h>
#include <unistd.h>

#include "test_util.hpp"
#include "wq.hpp"

// Defined in test_wq_hpp_second_tu.cpp: wq.hpp in two translation units of
// one program (its functions must be inline).
int second_translation_unit(const char* name);

namespace {

using test::text;
using test::unique_name;

// ---- compile-time properties ------------------------------------------------

static_assert(!std::is_copy_constructible_v<wq::queue>);
static_assert(!std::is_copy_assignable_v<wq::queue>);
static_assert(std::is_nothrow_move_constructible_v<wq::queue>);
static_assert(std::is_nothrow_move_assignable_v<wq::queue>);
static_assert(std::is_base_of_v<std::runtime_error, wq::error>);

struct task {
    std::uint64_t id;
    double weight;
};
static_assert(!std::is_copy_constructible_v<wq::work_queue<task>>);
static_assert(std::is_nothrow_move_constructible_v<wq::work_queue<task>>);
static_assert(std::is_default_constructible_v<wq::work_queue<task>>);

// ---- tests -----------------------------------------------------------------------

void test_error_mapping() {
    struct row {
        wq_status code;
        int kind;  // index into the classes below
    };
    const row rows[] = {
        {WQ_EMPTY, 0},           {WQ_FULL, 0},         {WQ_INVALID_ARGUMENT, 1},
        {WQ_MESSAGE_TOO_LARGE, 1}, {WQ_BUFFER_TOO_SMALL, 1}, {WQ_NOT_FOUND, 2},
        {WQ_EXISTS, 3},          {WQ_INCOMPATIBLE, 4}, {WQ_CORRUPTED, 4},
        {WQ_PERMISSION_DENIED, 5}, {WQ_SYSTEM_ERROR, 5}, {WQ_INTERNAL, 6},
        {WQ_OK, 6},              {999, 6},             {-7, 6},
        {WQ_INTERRUPTED, 7},
    };
    for (const row& r : rows) {
        int kind = -1;
        try {
            wq::detail::throw_status(r.code, "op");
        } catch (const wq::timeout_error&) {
            kind = 0;
        } catch (const wq::usage_error&) {
            kind = 1;
        } catch (const wq::not_found_error&) {
            kind = 2;
        } catch (const wq::exists_error&) {
            kind = 3;
        } catch (const wq::queue_state_error&) {
            kind = 4;
        } catch (const wq::os_error&) {
            kind = 5;
        } catch (const wq::internal_error& e) {
            kind = 6;
            CHECK(e.code() == r.code);
        } catch (const wq::interrupted_error& e) {
            kind = 7;
            CHECK(e.status() == wq::status::interrupted);
        }
        if (kind != r.kind) {
            std::cerr << "status " << r.code << " mapped to kind " << kind << ", expected "
                      << r.kind << "\n";
            ++test::failures;
        }
    }
    // what() = operation: status text: detail
    try {
        wq::queue q("no/such/name");
        CHECK(false);
    } catch (const wq::error& e) {
        CHECK(e.code() == WQ_INVALID_ARGUMENT);
        CHECK(e.status() == wq::status::invalid_argument);
        CHECK(!e.detail().empty());
        const std::string what = e.what();
        CHECK(what.find("wq_open") == 0);
        CHECK(what.find(wq_status_str(WQ_INVALID_ARGUMENT)) != std::string::npos);
        CHECK(what.find(e.detail()) != std::string::npos);
        // ... and the status text once: the detail does not repeat it.
        const std::string status = wq_status_str(WQ_INVALID_ARGUMENT);
        CHECK(what.find(status) == what.rfind(status));
    }
}

void test_timeouts() {
    using namespace std::chrono;
    // As in C: every negative duration waits without limit, zero does not
    // wait, huge ones saturate.
    CHECK(wq::detail::to_timeout_ns(wq::forever) == WQ_FOREVER);
    CHECK(wq::detail::to_timeout_ns(nanoseconds(0)) == WQ_NO_WAIT);
    CHECK(wq::detail::to_timeout_ns(duration<double>(0.0)) == WQ_NO_WAIT);
    CHECK(wq::detail::to_timeout_ns(duration<double>(std::nan(""))) == WQ_NO_WAIT);
    CHECK(wq::detail::to_timeout_ns(milliseconds(-5)) == WQ_FOREVER);
    CHECK(wq::detail::to_timeout_ns(nanoseconds(-1)) == WQ_FOREVER);
    CHECK(wq::detail::to_timeout_ns(nanoseconds(-2)) == WQ_FOREVER);
    CHECK(wq::detail::to_timeout_ns(hours::min()) == WQ_FOREVER);
    CHECK(wq::detail::to_timeout_ns(duration<double>(-0.5)) == WQ_FOREVER);
    CHECK(wq::detail::to_timeout_ns(duration<double>(-HUGE_VAL)) == WQ_FOREVER);
    CHECK(wq::detail::to_timeout_ns(nanoseconds(1)) == 1);
    CHECK(wq::detail::to_timeout_ns(milliseconds(3)) == 3000000);
    CHECK(wq::detail::to_timeout_ns(duration<double>(0.5)) == 500000000);
    CHECK(wq::detail::to_timeout_ns(duration<double, std::nano>(0.25)) == 1);  // rounds up
    CHECK(wq::detail::to_timeout_ns(nanoseconds(INT64_MAX)) == INT64_MAX);
    CHECK(wq::detail::to_timeout_ns(hours(24 * 365 * 1000)) == INT64_MAX);
    CHECK(wq::detail::to_timeout_ns(hours::max()) == INT64_MAX);
    CHECK(wq::detail::to_timeout_ns(duration<double>(1e300)) == INT64_MAX);
    CHECK(wq::detail::to_timeout_ns(duration<double>(HUGE_VAL)) == INT64_MAX);

    // A negative timeout waits, as WQ_FOREVER does in C: a message pushed
    // 100 ms later by another thread is what try_pop_for(-1 ms) returns.
    const std::string name = unique_name("negative-timeout");
    wq::options o;
    o.capacity = 4096;
    wq::queue q(name, o);
    std::thread later([&name, &o] {
        std::this_thread::sleep_for(milliseconds(100));
        wq::queue(name, o).push("late");
    });
    const auto start = steady_clock::now();
    const auto got = q.try_pop_for(milliseconds(-1));
    const auto waited = steady_clock::now() - start;
    later.join();
    CHECK(got && text(*got) == "late");
    CHECK(waited >= milliseconds(100));
    // The same for room: a full queue, a negative timeout, room made later.
    CHECK(q.try_push(std::string(4088, 'f')));
    std::thread consumer([&name, &o] {
        std::this_thread::sleep_for(milliseconds(100));
        wq::queue(name, o).pop();
    });
    CHECK(q.try_push_for("x", seconds(-1)));
    consumer.join();
    // A lease of a negative duration has no time limit (C: lease_ns < 0).
    wq::lease held = q.pop_leased(seconds(-1));
    CHECK(held.view() == "x");
    std::this_thread::sleep_for(milliseconds(20));
    CHECK(!q.try_pop_leased());  // still held: not ended at once, nor redelivered
    held.ack();
}

void test_open_and_move() {
    const std::string name = unique_name("open");
    wq::options create;
    create.capacity = 4096;
    create.open = wq::open_mode::create_only;
    CHECK_THROWS(wq::not_found_error, WQ_NOT_FOUND, wq::queue(name, wq::options{0, 0, 0600, wq::open_mode::open_only}));

    wq::queue a(name, create);
    CHECK(static_cast<bool>(a));
    CHECK_THROWS(wq::exists_error, WQ_EXISTS, wq::queue(name, create));
    CHECK(a.stats().capacity == 4096);

    wq::queue b(std::move(a));
    CHECK(!a);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
    CHECK(static_cast<bool>(b));
    CHECK_THROWS(wq::usage_error, WQ_INVALID_ARGUMENT, a.push("x"));
    b.push("kept");
    a = std::move(b);
    CHECK(text(a.pop()) == "kept");

    wq_queue* raw = a.release();
    CHECK(!a);
    wq::queue c = wq::queue::adopt(raw);
    CHECK(c.c_handle() == raw);

    CHECK(wq::queue::remove(name));
    CHECK(!wq::queue::remove(name));
    CHECK_THROWS(wq::usage_error, WQ_INVALID_ARGUMENT, wq::queue::remove("bad/name"));
}

void test_push_pop() {
    using namespace std::chrono_literals;
    const std::string name = unique_name("pushpop");
    wq::options opts;
    opts.capacity = 1024;
    opts.max_message_size = 100;
    wq::queue q(name, opts);

    CHECK(!q.try_pop());
    CHECK(!q.try_pop_for(2ms));
    char buf[128];
    CHECK(!q.try_pop(buf, sizeof buf));

    q.push("alpha");
    CHECK(q.try_push(std::string_view("beta")));
    const std::vector<std::byte> bytes{std::byte{1}, std::byte{0}, std::byte{255}};
    q.push(bytes);
    q.push(nullptr, 0);
    CHECK_THROWS(wq::usage_error, WQ_MESSAGE_TOO_LARGE, q.push(std::string(101, 'x')));

    CHECK(text(q.pop()) == "alpha");
    // Too small a buffer: throws, the message stays queued.
    CHECK_THROWS(wq::usage_error, WQ_BUFFER_TOO_SMALL, q.pop(buf, 2));
    const auto n = q.try_pop(buf, sizeof buf);
    CHECK(n && *n == 4 && std::string_view(buf, 4) == "beta");
    CHECK(q.pop() == bytes);
    CHECK(q.pop(buf, 0) == 0);

    // Full: try_push false, timed push false after about the timeout.
    int pushed = 0;
    while (q.try_push(std::string(100, 'f'))) {  // 8 + 104 bytes each
        ++pushed;
    }
    // The ring's tail stood at 56: 8 records end at 952, and a 9th would
    // need the 72 bytes up to the ring's end as padding (no record wraps)
    // plus its 112, more than the 128 left.
    CHECK(pushed == 8);
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(!q.try_push_for(std::string(100, 'f'), 20ms));
    CHECK(std::chrono::steady_clock::now() - t0 >= 15ms);
    const wq::stats s = q.stats();
    CHECK(s.len == 8);
    CHECK(s.capacity == 1024);
    CHECK(s.max_message_size == 100);
    for (int i = 0; i < pushed; ++i) {
        const auto m = q.try_pop_for(1s);
        CHECK(m && m->size() == 100);
    }
    CHECK(q.stats().len == 0);

    // Large messages through the vector pop (buffer grows past its first guess).
    wq::options big;
    big.capacity = 1 << 20;
    const std::string big_name = unique_name("big");
    wq::queue g(big_name, big);
    const std::string large(300000, 'L');
    g.push(large);
    const auto got = g.pop();
    CHECK(got.size() == large.size() && text(got) == large);
}

void test_batches() {
    using namespace std::chrono_literals;
    const std::string name = unique_name("batch");
    wq::options opts;
    opts.capacity = 1 << 16;
    wq::queue q(name, opts);

    const std::vector<std::string> msgs{"a", "", "ccc", std::string(5000, 'd')};
    CHECK(q.push_batch(msgs) == 4);
    const std::vector<std::string_view> views{"e", "f"};
    CHECK(q.try_push_batch(views) == 2);
    CHECK(q.try_push_batch(std::vector<std::string>{}) == 0);

    wq::batch b(3, 16);  // small buffer: grows to the 5000-byte message
    CHECK(q.pop_batch(b) == 3);
    CHECK(b.size() == 3 && b.view(0) == "a" && b.view(1).empty() && b.view(2) == "ccc");
    CHECK(q.try_pop_batch_for(b, 1s) == 1);
    CHECK(b.size(0) == 5000 && b.view(0) == msgs[3]);
    CHECK(q.try_pop_batch(b) == 2);
    CHECK(b.view(0) == "e" && b.copy(1).size() == 1);
    CHECK(q.try_pop_batch(b) == 0 && b.empty());
    bool threw = false;
    try {
        (void)b.view(0);
    } catch (const std::out_of_range&) {
        threw = true;
    }
    CHECK(threw);

    // A full queue: try_push_batch pushes a prefix, then 0.
    wq::options small;
    small.capacity = 256;
    const std::string small_name = unique_name("smallbatch");
    wq::queue s(small_name, small);
    const std::vector<std::string> many(10, std::string(40, 'm'));  // 8 + 40 = 48 bytes each
    CHECK(s.try_push_batch(many) == 5);
    CHECK(s.try_push_batch(many) == 0);
    CHECK(s.try_push_batch_for(many, 5ms) == 0);
}

void test_work_queue() {
    const std::string name = unique_name("work");
    wq::work_queue<task> q(name.c_str(), 1 << 16);
    CHECK(q.name() == name);
    CHECK(!q.try_pop_task());
    for (std::uint64_t i = 0; i < 100; ++i) {
        q.push_task(task{i, static_cast<double>(i) / 2});
    }
    const auto first = q.try_pop_task();
    CHECK(first && first->id == 0);
    for (std::uint64_t i = 1; i < 99; ++i) {
        const task t = q.pop_task();
        CHECK(t.id == i && t.weight == static_cast<double>(i) / 2);
    }
    const auto last = q.try_pop_task_for(std::chrono::seconds(5));
    CHECK(last && last->id == 99);
    CHECK(!q.try_pop_task());
    CHECK(!q.try_pop_task_for(std::chrono::milliseconds(5)));
    CHECK(q.raw().stats().pushed_total == 100);

    // Moved, then cleaned up (twice: the second time there is nothing to remove).
    wq::work_queue<task> moved(std::move(q));
    moved.cleanup();
    moved.cleanup();
    CHECK(!wq::queue::remove(name));
}

// Code written against `std::optional<T> try_pop_task()` keeps compiling
// and working: the result is a std::optional<T> (derived from it) that also
// converts to other optional types of T (boost::optional: see
// test_recipe_compat.cpp), and to nothing else.
template <class T>
struct other_optional {  // an optional-shaped type of some other library
    using value_type = T;
    other_optional() = default;
    other_optional(const T& v) : has(true), value(v) {}
    explicit operator bool() const { return has; }
    const T& operator*() const { return value; }
    bool has = false;
    T value{};
};
using popped_task = decltype(std::declval<wq::work_queue<task>&>().try_pop_task());
static_assert(std::is_base_of_v<std::optional<task>, popped_task>);
static_assert(std::is_convertible_v<popped_task, std::optional<task>>);
static_assert(std::is_convertible_v<popped_task, other_optional<task>>);
static_assert(!std::is_convertible_v<popped_task, other_optional<int>>);
static_assert(!std::is_convertible_v<popped_task, task>);
static_assert(!std::is_convertible_v<popped_task, std::vector<task>>);

std::optional<task> pass_through(std::optional<task> t) { return t; }
std::optional<task> returned(wq::work_queue<task>& q) { return q.try_pop_task(); }

void test_work_queue_optional() {
    const std::string name = unique_name("work-optional");
    wq::work_queue<task> q(name.c_str(), 1 << 12);
    std::optional<task> a = q.try_pop_task();
    CHECK(!a && q.try_pop_task() == std::nullopt && !q.try_pop_task().has_value());
    CHECK(q.try_pop_task().value_or(task{7, 0}).id == 7);
    for (std::uint64_t i = 0; i < 6; ++i) {
        q.push_task(task{i, 0.5});
    }
    a = q.try_pop_task();
    CHECK(a && a->id == 0);
    auto b = q.try_pop_task();
    CHECK(b.has_value() && b.value().id == 1 && (*b).weight == 0.5 && b != std::nullopt);
    CHECK(pass_through(q.try_pop_task())->id == 2);
    CHECK(returned(q)->id == 3);
    other_optional<task> c = q.try_pop_task();
    CHECK(c && (*c).id == 4);
    const std::optional<task>& d = q.try_pop_task();  // binds, as to a std::optional
    CHECK(d && d->id == 5);
    other_optional<task> none = q.try_pop_task();
    CHECK(!none);
    q.cleanup();
}

// A message of another size than a task (pushed through the byte API) is
// taken off by whichever pop finds it, short or long, and thrown with its
// bytes, naming that pop; the task behind it is then popped as usual.
void test_work_queue_foreign_messages() {
    using namespace std::chrono_literals;
    struct pop_form {
        const char* call;
        bool leased;
        std::uint64_t (*pop)(wq::work_queue<task>&);  // the id of the task taken
    };
    const pop_form forms[] = {
        {"pop_task", false, [](wq::work_queue<task>& q) { return q.pop_task().id; }},
        {"try_pop_task", false, [](wq::work_queue<task>& q) { return q.try_pop_task().value().id; }},
        {"try_pop_task_for", false,
         [](wq::work_queue<task>& q) { return q.try_pop_task_for(5s).value().id; }},
        {"pop_task_leased", true,
         [](wq::work_queue<task>& q) {
             wq::task_lease<task> t = q.pop_task_leased();
             t.ack();
             return t->id;
         }},
        {"try_pop_task_leased", true,
         [](wq::work_queue<task>& q) {
             std::optional<wq::task_lease<task>> t = q.try_pop_task_leased(30s);
             t.value().ack();
             return t.value()->id;
         }},
    };
    const std::string foreign[] = {
        "abc",                                // short: popped into the task's storage
        std::string(sizeof(task) + 1, 'y'),   // long: too big for it, so it stays queued ...
        std::string(1000, 'z'),               // ... and is taken as bytes
    };
    const std::string name = unique_name("work-foreign");
    wq::work_queue<task> q(name.c_str(), 1 << 16);
    std::uint64_t id = 0;
    for (const pop_form& form : forms) {
        for (const std::string& bad : foreign) {
            q.raw().push(bad);
            q.push_task(task{++id, 1.0});
            try {
                (void)form.pop(q);
                std::cerr << form.call << " of " << bad.size() << " bytes: no exception\n";
                CHECK(false);
            } catch (const wq::foreign_message_error& e) {
                CHECK(e.code() == WQ_INVALID_ARGUMENT);
                CHECK(text(e.message()) == bad);
                CHECK(e.deliveries() == (form.leased ? 1u : 0u));
                const std::string what = e.what();
                const std::string prefix = std::string("wq::work_queue::") + form.call + ": ";
                if (what.rfind(prefix, 0) != 0 ||
                    what.find(std::to_string(bad.size()) + " bytes") == std::string::npos) {
                    std::cerr << "what(): " << what << "\n";
                    CHECK(false);
                }
                const wq::foreign_message_error copy = e;  // exceptions are copied around
                CHECK(text(copy.message()) == bad);
            }
            CHECK(form.pop(q) == id);  // the next message, a task, comes through
            CHECK(q.raw().stats().len == 0);
        }
    }
    q.cleanup();
}

// work_queue(name, bytes) holds bytes / sizeof(T) tasks, exactly: pushed
// without waiting; then push_task throws at once (as the recipe's threw
// bad_alloc), try_push_task says false, try_push_task_for waits for room.
template <class T>
void check_holds(const char* what, std::size_t bytes, std::uint64_t record) {
    using namespace std::chrono;
    const std::string name = unique_name(what);
    wq::work_queue<T> q(name.c_str(), bytes);
    const std::size_t tasks = bytes / sizeof(T);
    CHECK(wq::work_queue<T>::capacity_for(bytes) == tasks * record);
    CHECK(q.raw().stats().capacity == tasks * record);
    T t{};
    for (std::size_t i = 0; i < tasks; ++i) {
        q.push_task(t);
    }
    CHECK(q.raw().stats().len == tasks);
    CHECK_THROWS(wq::timeout_error, WQ_FULL, q.push_task(t));
    try {
        q.push_task(t);
    } catch (const wq::error& e) {
        CHECK(std::string(e.what()).rfind("wq::work_queue::push_task: ", 0) == 0);
    }
    CHECK(!q.try_push_task(t));
    const auto start = steady_clock::now();
    CHECK(!q.try_push_task_for(t, milliseconds(30)));
    CHECK(steady_clock::now() - start >= milliseconds(30));
    std::thread consumer([&name] {
        std::this_thread::sleep_for(milliseconds(50));
        wq::work_queue<T>(name.c_str()).pop_task();
    });
    CHECK(q.try_push_task_for(t, wq::forever));  // waits for the consumer's room
    consumer.join();
    CHECK(q.raw().stats().len == tasks);
    q.cleanup();
}

void test_work_queue_capacity() {
    struct eight {
        std::uint64_t v;
    };
    struct twelve {
        std::uint32_t v[3];
    };
    static_assert(wq::work_queue<eight>::capacity_for(32u << 20) == 64u << 20);
    static_assert(wq::work_queue<task>::capacity_for(1600) == 100 * 24);
    static_assert(wq::work_queue<twelve>::capacity_for(7) == 0);  // not one task: wq_open refuses
    static_assert(wq::work_queue<eight>::capacity_for(SIZE_MAX) == UINT64_MAX);  // saturates
    check_holds<eight>("holds-8", 1 << 16, 16);
    check_holds<task>("holds-16", 1 << 16, 24);
    check_holds<twelve>("holds-12", 12000, 24);
    CHECK_THROWS(wq::usage_error, WQ_INVALID_ARGUMENT,
                 wq::work_queue<twelve>(unique_name("holds-none").c_str(), 7));
}

void test_interrupt() {
    const std::string name = unique_name("interrupt");
    wq::options o;
    o.capacity = 4096;
    wq::queue q(name, o);
    q.push("queued");
    q.interrupt();
    // No wait needed: still delivered; then waiting calls are interrupted.
    CHECK(text(q.pop()) == "queued");
    CHECK_THROWS(wq::interrupted_error, WQ_INTERRUPTED, q.pop());
    CHECK_THROWS(wq::interrupted_error, WQ_INTERRUPTED,
                 q.try_pop_for(std::chrono::milliseconds(50)));
    CHECK(!q.try_pop());  // WQ_NO_WAIT never waits
    q.interrupt_clear();
    CHECK(!q.try_pop_for(std::chrono::milliseconds(5)));
    // Another handle on the same queue is not affected.
    wq::queue other(name, o);
    q.interrupt();
    other.push("x");
    CHECK(text(other.pop()) == "x");
    CHECK(!other.try_pop_for(std::chrono::milliseconds(5)));
    // The flag that lets a queue of another user be opened.
    wq::options mine;
    mine.open = wq::open_mode::open_only;
    mine.allow_other_owner = true;
    CHECK((mine.to_c().flags & WQ_ALLOW_OTHER_OWNER) != 0);
    wq::queue again(name, mine);
    CHECK(again.stats().len == 0);
}

void test_readable_fd() {
    const std::string name = unique_name("readable");
    wq::options o;
    o.capacity = 4096;
    wq::queue q(name, o);
    const int fd = q.native_handle();
    CHECK(fd >= 0 && q.native_handle() == fd);
    pollfd p{fd, POLLIN, 0};
    CHECK(poll(&p, 1, 20) == 0);
    q.push("x");
    p.revents = 0;
    CHECK(poll(&p, 1, 10000) == 1);
    CHECK(text(*q.try_pop()) == "x");
    CHECK(!q.try_pop());
    p.revents = 0;
    CHECK(poll(&p, 1, 0) == 0);
}

}  // namespace

int main() {
    return test::run("test_wq_hpp", test_error_mapping, test_timeouts, test_open_and_move,
                     test_push_pop, test_batches, test_work_queue, test_work_queue_optional,
                     test_work_queue_foreign_messages, test_work_queue_capacity, test_interrupt,
                     test_readable_fd, [] {
                         test::failures +=
                             second_translation_unit(unique_name("second-tu").c_str());
                     });
}

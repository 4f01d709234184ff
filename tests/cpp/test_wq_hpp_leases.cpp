// test_wq_hpp_leases.cpp - wq.hpp's leases: wq::lease (ack, nack, extend,
// release, the destructor's nack, moves), the leased pops of wq::queue,
// lease_stats(), wq::work_queue<T>::pop_task_leased, and zero-copy messages
// (wq::reservation, wq::lease_view). Built with -Wall
// -Wextra -Wpedantic -Werror (and ASan/UBSan in the sanitizer configuration).
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "test_util.hpp"
#include "wq.hpp"

namespace {

using namespace std::chrono_literals;
using test::text;
using test::unique_name;

struct task {
    std::uint64_t id;
    double weight;
};

// ---- compile-time properties ------------------------------------------------

static_assert(!std::is_copy_constructible_v<wq::lease>);
static_assert(!std::is_copy_assignable_v<wq::lease>);
static_assert(std::is_nothrow_move_constructible_v<wq::lease>);
static_assert(std::is_nothrow_move_assignable_v<wq::lease>);
static_assert(std::is_nothrow_destructible_v<wq::lease>);
static_assert(std::is_nothrow_default_constructible_v<wq::lease>);
static_assert(!std::is_copy_constructible_v<wq::task_lease<task>>);
static_assert(!std::is_copy_assignable_v<wq::task_lease<task>>);
static_assert(std::is_nothrow_move_constructible_v<wq::task_lease<task>>);
static_assert(std::is_nothrow_move_assignable_v<wq::task_lease<task>>);
static_assert(std::is_base_of_v<wq::usage_error, wq::foreign_message_error>);
static_assert(!std::is_copy_constructible_v<wq::reservation>);
static_assert(std::is_nothrow_move_constructible_v<wq::reservation>);
static_assert(std::is_nothrow_move_assignable_v<wq::reservation>);
static_assert(std::is_nothrow_destructible_v<wq::reservation>);
static_assert(!std::is_copy_constructible_v<wq::lease_view>);
static_assert(std::is_nothrow_move_constructible_v<wq::lease_view>);
static_assert(std::is_same_v<decltype(std::declval<wq::lease_view&>().data()), const std::byte*>);
static_assert(std::is_copy_constructible_v<wq::foreign_message_error>);  // thrown by value
static_assert(std::is_same_v<decltype(std::declval<wq::queue&>().pop_leased()), wq::lease>);
static_assert(std::is_same_v<decltype(std::declval<wq::queue&>().try_pop_leased()),
                             std::optional<wq::lease>>);
static_assert(std::is_same_v<decltype(std::declval<const wq::queue&>().lease_stats()),
                             wq_lease_stats>);

wq::options small_queue() {
    wq::options o;
    o.capacity = 1 << 16;
    return o;
}

bool same(const wq::lease_stats& s, std::uint64_t leased, std::uint64_t acked,
          std::uint64_t nacked, std::uint64_t expired, std::uint64_t abandoned,
          std::uint64_t redelivered) {
    const bool ok = s.leased == leased && s.acked_total == acked && s.nacked_total == nacked &&
                    s.expired_total == expired && s.abandoned_total == abandoned &&
                    s.redelivered_total == redelivered;
    if (!ok) {
        std::cerr << "lease_stats: leased " << s.leased << " acked " << s.acked_total
                  << " nacked " << s.nacked_total << " expired " << s.expired_total
                  << " abandoned " << s.abandoned_total << " redelivered "
                  << s.redelivered_total << "\n";
    }
    return ok;
}

// ---- tests -----------------------------------------------------------------------

void test_ack_removes() {
    const std::string name = unique_name("lease-ack");
    wq::queue q(name, small_queue());
    CHECK(same(q.lease_stats(), 0, 0, 0, 0, 0, 0));
    q.push("alpha");

    wq::lease l = q.pop_leased();
    CHECK(l.view() == "alpha" && l.size() == 5 && text(l.bytes()) == "alpha");
    CHECK(l.data() == l.bytes().data());
    CHECK(l.deliveries() == 1);
    CHECK(l.token() != 0 && l.c_lease().token == l.token());
    CHECK(l.pending());
    // Leased: still queued (len counts it), invisible to every other pop.
    CHECK(q.stats().len == 1);
    CHECK(same(q.lease_stats(), 1, 0, 0, 0, 0, 0));
    CHECK(!q.try_pop());
    CHECK(!q.try_pop_leased());

    l.ack();
    CHECK(!l.pending());
    CHECK(q.stats().len == 0 && q.stats().popped_total == 1);
    CHECK(same(q.lease_stats(), 0, 1, 0, 0, 0, 0));
    // Settling an ended lease: WQ_NOT_FOUND, and nothing changes.
    CHECK_THROWS(wq::not_found_error, WQ_NOT_FOUND, l.ack());
    CHECK_THROWS(wq::not_found_error, WQ_NOT_FOUND, l.nack());
    CHECK_THROWS(wq::not_found_error, WQ_NOT_FOUND, l.extend(1s));
    CHECK(same(q.lease_stats(), 0, 1, 0, 0, 0, 0));
    try {
        l.ack();
    } catch (const wq::error& e) {
        CHECK(e.status() == wq::status::not_found);
        CHECK(std::string(e.what()).find("wq_ack") == 0);
    }
    // A token that was never issued.
    wq_lease made_up{};
    made_up.token = 0x5eed;
    made_up.deliveries = 1;
    CHECK_THROWS(wq::not_found_error, WQ_NOT_FOUND, q.ack(made_up));
}

void test_nack_redelivers_first() {
    const std::string name = unique_name("lease-nack");
    wq::queue q(name, small_queue());
    q.push("b");
    q.push("c");
    {
        wq::lease b = q.pop_leased(30s);
        CHECK(b.view() == "b" && b.deliveries() == 1);
        b.nack();
        CHECK(!b.pending());
        CHECK_THROWS(wq::not_found_error, WQ_NOT_FOUND, b.ack());
    }
    // Given back before the later "c", one delivery more.
    wq::lease again = q.pop_leased(30s);
    CHECK(again.view() == "b" && again.deliveries() == 2);
    again.ack();
    wq::lease c = q.pop_leased();
    CHECK(c.view() == "c" && c.deliveries() == 1);
    c.ack();
    CHECK(q.stats().len == 0);
    CHECK(same(q.lease_stats(), 0, 2, 1, 0, 0, 1));
}

void test_destructor_nacks_when_an_exception_escapes() {
    const std::string name = unique_name("lease-throw");
    wq::queue q(name, small_queue());
    q.push("fragile");
    q.push("later");
    bool caught = false;
    try {
        wq::lease l = q.pop_leased();
        CHECK(l.view() == "fragile");
        throw std::runtime_error("the handler failed");
    } catch (const std::runtime_error&) {
        caught = true;
    }
    CHECK(caught);
    CHECK(same(q.lease_stats(), 0, 0, 1, 0, 0, 0));
    {
        std::optional<wq::lease> l = q.try_pop_leased();
        CHECK(l && l->view() == "fragile" && l->deliveries() == 2);
        // Leaves scope unsettled: given back again.
    }
    wq::lease third = q.pop_leased();
    CHECK(third.view() == "fragile" && third.deliveries() == 3);
    third.ack();
    CHECK(text(q.pop()) == "later");  // a plain pop after the leases
    CHECK(same(q.lease_stats(), 0, 1, 2, 0, 0, 2));
}

void test_moves() {
    const std::string name = unique_name("lease-move");
    wq::queue q(name, small_queue());
    q.push("x");
    q.push("y");
    q.push("z");

    wq::lease a = q.pop_leased();
    wq::lease moved(std::move(a));
    CHECK(!a.pending() && a.size() == 0);  // NOLINT(bugprone-use-after-move): empty by contract
    CHECK(moved.pending() && moved.view() == "x");
    // A moved-from lease settles nothing: no handle.
    CHECK_THROWS(wq::usage_error, WQ_INVALID_ARGUMENT, a.ack());
    CHECK(same(q.lease_stats(), 1, 0, 0, 0, 0, 0));

    // Move assignment gives back the lease it overwrites.
    wq::lease b = q.pop_leased();
    CHECK(b.view() == "y");
    moved = std::move(b);
    CHECK(moved.view() == "y" && !b.pending());  // NOLINT(bugprone-use-after-move)
    CHECK(same(q.lease_stats(), 1, 0, 1, 0, 0, 0));
    wq::lease& alias = moved;
    moved = std::move(alias);  // self-move: keeps the lease
    CHECK(moved.pending() && moved.view() == "y");

    // Leases in a container, settled later.
    std::vector<wq::lease> held;
    held.push_back(q.pop_leased());  // "x" again, delivered twice
    held.push_back(q.pop_leased());  // "z"
    held.reserve(16);                // reallocation moves them
    CHECK(held[0].view() == "x" && held[0].deliveries() == 2);
    CHECK(held[1].view() == "z" && held[1].deliveries() == 1);
    CHECK(same(q.lease_stats(), 3, 0, 1, 0, 0, 1));
    for (wq::lease& l : held) {
        l.ack();
    }
    moved.ack();
    held.clear();  // settled: the destructors do nothing
    wq::lease empty;
    CHECK(!empty.pending() && empty.size() == 0 && empty.token() == 0);
    CHECK(q.stats().len == 0);
    CHECK(same(q.lease_stats(), 0, 3, 1, 0, 0, 1));
}

void test_timeouts_and_extend() {
    const std::string name = unique_name("lease-time");
    wq::queue q(name, small_queue());

    // Nothing to lease.
    CHECK(!q.try_pop_leased());
    CHECK(!q.try_pop_leased(1s));
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(!q.try_pop_leased_for(wq::forever, 20ms));
    CHECK(std::chrono::steady_clock::now() - t0 >= 15ms);

    // A lease that ran out: ack is NOT_FOUND; the message goes out again.
    q.push("slow");
    wq::lease l = q.pop_leased(30ms);
    std::this_thread::sleep_for(100ms);
    CHECK(l.pending());  // only a call finds out
    CHECK_THROWS(wq::not_found_error, WQ_NOT_FOUND, l.extend(1s));
    CHECK(!l.pending());
    CHECK_THROWS(wq::not_found_error, WQ_NOT_FOUND, l.ack());
    std::optional<wq::lease> again = q.try_pop_leased_for(wq::forever, 1s);
    CHECK(again && again->view() == "slow" && again->deliveries() == 2);
    const wq::lease_stats s = q.lease_stats();
    CHECK(s.expired_total == 1 && s.redelivered_total == 1 && s.acked_total == 0);

    // Extended before it ran out: still ours after the first term.
    CHECK(again);
    if (again) {
        again->extend(wq::forever);
        std::this_thread::sleep_for(50ms);
        again->ack();
    }
    q.push("extended");
    wq::lease e = q.pop_leased(std::chrono::duration<double>(0.05));  // 50 ms
    e.extend(10s);
    std::this_thread::sleep_for(100ms);
    CHECK(q.lease_stats().leased == 1);
    e.ack();
    CHECK(q.stats().len == 0);

    // Timed pop that finds a message pushed while it waits.
    std::thread producer([&name] {
        std::this_thread::sleep_for(20ms);
        wq::queue p(name);
        p.push("late");
    });
    std::optional<wq::lease> late = q.try_pop_leased_for(5s, 5s);
    producer.join();
    CHECK(late && late->view() == "late" && late->deliveries() == 1);
    if (late) {
        late->ack();
    }
    CHECK(same(q.lease_stats(), 0, 3, 0, 1, 0, 1));
}

void test_other_handles() {
    const std::string name = unique_name("lease-handles");
    wq::queue q(name, small_queue());
    q.push("one");
    q.push(std::string(5000, 'L'));  // larger than the first guess: the buffer grows

    // Released from the guard, acked through another handle.
    wq::lease l = q.pop_leased();
    const wq_lease raw = l.release();
    CHECK(!l.pending() && l.view() == "one");
    {
        wq::queue other(name);
        other.ack(raw);
        CHECK_THROWS(wq::not_found_error, WQ_NOT_FOUND, other.nack(raw));
        CHECK_THROWS(wq::not_found_error, WQ_NOT_FOUND, other.extend_lease(raw, 1s));
    }

    wq::lease big = q.pop_leased();
    CHECK(big.size() == 5000 && big.deliveries() == 1);  // the retry leased it once
    big.nack();

    // A lease whose handle closes is abandoned and delivered again.
    {
        wq::queue closing(name);
        wq::lease held = closing.pop_leased();
        CHECK(held.size() == 5000 && held.deliveries() == 2);
        (void)held.release();  // not nacked: the close must give it back
    }
    std::optional<wq::lease> back = q.try_pop_leased_for(wq::forever, 5s);
    CHECK(back && back->size() == 5000 && back->deliveries() == 3);
    if (back) {
        back->ack();
    }
    CHECK(q.stats().len == 0);
    CHECK(same(q.lease_stats(), 0, 2, 1, 0, 1, 2));

    // Interrupted: a leased pop that would wait throws, one that need not works.
    q.push("queued");
    q.interrupt();
    wq::lease queued = q.pop_leased();
    CHECK(queued.view() == "queued");
    CHECK_THROWS(wq::interrupted_error, WQ_INTERRUPTED, (void)q.pop_leased());
    q.interrupt_clear();
    queued.ack();
}

void test_work_queue_leases() {
    const std::string name = unique_name("lease-work");
    wq::work_queue<task> q(name.c_str(), 1 << 16);
    CHECK(!q.try_pop_task_leased());
    for (std::uint64_t i = 0; i < 4; ++i) {
        q.push_task(task{i, static_cast<double>(i) * 1.5});
    }

    wq::task_lease<task> t0 = q.pop_task_leased();
    CHECK(t0.value().id == 0 && t0->weight == 0.0 && (*t0).id == 0);
    CHECK(t0.deliveries() == 1 && t0.pending() && t0.c_lease().token != 0);
    t0.ack();
    CHECK(!t0.pending());

    // An exception escaping the handler gives the task back.
    auto handle = [](const task& t) {
        if (t.id == 1) {
            throw std::runtime_error("task 1 fails");
        }
    };
    try {
        wq::task_lease<task> t = q.pop_task_leased(30s);
        handle(t.value());
        t.ack();
    } catch (const std::runtime_error&) {
    }
    std::optional<wq::task_lease<task>> t1 = q.try_pop_task_leased(30s);
    CHECK(t1 && t1->value().id == 1 && t1->deliveries() == 2);
    wq::task_lease<task> t1_moved = std::move(*t1);
    CHECK(!t1->pending() && t1_moved.pending());
    t1_moved.extend(wq::forever);
    t1_moved.ack();

    wq::task_lease<task> t2 = q.pop_task_leased();
    CHECK(t2->id == 2);
    t2.ack();
    std::optional<wq::task_lease<task>> t3 = q.try_pop_task_leased();
    CHECK(t3 && (*t3)->id == 3);
    if (t3) {
        t3->ack();
    }

    // A message that is not a task is removed and thrown with its bytes,
    // not redelivered for ever in front of the tasks behind it.
    q.raw().push("abc");
    q.raw().push(std::string(sizeof(task) + 1, 'x'));
    q.push_task(task{4, 6.0});
    try {
        (void)q.pop_task_leased();
        CHECK(false);
    } catch (const wq::foreign_message_error& e) {
        CHECK(e.code() == WQ_INVALID_ARGUMENT);
        CHECK(text(e.message()) == "abc" && e.deliveries() == 1);
        const wq::foreign_message_error copy = e;  // exceptions are copied around
        CHECK(text(copy.message()) == "abc");
    }
    CHECK_THROWS(wq::foreign_message_error, WQ_INVALID_ARGUMENT, (void)q.try_pop_task_leased());
    wq::task_lease<task> t4 = q.pop_task_leased();
    CHECK(t4->id == 4 && t4.deliveries() == 1);
    t4.ack();
    CHECK(!q.try_pop_task_leased());
    CHECK(q.raw().stats().len == 0);
    const wq::lease_stats s = q.raw().lease_stats();
    CHECK(s.acked_total == 7 && s.nacked_total == 1 && s.redelivered_total == 1);
    q.cleanup();
}

void test_zero_copy() {
    const std::string name = unique_name("zero-copy");
    wq::queue q(name, small_queue());
    {
        wq::reservation r = q.reserve(5);
        CHECK(r && r.size() == 5 && r.data() != nullptr);
        std::memcpy(r.data(), "hello", 5);
        // This thread's pushes through the reserving handle would wait for
        // themselves: they throw instead.
        CHECK_THROWS(wq::usage_error, WQ_INVALID_ARGUMENT, q.push("x"));
        r.commit();
        CHECK(!r);
        CHECK_THROWS(wq::usage_error, WQ_INVALID_ARGUMENT, r.commit());
    }
    {
        wq::reservation r = q.reserve(100);
        std::memcpy(r.data(), "abc", 3);
        r.commit(3);  // shorter than reserved
    }
    {
        wq::reservation dropped = q.reserve(10);  // the destructor cancels it
        wq::reservation moved = std::move(dropped);
        CHECK(!dropped && moved);
    }
    std::optional<wq::reservation> maybe = q.try_reserve(8);
    CHECK(maybe.has_value());
    maybe->cancel();
    CHECK(!*maybe);
    CHECK(q.stats().len == 2 && q.stats().pushed_total == 2);

    wq::lease_view v = q.pop_leased_view();
    CHECK(v.view() == "hello" && v.size() == 5 && v.deliveries() == 1);
    CHECK(std::string(reinterpret_cast<const char*>(v.bytes().begin()), v.bytes().size()) ==
          "hello");
    v.nack();  // given back: the next view sees it again, delivered twice
    wq::lease_view again = q.pop_leased_view(10s);
    CHECK(again.view() == "hello" && again.deliveries() == 2);
    again.ack();
    {
        std::optional<wq::lease_view> abc = q.try_pop_leased_view();
        CHECK(abc && abc->view() == "abc");
    }  // the destructor nacked it
    std::optional<wq::lease_view> abc = q.try_pop_leased_view_for(1s, 100ms);
    CHECK(abc && abc->view() == "abc" && abc->deliveries() == 2);
    abc->ack();
    CHECK(!q.try_pop_leased_view());
    CHECK(!q.try_pop_leased_view_for(1s, 10ms));
    CHECK(q.stats().len == 0);
    CHECK_THROWS(wq::usage_error, WQ_MESSAGE_TOO_LARGE, (void)q.reserve(1u << 30));
}

}  // namespace

int main() {
    return test::run("test_wq_hpp_leases", test_ack_removes, test_nack_redelivers_first,
                     test_destructor_nacks_when_an_exception_escapes, test_moves,
                     test_timeouts_and_extend, test_other_handles, test_work_queue_leases,
                     test_zero_copy);
}

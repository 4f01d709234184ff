// wq.hpp - header-only C++17 interface to the wq shared-memory work queue.
//
// A thin layer over the C ABI in wq.h (link with libwq: CMake target wq::wq
// or wq::wq_static, or `pkg-config --libs wq`):
//
//   wq::queue            move-only RAII owner of a wq_queue handle: byte
//                        messages, throwing and non-throwing (try_) calls,
//                        batches, statistics.
//   wq::work_queue<T>    a drop-in for the classic Boost.Interprocess
//                        work_queue recipe, for trivially copyable T.
//   wq::error            every failure; carries the wq_status and the
//                        library's wq_last_error() text.
//
// Failures throw wq::error (or one of its subclasses, chosen in one place:
// wq::detail::throw_status). The try_ variants report "queue empty" and
// "queue full" through their return value instead.
#ifndef WQ_HPP
#define WQ_HPP

#include "wq.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace wq {

/// The status codes of wq.h as a scoped enum (same values).
enum class status : std::int32_t {
    ok = WQ_OK,
    empty = WQ_EMPTY,
    full = WQ_FULL,
    invalid_argument = WQ_INVALID_ARGUMENT,
    not_found = WQ_NOT_FOUND,
    exists = WQ_EXISTS,
    message_too_large = WQ_MESSAGE_TOO_LARGE,
    buffer_too_small = WQ_BUFFER_TOO_SMALL,
    incompatible = WQ_INCOMPATIBLE,
    corrupted = WQ_CORRUPTED,
    permission_denied = WQ_PERMISSION_DENIED,
    system_error = WQ_SYSTEM_ERROR,
    internal = WQ_INTERNAL,
    interrupted = WQ_INTERRUPTED,
};

/// Any failure of a wq call. `what()` reads
/// "<operation>: <wq_status_str(status)>: <wq_last_error()>".
class error : public std::runtime_error {
public:
    error(wq_status code, const std::string& operation, const std::string& detail)
        : std::runtime_error(compose(code, operation, detail)),
          code_(code),
          detail_(detail) {}

    /// The C status code (WQ_EMPTY ... WQ_INTERNAL, or an unknown value).
    wq_status code() const noexcept { return code_; }
    /// The status as the scoped enum.
    wq::status status() const noexcept { return static_cast<wq::status>(code_); }
    /// The library's detail text (wq_last_error() at the time of the failure).
    const std::string& detail() const noexcept { return detail_; }

private:
    static std::string compose(wq_status code, const std::string& operation,
                               const std::string& detail) {
        std::string text = operation;
        text += ": ";
        text += wq_status_str(code);
        if (!detail.empty()) {
            text += ": ";
            text += detail;
        }
        return text;
    }

    wq_status code_;
    std::string detail_;
};

/// WQ_EMPTY / WQ_FULL from a throwing call with a finite timeout.
class timeout_error : public error { using error::error; };
/// WQ_INVALID_ARGUMENT, WQ_MESSAGE_TOO_LARGE, WQ_BUFFER_TOO_SMALL: the
/// caller's arguments do not fit the queue.
class usage_error : public error { using error::error; };
/// WQ_NOT_FOUND: no queue of that name.
class not_found_error : public error { using error::error; };
/// WQ_EXISTS: create-only on a name that is taken.
class exists_error : public error { using error::error; };
/// WQ_INCOMPATIBLE / WQ_CORRUPTED: the shared memory is not a healthy queue.
class queue_state_error : public error { using error::error; };
/// WQ_PERMISSION_DENIED / WQ_SYSTEM_ERROR: the operating system refused.
class os_error : public error { using error::error; };
/// WQ_INTERNAL, or a status this header does not know: a bug.
class internal_error : public error { using error::error; };
/// WQ_INTERRUPTED: queue::interrupt() ended a call that would have waited.
class interrupted_error : public error { using error::error; };

/// How queue::queue opens or creates (wq_options.flags).
enum class open_mode : std::uint32_t {
    open_or_create = WQ_OPEN_OR_CREATE,
    create_only = WQ_CREATE_ONLY,
    open_only = WQ_OPEN_ONLY,
};

/// Options of queue::queue; the geometry applies only when creating.
struct options {
    std::uint64_t capacity = WQ_DEFAULT_CAPACITY;  ///< bytes of message storage
    std::uint64_t max_message_size = 0;            ///< 0 = the largest that fits
    std::uint32_t mode = WQ_DEFAULT_MODE;          ///< permission bits, exact
    open_mode open = open_mode::open_or_create;
    /// Open a queue whose file belongs to another user (WQ_ALLOW_OTHER_OWNER).
    bool allow_other_owner = false;

    wq_options to_c() const noexcept {
        wq_options c{};
        c.capacity = capacity;
        c.max_message_size = max_message_size;
        c.mode = mode;
        c.flags = static_cast<std::uint32_t>(open) | (allow_other_owner ? WQ_ALLOW_OTHER_OWNER : 0u);
        return c;
    }
};

/// A snapshot of a queue's counters (see wq.h).
using stats = wq_stats;

/// Timeout used by the blocking calls.
inline constexpr std::chrono::nanoseconds forever{-1};

namespace detail {

/// The one place that maps a status to a C++ error. Every wq_status is
/// listed (-Wswitch checks the enum is covered); unknown values fall
/// through to internal_error.
[[noreturn]] inline void throw_status(wq_status code, const std::string& operation) {
    const std::string detail = wq_last_error();
    switch (static_cast<status>(code)) {
    case status::ok:
        break;  // not an error: callers never pass it; reported as internal below
    case status::empty:
    case status::full:
        throw timeout_error(code, operation, detail);
    case status::invalid_argument:
    case status::message_too_large:
    case status::buffer_too_small:
        throw usage_error(code, operation, detail);
    case status::not_found:
        throw not_found_error(code, operation, detail);
    case status::exists:
        throw exists_error(code, operation, detail);
    case status::incompatible:
    case status::corrupted:
        throw queue_state_error(code, operation, detail);
    case status::permission_denied:
    case status::system_error:
        throw os_error(code, operation, detail);
    case status::internal:
        throw internal_error(code, operation, detail);
    case status::interrupted:
        throw interrupted_error(code, operation, detail);
    }
    throw internal_error(code, operation,
                         detail.empty() ? "unexpected status " + std::to_string(code) : detail);
}

inline void check(wq_status code, const char* operation) {
    if (code != WQ_OK) {
        throw_status(code, operation);
    }
}

/// A duration as wq's timeout_ns: wq::forever means no limit; zero and
/// negative durations mean "don't wait"; huge ones saturate. The checks run
/// in long double, so no duration type can overflow them.
template <class Rep, class Period>
std::int64_t to_timeout_ns(std::chrono::duration<Rep, Period> d) {
    using wide = std::chrono::duration<long double, std::nano>;
    const long double ns = std::chrono::duration_cast<wide>(d).count();
    if (ns == static_cast<long double>(forever.count())) {
        return WQ_FOREVER;
    }
    if (!(ns > 0.0L)) {  // also NaN
        return WQ_NO_WAIT;
    }
    if (ns >= static_cast<long double>(std::numeric_limits<std::int64_t>::max())) {
        return std::numeric_limits<std::int64_t>::max();
    }
    return static_cast<std::int64_t>(std::chrono::ceil<std::chrono::nanoseconds>(d).count());
}

/// Tracks what is left of a timeout across several C calls.
class deadline {
public:
    explicit deadline(std::int64_t timeout_ns)
        : timeout_ns_(timeout_ns), start_(std::chrono::steady_clock::now()) {}

    std::int64_t remaining_ns() const {
        if (timeout_ns_ <= 0) {
            return timeout_ns_;  // WQ_FOREVER or WQ_NO_WAIT stay as they are
        }
        const auto spent = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now() - start_)
                               .count();
        return spent >= timeout_ns_ ? WQ_NO_WAIT : timeout_ns_ - spent;
    }

private:
    std::int64_t timeout_ns_;
    std::chrono::steady_clock::time_point start_;
};

}  // namespace detail

/// Messages popped together by queue::pop_batch: message i is the bytes
/// [data(i), data(i) + size(i)). Reuse one batch across calls.
class batch {
public:
    /// Room for up to `max_messages` messages and `buffer_bytes` bytes; the
    /// buffer grows by itself when the first waiting message is larger.
    explicit batch(std::size_t max_messages = 64, std::size_t buffer_bytes = 64 * 1024)
        : buffer_(buffer_bytes), spans_(max_messages == 0 ? 1 : max_messages) {}

    std::size_t size() const noexcept { return count_; }
    bool empty() const noexcept { return count_ == 0; }
    const std::byte* data(std::size_t i) const { return buffer_.data() + span(i).offset; }
    std::size_t size(std::size_t i) const { return span(i).len; }
    /// Message i as text (a view into the batch's buffer).
    std::string_view view(std::size_t i) const {
        return {reinterpret_cast<const char*>(data(i)), size(i)};
    }
    /// Message i as a new vector.
    std::vector<std::byte> copy(std::size_t i) const {
        return {data(i), data(i) + size(i)};
    }

private:
    friend class queue;

    const wq_span& span(std::size_t i) const {
        if (i >= count_) {
            throw std::out_of_range("wq::batch: index out of range");
        }
        return spans_[i];
    }

    std::vector<std::byte> buffer_;
    std::vector<wq_span> spans_;
    std::size_t count_ = 0;
};

/// An open queue: the move-only owner of one wq_queue handle. One queue
/// object may be used by many threads at once (it is a thin handle).
class queue {
public:
    /// Opens (or creates, as `opts` say) the queue `name`. Throws wq::error.
    explicit queue(const char* name, const options& opts = options()) {
        const wq_options c = opts.to_c();
        detail::check(wq_open(name, &c, &handle_),
                      ("wq_open(\"" + std::string(name == nullptr ? "(null)" : name) + "\")").c_str());
    }
    explicit queue(const std::string& name, const options& opts = options())
        : queue(name.c_str(), opts) {}

    /// Takes ownership of a handle from wq_open (may be nullptr).
    static queue adopt(wq_queue* handle) noexcept { return queue(handle); }

    queue(const queue&) = delete;
    queue& operator=(const queue&) = delete;
    queue(queue&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    queue& operator=(queue&& other) noexcept {
        if (this != &other) {
            wq_close(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    ~queue() { wq_close(handle_); }

    /// The C handle (still owned by this object).
    wq_queue* c_handle() const noexcept { return handle_; }
    /// Gives up ownership: the caller must wq_close the handle.
    wq_queue* release() noexcept { return std::exchange(handle_, nullptr); }
    /// False after a move or release.
    explicit operator bool() const noexcept { return handle_ != nullptr; }

    /// Removes the queue `name`: true if it was removed, false if there was
    /// none. Other failures throw. Open handles keep working.
    static bool remove(const char* name) {
        const wq_status s = wq_remove(name);
        if (s == WQ_NOT_FOUND) {
            return false;
        }
        detail::check(s, "wq_remove");
        return true;
    }
    static bool remove(const std::string& name) { return remove(name.c_str()); }

    // ---- push -------------------------------------------------------------

    /// Appends a message, waiting for room as long as it takes.
    void push(const void* data, std::size_t len) {
        detail::check(wq_push(handle_, data, len, WQ_FOREVER), "wq_push");
    }
    void push(std::string_view msg) { push(msg.data(), msg.size()); }
    void push(const std::vector<std::byte>& msg) { push(msg.data(), msg.size()); }

    /// Appends a message if there is room now; false when the queue is full.
    bool try_push(const void* data, std::size_t len) {
        return try_push_for(data, len, std::chrono::nanoseconds::zero());
    }
    bool try_push(std::string_view msg) { return try_push(msg.data(), msg.size()); }
    bool try_push(const std::vector<std::byte>& msg) { return try_push(msg.data(), msg.size()); }

    /// Appends a message, waiting up to `timeout` for room; false when none
    /// appeared.
    template <class Rep, class Period>
    bool try_push_for(const void* data, std::size_t len,
                      std::chrono::duration<Rep, Period> timeout) {
        const wq_status s = wq_push(handle_, data, len, detail::to_timeout_ns(timeout));
        if (s == WQ_FULL) {
            return false;
        }
        detail::check(s, "wq_push");
        return true;
    }
    template <class Rep, class Period>
    bool try_push_for(std::string_view msg, std::chrono::duration<Rep, Period> timeout) {
        return try_push_for(msg.data(), msg.size(), timeout);
    }

    // ---- pop --------------------------------------------------------------

    /// Takes the next message, waiting as long as it takes.
    std::vector<std::byte> pop() { return *pop_vector(WQ_FOREVER); }

    /// Takes the next message into `buf` (capacity `cap`), waiting as long as
    /// it takes; returns its length. Throws usage_error (WQ_BUFFER_TOO_SMALL)
    /// when it does not fit; it then stays queued.
    std::size_t pop(void* buf, std::size_t cap) { return *pop_into(buf, cap, WQ_FOREVER); }

    /// The next message if there is one now.
    std::optional<std::vector<std::byte>> try_pop() { return pop_vector(WQ_NO_WAIT); }
    /// Like try_pop() into a caller buffer: the length, or nullopt when empty.
    std::optional<std::size_t> try_pop(void* buf, std::size_t cap) {
        return pop_into(buf, cap, WQ_NO_WAIT);
    }

    /// The next message, waiting up to `timeout`; nullopt when none came.
    template <class Rep, class Period>
    std::optional<std::vector<std::byte>> try_pop_for(std::chrono::duration<Rep, Period> timeout) {
        return pop_vector(detail::to_timeout_ns(timeout));
    }
    template <class Rep, class Period>
    std::optional<std::size_t> try_pop_for(void* buf, std::size_t cap,
                                           std::chrono::duration<Rep, Period> timeout) {
        return pop_into(buf, cap, detail::to_timeout_ns(timeout));
    }

    // ---- batches ----------------------------------------------------------

    /// Pushes a prefix of `msgs` (a container of contiguous byte sequences:
    /// std::string, std::string_view, std::vector<std::byte>, ...) under one
    /// lock acquisition, waiting for room for the first as long as it takes.
    /// Returns how many were pushed (at least one unless `msgs` is empty);
    /// push the rest with another call.
    template <class Messages>
    std::size_t push_batch(const Messages& msgs) {
        return *push_batch_impl(msgs, WQ_FOREVER);
    }
    /// Like push_batch without waiting: 0 when not even the first fits now.
    template <class Messages>
    std::size_t try_push_batch(const Messages& msgs) {
        return push_batch_impl(msgs, WQ_NO_WAIT).value_or(0);
    }
    template <class Messages, class Rep, class Period>
    std::size_t try_push_batch_for(const Messages& msgs,
                                   std::chrono::duration<Rep, Period> timeout) {
        return push_batch_impl(msgs, detail::to_timeout_ns(timeout)).value_or(0);
    }

    /// Replaces the contents of `out` with the next messages (at least one,
    /// as many as are queued and fit), waiting for the first as long as it
    /// takes. Returns how many.
    std::size_t pop_batch(batch& out) { return pop_batch_impl(out, WQ_FOREVER); }
    /// Like pop_batch without waiting: 0 (and `out` empty) when the queue is empty.
    std::size_t try_pop_batch(batch& out) { return pop_batch_impl(out, WQ_NO_WAIT); }
    template <class Rep, class Period>
    std::size_t try_pop_batch_for(batch& out, std::chrono::duration<Rep, Period> timeout) {
        return pop_batch_impl(out, detail::to_timeout_ns(timeout));
    }

    // ---- state ------------------------------------------------------------

    /// A snapshot of the queue's counters.
    wq::stats stats() const {
        wq::stats s{};
        detail::check(wq_stats_get(handle_, &s), "wq_stats_get");
        return s;
    }

    // ---- event loops ------------------------------------------------------

    /// The readiness descriptor (wq_readable_fd), for event loops: owned by
    /// this handle (do not close or read it), poll/epoll/asio report it
    /// readable within about 1 ms of a push by any process; pop with
    /// try_pop() until it returns nothing, which resets it. The first call
    /// starts one helper thread for the handle. Throws wq::error. (The C
    /// handle is c_handle().)
    int native_handle() const {
        const int fd = wq_readable_fd(handle_);
        if (fd < 0) {
            detail::throw_status(WQ_SYSTEM_ERROR, "wq_readable_fd");
        }
        return fd;
    }

    // ---- interrupting waits -----------------------------------------------

    /// Ends every call of this process waiting on this handle with
    /// wq::interrupted_error, and from then on every call that would have to
    /// wait (calls that need no wait still succeed). Async-signal-safe: a
    /// signal handler may call it.
    void interrupt() const noexcept { wq_interrupt(handle_); }
    /// Ends the interrupted state: calls wait again.
    void interrupt_clear() const { detail::check(wq_interrupt_clear(handle_), "wq_interrupt_clear"); }

private:
    explicit queue(wq_queue* handle) noexcept : handle_(handle) {}

    std::optional<std::size_t> pop_into(void* buf, std::size_t cap, std::int64_t timeout_ns) {
        std::size_t len = 0;
        const wq_status s = wq_pop(handle_, buf, cap, &len, timeout_ns);
        if (s == WQ_EMPTY && timeout_ns >= 0) {
            return std::nullopt;
        }
        detail::check(s, "wq_pop");
        return len;
    }

    std::optional<std::vector<std::byte>> pop_vector(std::int64_t timeout_ns) {
        // One call in the common case: guess a size, grow on BUFFER_TOO_SMALL
        // (the message stays queued; another consumer may take it meanwhile).
        std::vector<std::byte> msg(256);
        const detail::deadline until(timeout_ns);
        for (;;) {
            std::size_t len = 0;
            const wq_status s =
                wq_pop(handle_, msg.data(), msg.size(), &len, until.remaining_ns());
            if (s == WQ_OK) {
                msg.resize(len);
                return msg;
            }
            if (s == WQ_BUFFER_TOO_SMALL) {
                msg.resize(len);
                continue;
            }
            if (s == WQ_EMPTY && timeout_ns >= 0) {
                return std::nullopt;
            }
            detail::check(s, "wq_pop");
        }
    }

    template <class Messages>
    std::optional<std::size_t> push_batch_impl(const Messages& msgs, std::int64_t timeout_ns) {
        std::vector<wq_iovec> iov;
        iov.reserve(static_cast<std::size_t>(std::size(msgs)));
        for (const auto& m : msgs) {
            iov.push_back(wq_iovec{static_cast<const void*>(std::data(m)),
                                   static_cast<std::size_t>(std::size(m)) *
                                       sizeof(*std::data(m))});
        }
        std::size_t pushed = 0;
        const wq_status s = wq_push_batch(handle_, iov.data(), iov.size(), &pushed, timeout_ns);
        if (s == WQ_FULL && timeout_ns >= 0) {
            return std::nullopt;
        }
        detail::check(s, "wq_push_batch");
        return pushed;
    }

    std::size_t pop_batch_impl(batch& out, std::int64_t timeout_ns) {
        out.count_ = 0;
        const detail::deadline until(timeout_ns);
        for (;;) {
            std::size_t count = 0;
            const wq_status s =
                wq_pop_batch(handle_, out.buffer_.data(), out.buffer_.size(), out.spans_.data(),
                             out.spans_.size(), &count, until.remaining_ns());
            if (s == WQ_OK) {
                out.count_ = count;
                return count;
            }
            if (s == WQ_BUFFER_TOO_SMALL) {
                out.buffer_.resize(out.spans_[0].len);
                continue;
            }
            if (s == WQ_EMPTY && timeout_ns >= 0) {
                return 0;
            }
            detail::check(s, "wq_pop_batch");
        }
    }

    wq_queue* handle_ = nullptr;
};

/// A queue of `T` values (each message is the bytes of one T): a drop-in for
/// the Boost.Interprocess work_queue recipe. Replace the recipe's class with
///
///     using work_queue = wq::work_queue<task_structure>;
///
/// and keep the calls: push_task, try_pop_task, pop_task, cleanup.
template <class T>
class work_queue {
    static_assert(std::is_trivially_copyable_v<T>,
                  "wq::work_queue<T> copies T's bytes through shared memory: "
                  "T must be trivially copyable");

public:
    using task_type = T;

    /// Default segment size of the recipe: 32 MiB.
    static constexpr std::size_t default_bytes = 32u * 1024u * 1024u;

    /// Opens, or creates with 32 MiB, the queue "work-queue".
    work_queue() : work_queue("work-queue") {}

    /// Opens, or creates with `bytes` of message storage, the queue `name`.
    explicit work_queue(const char* name, std::size_t bytes = default_bytes)
        : name_(name == nullptr ? "" : name), queue_(name, creation_options(bytes)) {}

    work_queue(const work_queue&) = delete;
    work_queue& operator=(const work_queue&) = delete;
    work_queue(work_queue&&) noexcept = default;
    work_queue& operator=(work_queue&&) noexcept = default;
    ~work_queue() = default;

    /// Appends a task (waits for room if a full queue has none).
    void push_task(const task_type& task) { queue_.push(&task, sizeof(task_type)); }

    /// The next task if there is one now.
    std::optional<task_type> try_pop_task() {
        storage s;
        const std::optional<std::size_t> len = queue_.try_pop(&s.value, sizeof(task_type));
        if (!len) {
            return std::nullopt;
        }
        check_size(*len);
        return s.value;
    }

    /// The next task, waiting as long as it takes.
    task_type pop_task() {
        storage s;
        check_size(queue_.pop(&s.value, sizeof(task_type)));
        return s.value;
    }

    /// Removes the queue from the system (later opens create a new one);
    /// like the recipe, a queue that is already gone is not an error.
    void cleanup() { queue::remove(name_); }

    /// The queue's name as given.
    const std::string& name() const noexcept { return name_; }
    /// The underlying byte queue.
    wq::queue& raw() noexcept { return queue_; }

private:
    union storage {
        storage() : none() {}
        char none;
        task_type value;
    };

    static options creation_options(std::size_t bytes) {
        options o;
        o.capacity = bytes;
        return o;
    }

    void check_size(std::size_t len) const {
        if (len != sizeof(task_type)) {
            throw usage_error(WQ_INVALID_ARGUMENT, "wq::work_queue::pop_task",
                              "queue \"" + name_ + "\" held a message of " +
                                  std::to_string(len) + " bytes, not a task of " +
                                  std::to_string(sizeof(task_type)) + " bytes");
        }
    }

    std::string name_;
    queue queue_;
};

/// The library version, "MAJOR.MINOR.PATCH".
inline const char* version() noexcept { return wq_version(); }

}  // namespace wq

#endif  // WQ_HPP

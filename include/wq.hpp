// wq.hpp - header-only C++17 interface to the wq shared-memory work queue.
//
// A thin layer over the C ABI in wq.h (link with libwq: CMake target wq::wq
// or wq::wq_static, or `pkg-config --libs wq`):
//
//   wq::queue            move-only RAII owner of a wq_queue handle: byte
//                        messages, throwing and non-throwing (try_) calls,
//                        batches, leases, statistics.
//   wq::lease            a message popped under a lease (queue::pop_leased):
//                        move-only; ack() removes it, and one that is neither
//                        acked nor nacked is given back by the destructor.
//   wq::work_queue<T>    a drop-in for the classic Boost.Interprocess
//                        work_queue recipe, for trivially copyable T; its
//                        try_pop_task() gives a wq::optional_task<T> (a
//                        std::optional<T> that converts to boost::optional<T>),
//                        its pop_task_leased() a wq::task_lease<T>.
//   wq::error            every failure; carries the wq_status and the
//                        library's wq_last_error() text.
//
// Failures throw wq::error (or one of its subclasses, chosen in one place:
// wq::detail::throw_status). The try_ variants report "queue empty" and
// "queue full" through their return value instead. Timeouts and lease
// durations are std::chrono durations with C's meaning: zero does not wait,
// any negative one (wq::forever among them) has no limit, and one too long
// for int64_t nanoseconds saturates.
#ifndef WQ_HPP
#define WQ_HPP

#if !defined(__cplusplus) || (__cplusplus < 201703L && !(defined(_MSVC_LANG) && _MSVC_LANG >= 201703L))
#error "wq.hpp needs C++17 or later (e.g. -std=c++17; in CMake: target_compile_features(<target> PRIVATE cxx_std_17)). C and older C++ can use the C API in wq.h."
#else

#include "wq.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
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
/// WQ_NOT_FOUND: no queue of that name; from ack / nack / extend, a lease
/// that has already ended (acked, nacked, timed out, or abandoned by a
/// closed handle) or was never issued.
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
/// A snapshot of a queue's lease counters (see wq.h).
using lease_stats = wq_lease_stats;

/// "No limit", for every timeout and lease duration. As in C, where any
/// negative timeout_ns waits without limit, every negative duration means
/// the same: wq::forever is only its name.
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

/// A duration as wq's timeout_ns (or lease_ns), with C's meaning: a
/// negative duration (wq::forever among them) means no limit, zero means
/// "don't wait" (a lease: ends at once), and one too long for int64_t
/// nanoseconds (about 292 years) saturates to INT64_MAX. A floating-point
/// NaN counts as zero. The checks run in long double, so no duration type
/// can overflow them.
template <class Rep, class Period>
std::int64_t to_timeout_ns(std::chrono::duration<Rep, Period> d) {
    using wide = std::chrono::duration<long double, std::nano>;
    const long double ns = std::chrono::duration_cast<wide>(d).count();
    if (ns < 0.0L) {
        return WQ_FOREVER;
    }
    if (!(ns > 0.0L)) {  // zero, or NaN
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

/// One message popped under a lease (queue::pop_leased): its bytes, and the
/// lease that keeps it queued and invisible to every other pop until it is
/// settled. Move-only (copy deleted, move noexcept).
///
///   ack()     the message is done: it is gone for good;
///   nack()    it is given back, to be delivered again at once (before every
///             message pushed after it) with deliveries() one higher;
///   ~lease()  a lease that was neither acked nor nacked (nor released) is
///             nacked, so a handler that throws, or returns early, hands its
///             task to the next worker. The destructor never throws: a nack
///             that fails leaves the lease to end by time or when the handle
///             closes.
///
/// A lease also ends when its time runs out (the lease duration given to
/// pop_leased, or to extend()) and when the handle that took it is closed or
/// its process dies; ack, nack and extend then throw not_found_error
/// (WQ_NOT_FOUND): the message may have gone to another worker.
///
/// A lease refers to the C handle of the queue that popped it (not to the
/// wq::queue object, which may be moved): destroy or settle it before that
/// handle is closed. One lease object is not for use by two threads at once.
/// [[nodiscard]]: a lease dropped at once would only give its message back.
template <class Bytes>
class [[nodiscard]] basic_lease {
public:
    /// A lease that holds nothing (as a moved-from one): settling it throws
    /// usage_error (WQ_INVALID_ARGUMENT).
    basic_lease() noexcept = default;

    basic_lease(const basic_lease&) = delete;
    basic_lease& operator=(const basic_lease&) = delete;
    basic_lease(basic_lease&& other) noexcept
        : handle_(std::exchange(other.handle_, nullptr)),
          bytes_(std::move(other.bytes_)),
          lease_(std::exchange(other.lease_, wq_lease{})),
          pending_(std::exchange(other.pending_, false)) {}
    /// Gives back the lease this object held (as the destructor would), then
    /// takes over `other`'s.
    basic_lease& operator=(basic_lease&& other) noexcept {
        if (this != &other) {
            give_back();
            handle_ = std::exchange(other.handle_, nullptr);
            bytes_ = std::move(other.bytes_);
            lease_ = std::exchange(other.lease_, wq_lease{});
            pending_ = std::exchange(other.pending_, false);
        }
        return *this;
    }
    ~basic_lease() { give_back(); }

    // ---- the message ------------------------------------------------------

    const std::byte* data() const noexcept { return bytes_.data(); }
    std::size_t size() const noexcept { return bytes_.size(); }
    const Bytes& bytes() const noexcept { return bytes_; }
    /// The message as text (a view into this object).
    std::string_view view() const noexcept {
        return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()};
    }

    // ---- the lease --------------------------------------------------------

    /// Times the message has been delivered, this delivery included (1 for
    /// the first): a rising count marks a task that keeps failing.
    std::uint32_t deliveries() const noexcept { return lease_.deliveries; }
    /// Identifies this delivery (never 0 for a lease from pop_leased).
    std::uint64_t token() const noexcept { return lease_.token; }
    /// The C lease, for wq_ack & co. or queue::ack on any handle.
    const wq_lease& c_lease() const noexcept { return lease_; }
    /// True until ack(), nack() or release() settled it here: the
    /// destructor gives back a pending lease.
    bool pending() const noexcept { return pending_; }

    /// The message is done: removes it for good. Throws not_found_error when
    /// the lease had already ended.
    void ack() { settle(wq_ack(handle_, &lease_), "wq_ack"); }

    /// Gives the message back, to be delivered again at once. Throws
    /// not_found_error when the lease had already ended.
    void nack() { settle(wq_nack(handle_, &lease_), "wq_nack"); }

    /// Makes the lease end `lease_for` from now (wq::forever: never by time),
    /// for a task that needs longer than it first asked. Throws
    /// not_found_error when the lease had already ended.
    template <class Rep, class Period>
    void extend(std::chrono::duration<Rep, Period> lease_for) {
        const wq_status s = wq_lease_extend(handle_, &lease_, detail::to_timeout_ns(lease_for));
        if (s == WQ_NOT_FOUND) {
            pending_ = false;  // it is over: nothing for the destructor to give back
        }
        detail::check(s, "wq_lease_extend");
    }

    /// Gives up the guard: the destructor no longer nacks, and the returned
    /// lease stays live until settled through any handle (queue::ack,
    /// queue::nack, wq_ack), until its time runs out, or until the handle
    /// that took it closes. The bytes stay readable here.
    wq_lease release() noexcept {
        pending_ = false;
        return lease_;
    }

private:
    friend class queue;

    basic_lease(wq_queue* handle, Bytes&& bytes, const wq_lease& l) noexcept
        : handle_(handle), bytes_(std::move(bytes)), lease_(l), pending_(true) {}

    void settle(wq_status s, const char* operation) {
        // OK or NOT_FOUND: the lease is over. After any other failure (the
        // lock busy, interrupted) it is still live and stays pending, so the
        // destructor still tries to give it back.
        if (s == WQ_OK || s == WQ_NOT_FOUND) {
            pending_ = false;
        }
        detail::check(s, operation);
    }

    void give_back() noexcept {
        if (pending_) {
            pending_ = false;
            // A C call: it cannot throw. If it fails, the lease ends by time
            // or when the handle closes.
            (void)wq_nack(handle_, &lease_);
        }
    }

    wq_queue* handle_ = nullptr;
    Bytes bytes_;
    wq_lease lease_{};
    bool pending_ = false;
};

/// The bytes of a message in the queue's shared memory, as wq::lease_view
/// holds them: where they start and how many.
class shared_bytes {
public:
    shared_bytes() noexcept = default;
    shared_bytes(const std::byte* data, std::size_t size) noexcept : data_(data), size_(size) {}
    shared_bytes(shared_bytes&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
    shared_bytes& operator=(shared_bytes&& other) noexcept {
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
        return *this;
    }
    const std::byte* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    const std::byte* begin() const noexcept { return data_; }
    const std::byte* end() const noexcept { return data_ + size_; }

private:
    const std::byte* data_ = nullptr;
    std::size_t size_ = 0;
};

/// A message under a lease, copied out of the queue (queue::pop_leased).
using lease = basic_lease<std::vector<std::byte>>;

/// A message under a lease, read where it lies in the queue's shared memory
/// without a copy (queue::pop_leased_view): a wq::lease in every other way.
/// The bytes stay the message's while the lease is live; once it is acked or
/// nacked (or ends by time) the queue may reuse them. They stay mapped until
/// the queue's handle is closed. A peer process with write access to the
/// queue could change them while they are read: check them as any input.
using lease_view = basic_lease<shared_bytes>;

/// Room for one message inside the queue's shared memory, to be filled in
/// place (queue::reserve): commit() publishes it, the destructor (or
/// cancel()) drops it unpublished. While it lives its handle holds the
/// producers' side: other producers wait, and a push from this thread through
/// the same handle throws usage_error. A process that dies holding one
/// leaves nothing behind. Move-only; refers to the C handle that reserved.
class [[nodiscard]] reservation {
public:
    reservation() noexcept = default;
    reservation(const reservation&) = delete;
    reservation& operator=(const reservation&) = delete;
    reservation(reservation&& other) noexcept
        : handle_(std::exchange(other.handle_, nullptr)),
          data_(std::exchange(other.data_, nullptr)),
          size_(std::exchange(other.size_, 0)) {}
    /// Cancels the reservation this object held, then takes over `other`'s.
    reservation& operator=(reservation&& other) noexcept {
        if (this != &other) {
            cancel();
            handle_ = std::exchange(other.handle_, nullptr);
            data_ = std::exchange(other.data_, nullptr);
            size_ = std::exchange(other.size_, 0);
        }
        return *this;
    }
    ~reservation() { cancel(); }

    std::byte* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    std::byte* begin() const noexcept { return data_; }
    std::byte* end() const noexcept { return data_ + size_; }
    /// False once committed or cancelled (or moved from).
    explicit operator bool() const noexcept { return handle_ != nullptr; }

    /// Publishes the whole reservation as one message.
    void commit() { commit(size_); }
    /// Publishes its first `len` bytes (at most size()) as one message.
    void commit(std::size_t len) {
        if (handle_ == nullptr) {
            throw usage_error(WQ_INVALID_ARGUMENT, "wq::reservation::commit", "nothing reserved");
        }
        detail::check(wq_push_commit(handle_, len), "wq_push_commit");
        handle_ = nullptr;
    }
    /// Drops it: nothing is published. Never throws.
    void cancel() noexcept {
        if (handle_ != nullptr) {
            (void)wq_push_cancel(std::exchange(handle_, nullptr));
        }
    }

private:
    friend class queue;
    reservation(wq_queue* handle, std::byte* data, std::size_t size) noexcept
        : handle_(handle), data_(data), size_(size) {}

    wq_queue* handle_ = nullptr;
    std::byte* data_ = nullptr;
    std::size_t size_ = 0;
};

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

    // ---- leases -----------------------------------------------------------
    //
    // A leased message stays queued, invisible to every other pop, until its
    // lease ends (see wq::lease): delivery is at least once, and a message
    // is delivered again only after a lease on it ended without an ack.
    // `lease_for` is how long it may be held before it goes to another
    // worker: wq::forever (the default), or any negative duration, means
    // until it is settled or its holder's handle closes or its process
    // dies; zero ends the lease at once. With WQ_LEASE_LIMIT messages leased
    // or waiting for redelivery, the leased pops wait as if the queue were
    // empty (plain pops still work).

    /// Takes the next message under a lease, waiting as long as it takes.
    lease pop_leased() { return *pop_leased_impl(WQ_FOREVER, WQ_FOREVER); }
    template <class Rep, class Period>
    lease pop_leased(std::chrono::duration<Rep, Period> lease_for) {
        return *pop_leased_impl(detail::to_timeout_ns(lease_for), WQ_FOREVER);
    }

    /// The next message under a lease if there is one now.
    std::optional<lease> try_pop_leased() { return pop_leased_impl(WQ_FOREVER, WQ_NO_WAIT); }
    template <class Rep, class Period>
    std::optional<lease> try_pop_leased(std::chrono::duration<Rep, Period> lease_for) {
        return pop_leased_impl(detail::to_timeout_ns(lease_for), WQ_NO_WAIT);
    }

    /// The next message under a lease of `lease_for`, waiting up to
    /// `timeout` (in that order, as wq_pop_leased takes them); nullopt when
    /// none came.
    template <class LeaseRep, class LeasePeriod, class Rep, class Period>
    std::optional<lease> try_pop_leased_for(std::chrono::duration<LeaseRep, LeasePeriod> lease_for,
                                            std::chrono::duration<Rep, Period> timeout) {
        return pop_leased_impl(detail::to_timeout_ns(lease_for), detail::to_timeout_ns(timeout));
    }

    // ---- zero-copy --------------------------------------------------------
    // For large messages: the producer writes a message where the consumer
    // will read it, and the consumer reads it there (see wq::reservation and
    // wq::lease_view).

    /// Reserves `len` bytes in one piece inside the queue for a message
    /// written in place, waiting for room as long as it takes.
    reservation reserve(std::size_t len) { return *reserve_impl(len, WQ_FOREVER); }
    /// The reservation if there is room now.
    std::optional<reservation> try_reserve(std::size_t len) { return reserve_impl(len, WQ_NO_WAIT); }
    /// The reservation, waiting up to `timeout` for room; nullopt when none came.
    template <class Rep, class Period>
    std::optional<reservation> try_reserve_for(std::size_t len,
                                               std::chrono::duration<Rep, Period> timeout) {
        return reserve_impl(len, detail::to_timeout_ns(timeout));
    }

    /// pop_leased without the copy: the message is read where it lies.
    lease_view pop_leased_view() { return *pop_leased_view_impl(WQ_FOREVER, WQ_FOREVER); }
    template <class Rep, class Period>
    lease_view pop_leased_view(std::chrono::duration<Rep, Period> lease_for) {
        return *pop_leased_view_impl(detail::to_timeout_ns(lease_for), WQ_FOREVER);
    }
    std::optional<lease_view> try_pop_leased_view() {
        return pop_leased_view_impl(WQ_FOREVER, WQ_NO_WAIT);
    }
    template <class Rep, class Period>
    std::optional<lease_view> try_pop_leased_view(std::chrono::duration<Rep, Period> lease_for) {
        return pop_leased_view_impl(detail::to_timeout_ns(lease_for), WQ_NO_WAIT);
    }
    template <class LeaseRep, class LeasePeriod, class Rep, class Period>
    std::optional<lease_view> try_pop_leased_view_for(
        std::chrono::duration<LeaseRep, LeasePeriod> lease_for,
        std::chrono::duration<Rep, Period> timeout) {
        return pop_leased_view_impl(detail::to_timeout_ns(lease_for),
                                    detail::to_timeout_ns(timeout));
    }

    /// Settles a lease taken through any handle on this queue, in any
    /// process (wq::lease::release() or wq_pop_leased gave it). Throws
    /// not_found_error when it had already ended.
    void ack(const wq_lease& l) { detail::check(wq_ack(handle_, &l), "wq_ack"); }
    void nack(const wq_lease& l) { detail::check(wq_nack(handle_, &l), "wq_nack"); }
    template <class Rep, class Period>
    void extend_lease(const wq_lease& l, std::chrono::duration<Rep, Period> lease_for) {
        detail::check(wq_lease_extend(handle_, &l, detail::to_timeout_ns(lease_for)),
                      "wq_lease_extend");
    }

    // ---- state ------------------------------------------------------------

    /// A snapshot of the queue's counters. `len` counts leased messages too.
    wq::stats stats() const {
        wq::stats s{};
        detail::check(wq_stats_get(handle_, &s), "wq_stats_get");
        return s;
    }

    /// A snapshot of the queue's lease counters: how many messages are
    /// leased now, and how leases ended since the queue was created.
    wq::lease_stats lease_stats() const {
        wq::lease_stats s{};
        detail::check(wq_lease_stats_get(handle_, &s), "wq_lease_stats_get");
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

    std::optional<lease> pop_leased_impl(std::int64_t lease_ns, std::int64_t timeout_ns) {
        // As pop_vector: BUFFER_TOO_SMALL leases nothing, so grow and retry.
        std::vector<std::byte> msg(256);
        const detail::deadline until(timeout_ns);
        for (;;) {
            std::size_t len = 0;
            wq_lease l{};
            const wq_status s = wq_pop_leased(handle_, msg.data(), msg.size(), &len, &l, lease_ns,
                                              until.remaining_ns());
            if (s == WQ_OK) {
                msg.resize(len);
                return lease(handle_, std::move(msg), l);
            }
            if (s == WQ_BUFFER_TOO_SMALL) {
                msg.resize(len);
                continue;
            }
            if (s == WQ_EMPTY && timeout_ns >= 0) {
                return std::nullopt;
            }
            detail::check(s, "wq_pop_leased");
        }
    }

    std::optional<reservation> reserve_impl(std::size_t len, std::int64_t timeout_ns) {
        void* room = nullptr;
        const wq_status s = wq_push_reserve(handle_, len, &room, timeout_ns);
        if (s == WQ_FULL && timeout_ns >= 0) {
            return std::nullopt;
        }
        detail::check(s, "wq_push_reserve");
        return reservation(handle_, static_cast<std::byte*>(room), len);
    }

    std::optional<lease_view> pop_leased_view_impl(std::int64_t lease_ns, std::int64_t timeout_ns) {
        const void* msg = nullptr;
        std::size_t len = 0;
        wq_lease l{};
        const wq_status s = wq_pop_leased_view(handle_, &msg, &len, &l, lease_ns, timeout_ns);
        if (s == WQ_EMPTY && timeout_ns >= 0) {
            return std::nullopt;
        }
        detail::check(s, "wq_pop_leased_view");
        return lease_view(handle_, shared_bytes(static_cast<const std::byte*>(msg), len), l);
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

/// A work_queue<T> pop found a message whose size is not sizeof(T), shorter
/// or longer. It has been taken off the queue (popped, or acked when popped
/// under a lease), so it cannot block the tasks behind it, and the next pop
/// takes the next message as usual; its bytes travel in this error, for the
/// caller to log or push to a dead-letter queue. what() names the call that
/// found it ("wq::work_queue::try_pop_task: invalid argument: ..."); code()
/// is WQ_INVALID_ARGUMENT.
class foreign_message_error : public usage_error {
public:
    foreign_message_error(const std::string& operation, const std::string& detail,
                          std::vector<std::byte> message, std::uint32_t deliveries)
        : usage_error(WQ_INVALID_ARGUMENT, operation, detail),
          message_(std::make_shared<const std::vector<std::byte>>(std::move(message))),
          deliveries_(deliveries) {}

    /// The message's bytes.
    const std::vector<std::byte>& message() const noexcept { return *message_; }
    /// Its deliveries, the one that found it included; 0 from the pops
    /// without a lease (pop_task, try_pop_task), which do not count them.
    std::uint32_t deliveries() const noexcept { return deliveries_; }

private:
    std::shared_ptr<const std::vector<std::byte>> message_;  // copying an exception must not throw
    std::uint32_t deliveries_;
};

/// One task of a work_queue<T> popped under a lease: the T, and the
/// wq::lease that keeps its message queued until it is acked. Move-only,
/// like wq::lease, and given back (nacked) by the destructor unless acked
/// or nacked first, so an exception escaping the task's handler returns the
/// task to the queue:
///
///     auto task = queue.pop_task_leased();
///     handle(task.value());   // throws: the task goes back, deliveries + 1
///     task.ack();             // done: gone for good
template <class T>
class [[nodiscard]] task_lease {
public:
    using task_type = T;

    /// The task (a copy of the message's bytes).
    const task_type& value() const noexcept { return value_; }
    const task_type& operator*() const noexcept { return value_; }
    const task_type* operator->() const noexcept { return &value_; }

    /// Times the task has been delivered, this delivery included.
    std::uint32_t deliveries() const noexcept { return lease_.deliveries(); }
    /// True until acked, nacked or released here.
    bool pending() const noexcept { return lease_.pending(); }
    /// The C lease (see wq::lease::c_lease).
    const wq_lease& c_lease() const noexcept { return lease_.c_lease(); }

    /// See wq::lease::ack, nack, extend and release.
    void ack() { lease_.ack(); }
    void nack() { lease_.nack(); }
    template <class Rep, class Period>
    void extend(std::chrono::duration<Rep, Period> lease_for) {
        lease_.extend(lease_for);
    }
    wq_lease release() noexcept { return lease_.release(); }

private:
    template <class>
    friend class work_queue;

    task_lease(lease&& l, const task_type& value) noexcept
        : lease_(std::move(l)), value_(value) {}

    lease lease_;
    task_type value_;
};

namespace detail {

template <class>
struct is_std_optional : std::false_type {};
template <class U>
struct is_std_optional<std::optional<U>> : std::true_type {};

/// True for an optional type of T other than std::optional: a class whose
/// value_type is T, whose operator* gives the T, that tests as a bool, is
/// empty when default-constructed and can be made from a T
/// (boost::optional<T>, for one).
template <class Optional, class T, class = void>
struct is_other_optional : std::false_type {};
template <class Optional, class T>
struct is_other_optional<
    Optional, T,
    std::void_t<typename Optional::value_type, decltype(*std::declval<const Optional&>())>>
    : std::bool_constant<
          std::is_same_v<typename Optional::value_type, T> && !is_std_optional<Optional>::value &&
          std::is_same_v<decltype(*std::declval<const Optional&>()), const T&> &&
          std::is_constructible_v<bool, const Optional&> &&
          std::is_default_constructible_v<Optional> && std::is_constructible_v<Optional, const T&>> {};

}  // namespace detail

/// What work_queue<T>::try_pop_task returns: a std::optional<T> (it derives
/// from one, so every member, comparison and conversion of std::optional
/// works on it, and it passes as a std::optional<T>), that also converts to
/// any other optional type of T, such as boost::optional<T>. So the Boost
/// recipe's
///
///     boost::optional<task_structure> task = queue.try_pop_task();
///
/// compiles as it is, and wq.hpp does not depend on Boost.
template <class T>
class optional_task : public std::optional<T> {
public:
    using std::optional<T>::optional;

    /// An empty Optional, or one holding a copy of the task.
    template <class Optional,
              std::enable_if_t<detail::is_other_optional<Optional, T>::value, int> = 0>
    operator Optional() const {
        return this->has_value() ? Optional(**this) : Optional();
    }
};

/// A queue of `T` values (each message is the bytes of one T): a drop-in for
/// the Boost.Interprocess work_queue recipe. Replace the recipe's class with
///
///     using work_queue = wq::work_queue<task_structure>;
///
/// and keep the calls: push_task, try_pop_task, pop_task, cleanup.
///
/// Like the recipe, push_task does not wait: on a full queue it throws
/// (wq::timeout_error, code() WQ_FULL, where the recipe threw bad_alloc);
/// try_push_task_for waits for room. A message of another size than
/// sizeof(T), pushed through the byte API, is taken off by the pop that
/// finds it and thrown as wq::foreign_message_error: it never blocks the
/// tasks behind it.
template <class T>
class work_queue {
    static_assert(std::is_trivially_copyable_v<T>,
                  "wq::work_queue<T> copies T's bytes through shared memory: "
                  "T must be trivially copyable");

public:
    using task_type = T;

    /// Default segment size of the recipe: 32 MiB.
    static constexpr std::size_t default_bytes = 32u * 1024u * 1024u;

    /// Bytes of message storage in which `bytes / sizeof(T)` tasks fit: a
    /// queue created with `bytes` holds that many tasks, at least as many
    /// as the recipe's segment of `bytes` held (its deque has overhead per
    /// task too). Each message is a record of an 8-byte header and the task
    /// padded to a multiple of 8 bytes, so this is bytes * 2 for an 8-byte
    /// T (64 MiB of /dev/shm for the default 32 MiB), bytes * 9 / 8 for a
    /// 64-byte one. Saturates at UINT64_MAX, which wq_open refuses.
    static constexpr std::uint64_t capacity_for(std::size_t bytes) noexcept {
        constexpr std::uint64_t record = 8 + (sizeof(task_type) + 7) / 8 * 8;
        const std::uint64_t tasks = bytes / sizeof(task_type);
        return tasks > std::numeric_limits<std::uint64_t>::max() / record
                   ? std::numeric_limits<std::uint64_t>::max()
                   : tasks * record;
    }

    /// Opens, or creates for 32 MiB of tasks, the queue "work-queue".
    work_queue() : work_queue("work-queue") {}

    /// Opens, or creates with room for `bytes / sizeof(T)` tasks
    /// (capacity_for(bytes) bytes of message storage), the queue `name`.
    /// An existing queue keeps its size.
    explicit work_queue(const char* name, std::size_t bytes = default_bytes)
        : name_(name == nullptr ? "" : name), queue_(name, creation_options(bytes)) {}

    work_queue(const work_queue&) = delete;
    work_queue& operator=(const work_queue&) = delete;
    work_queue(work_queue&&) noexcept = default;
    work_queue& operator=(work_queue&&) noexcept = default;
    ~work_queue() = default;

    /// Appends a task if there is room now; on a full queue throws
    /// wq::timeout_error (code() WQ_FULL) at once, as the recipe's
    /// push_task threw bad_alloc, rather than wait for a consumer that may
    /// never come.
    void push_task(const task_type& task) {
        detail::check(push(task, WQ_NO_WAIT), "wq::work_queue::push_task");
    }

    /// Appends a task if there is room now; false when the queue is full.
    bool try_push_task(const task_type& task) {
        return pushed(push(task, WQ_NO_WAIT), "wq::work_queue::try_push_task");
    }

    /// Appends a task, waiting up to `timeout` for room (wq::forever: as
    /// long as it takes); false when none appeared.
    template <class Rep, class Period>
    bool try_push_task_for(const task_type& task, std::chrono::duration<Rep, Period> timeout) {
        return pushed(push(task, detail::to_timeout_ns(timeout)),
                      "wq::work_queue::try_push_task_for");
    }

    /// The next task if there is one now. The result is a std::optional<T>
    /// that also converts to boost::optional<T> (see wq::optional_task).
    optional_task<task_type> try_pop_task() {
        return take(WQ_NO_WAIT, "wq::work_queue::try_pop_task");
    }

    /// The next task, waiting up to `timeout`; empty when none came.
    template <class Rep, class Period>
    optional_task<task_type> try_pop_task_for(std::chrono::duration<Rep, Period> timeout) {
        return take(detail::to_timeout_ns(timeout), "wq::work_queue::try_pop_task_for");
    }

    /// The next task, waiting as long as it takes.
    task_type pop_task() { return *take(WQ_FOREVER, "wq::work_queue::pop_task"); }

    /// The next task under a lease (see wq::task_lease and
    /// queue::pop_leased), waiting as long as it takes. A message that is
    /// not sizeof(T) bytes is acked and thrown as foreign_message_error.
    task_lease<task_type> pop_task_leased() {
        return *to_task(queue_.pop_leased(), "wq::work_queue::pop_task_leased");
    }
    template <class Rep, class Period>
    task_lease<task_type> pop_task_leased(std::chrono::duration<Rep, Period> lease_for) {
        return *to_task(queue_.pop_leased(lease_for), "wq::work_queue::pop_task_leased");
    }

    /// The next task under a lease if there is one now.
    std::optional<task_lease<task_type>> try_pop_task_leased() {
        return to_task(queue_.try_pop_leased(), "wq::work_queue::try_pop_task_leased");
    }
    template <class Rep, class Period>
    std::optional<task_lease<task_type>> try_pop_task_leased(
        std::chrono::duration<Rep, Period> lease_for) {
        return to_task(queue_.try_pop_leased(lease_for), "wq::work_queue::try_pop_task_leased");
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

    wq_status push(const task_type& task, std::int64_t timeout_ns) {
        return wq_push(queue_.c_handle(), &task, sizeof(task_type), timeout_ns);
    }

    static bool pushed(wq_status s, const char* operation) {
        if (s == WQ_FULL) {
            return false;
        }
        detail::check(s, operation);
        return true;
    }

    // The next task, popped straight into a T (no allocation). A message of
    // another size is taken off whatever its length: a short one is already
    // popped; a long one stays queued on WQ_BUFFER_TOO_SMALL and is popped
    // as bytes (unless another consumer was first: then the loop goes on
    // with the message after it).
    optional_task<task_type> take(std::int64_t timeout_ns, const char* operation) {
        const detail::deadline until(timeout_ns);
        for (;;) {
            storage s;
            std::size_t len = 0;
            const wq_status st =
                wq_pop(queue_.c_handle(), &s.value, sizeof(task_type), &len, until.remaining_ns());
            if (st == WQ_OK) {
                if (len == sizeof(task_type)) {
                    return s.value;
                }
                const auto* bytes = reinterpret_cast<const std::byte*>(&s.value);
                throw foreign(operation, std::vector<std::byte>(bytes, bytes + len), 0);
            }
            if (st == WQ_BUFFER_TOO_SMALL) {
                if (std::optional<std::vector<std::byte>> msg = queue_.try_pop()) {
                    if (msg->size() == sizeof(task_type)) {
                        std::memcpy(&s.value, msg->data(), sizeof(task_type));
                        return s.value;
                    }
                    throw foreign(operation, std::move(*msg), 0);
                }
                continue;
            }
            if (st == WQ_EMPTY && timeout_ns >= 0) {
                return std::nullopt;
            }
            detail::check(st, operation);
        }
    }

    std::optional<task_lease<task_type>> to_task(std::optional<lease> l, const char* operation) {
        if (!l) {
            return std::nullopt;
        }
        if (l->size() != sizeof(task_type)) {
            l->ack();  // not a task: never to be seen again here
            throw foreign(operation, l->bytes(), l->deliveries());
        }
        storage s;
        std::memcpy(&s.value, l->data(), sizeof(task_type));
        return task_lease<task_type>(std::move(*l), s.value);
    }

    foreign_message_error foreign(const char* operation, std::vector<std::byte> message,
                                  std::uint32_t deliveries) const {
        const std::string detail = "queue \"" + name_ + "\" held a message of " +
                                   std::to_string(message.size()) + " bytes, not a task of " +
                                   std::to_string(sizeof(task_type)) +
                                   " bytes; it was taken off the queue";
        return foreign_message_error(operation, detail, std::move(message), deliveries);
    }

    static options creation_options(std::size_t bytes) {
        options o;
        o.capacity = capacity_for(bytes);
        return o;
    }

    std::string name_;
    queue queue_;
};

/// The library version, "MAJOR.MINOR.PATCH".
inline const char* version() noexcept { return wq_version(); }

}  // namespace wq

#endif  // C++17
#endif  // WQ_HPP

// Bench roles for the C/C++ implementations: wq through its C API, the
// classic Boost.Interprocess work-queue recipe, boost::interprocess::
// message_queue, POSIX mq_open and a pipe. Driven by bench/driver.py, which
// starts each role as its own process pinned with taskset.
//
//   cbench IMPL ROLE NAME key=value...
//
// IMPL: wq-c | boost-recipe | boost-mq | posix-mq | pipe   (or "-" for memcpy)
// ROLE: cons | prod | ping | pong | idle | single | cleanup | memcpy | calib
// (wq-c cons with lease=1: each message is popped under a lease and acked)
//
// Every message starts with an 8-byte tag: producer id in the top 8 bits
// (0xFF = stop), sequence number in the low 56. Consumers check the
// sequence of every producer (no loss, no reorder) and print one
// "result key=value..." line that the driver parses.

#include <wq.h>

#include <boost/interprocess/allocators/allocator.hpp>
#include <boost/interprocess/containers/deque.hpp>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <boost/interprocess/managed_shared_memory.hpp>
#include <boost/interprocess/sync/interprocess_condition.hpp>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <boost/interprocess/sync/scoped_lock.hpp>

#include <fcntl.h>
#include <mqueue.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <type_traits>
#include <string>
#include <thread>
#include <vector>

namespace bip = boost::interprocess;

namespace {

constexpr uint64_t STOP = 0xFFull << 56;
constexpr uint64_t SEQ_MASK = (1ull << 56) - 1;

[[noreturn]] void die(const char *what, const std::string &detail = "") {
    std::fprintf(stderr, "cbench: %s %s\n", what, detail.c_str());
    std::exit(2);
}

uint64_t clock_ns(clockid_t clk) {
    timespec ts{};
    clock_gettime(clk, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}
uint64_t now_ns() { return clock_ns(CLOCK_MONOTONIC); }
uint64_t cpu_ns() { return clock_ns(CLOCK_PROCESS_CPUTIME_ID); }

struct Cfg {
    std::string name;
    size_t size = 8;          // bytes per message
    uint64_t capacity = 32u << 20;  // bytes of queue storage (recipe: segment size)
    int rfd = -1, wfd = -1;   // pipe ends
    std::map<std::string, std::string> kv;

    uint64_t get(const char *k, uint64_t dflt) const {
        auto it = kv.find(k);
        return it == kv.end() ? dflt : std::strtoull(it->second.c_str(), nullptr, 10);
    }
};

// ---------------------------------------------------------------- wq (C API)

struct WqC {
    wq_queue *q = nullptr;
    WqC(const Cfg &c, const std::string &name) {
        wq_options o;
        wq_options_default(&o);
        o.capacity = c.capacity;
        wq_status s = wq_open(name.c_str(), &o, &q);
        if (s != WQ_OK) die("wq_open", wq_last_error());
    }
    ~WqC() { wq_close(q); }
    void push(const void *p, size_t len) {
        wq_status s = wq_push(q, p, len, WQ_FOREVER);
        if (s != WQ_OK) die("wq_push", wq_status_str(s));
    }
    template <class F> void pop(void *buf, size_t cap, F &&f) {
        size_t len = 0;
        wq_status s = wq_pop(q, buf, cap, &len, WQ_FOREVER);
        if (s != WQ_OK) die("wq_pop", wq_status_str(s));
        f(static_cast<const char *>(buf), len);
    }
    // `count` messages of `each` bytes packed at `p`.
    void push_batch(const char *p, size_t each, size_t count) {
        wq_iovec iov[256];
        size_t done = 0;
        while (done < count) {
            size_t k = std::min<size_t>(count - done, 256);
            for (size_t i = 0; i < k; i++) iov[i] = wq_iovec{p + (done + i) * each, each};
            size_t pushed = 0;
            wq_status s = wq_push_batch(q, iov, k, &pushed, WQ_FOREVER);
            if (s != WQ_OK) die("wq_push_batch", wq_status_str(s));
            done += pushed;
        }
    }
    template <class F> void pop_batch(char *buf, size_t cap, size_t max, F &&f) {
        wq_span spans[256];
        size_t n = 0;
        max = std::min<size_t>(max, 256);
        wq_status s = wq_pop_batch(q, buf, cap, spans, max, &n, WQ_FOREVER);
        if (s != WQ_OK) die("wq_pop_batch", wq_status_str(s));
        for (size_t i = 0; i < n; i++) f(buf + spans[i].offset, spans[i].len);
    }
    // At-least-once delivery: pop under a lease that never runs out, handle
    // the message, then ack it.
    template <class F> void pop_leased(void *buf, size_t cap, F &&f) {
        size_t len = 0;
        wq_lease lease{};
        wq_status s = wq_pop_leased(q, buf, cap, &len, &lease, WQ_FOREVER, WQ_FOREVER);
        if (s != WQ_OK) die("wq_pop_leased", wq_status_str(s));
        f(static_cast<const char *>(buf), len);
        s = wq_ack(q, &lease);
        if (s != WQ_OK) die("wq_ack", wq_status_str(s));
    }
    // Event-loop use: the readiness descriptor, and a pop that never waits.
    int ready_fd() {
        int fd = wq_readable_fd(q);
        if (fd < 0) die("wq_readable_fd", wq_last_error());
        return fd;
    }
    template <class F> bool try_pop(void *buf, size_t cap, F &&f) {
        size_t len = 0;
        wq_status s = wq_pop(q, buf, cap, &len, WQ_NO_WAIT);
        if (s == WQ_EMPTY) return false;
        if (s != WQ_OK) die("wq_pop", wq_status_str(s));
        f(static_cast<const char *>(buf), len);
        return true;
    }
    static void remove(const std::string &name) { wq_remove(name.c_str()); }
};

// ------------------------------------------------ the classic Boost recipe
// A work_queue over managed_shared_memory: a boost::interprocess::deque of
// fixed-size tasks guarded by one interprocess_mutex, consumers blocking on
// one interprocess_condition (Boost C++ Application Development Cookbook).

template <size_t N> struct task_structure {
    char bytes[N];
};

template <size_t N> class work_queue {
public:
    using task_type = task_structure<N>;
    using allocator_t =
        bip::allocator<task_type, bip::managed_shared_memory::segment_manager>;
    using deque_t = bip::deque<task_type, allocator_t>;
    using mutex_t = bip::interprocess_mutex;
    using condition_t = bip::interprocess_condition;
    using scoped_lock_t = bip::scoped_lock<mutex_t>;

    work_queue(const char *name, size_t bytes)
        : segment_(bip::open_or_create, name, bytes),
          allocator_(segment_.get_segment_manager()),
          tasks_(*segment_.find_or_construct<deque_t>("work-queue:deque")(allocator_)),
          mutex_(*segment_.find_or_construct<mutex_t>("work-queue:mutex")()),
          cond_(*segment_.find_or_construct<condition_t>("work-queue:condition")()) {}

    void push_task(const task_type &task) {
        scoped_lock_t lock(mutex_);
        tasks_.push_back(task);
        lock.unlock();
        cond_.notify_one();
    }

    task_type pop_task() {
        scoped_lock_t lock(mutex_);
        while (tasks_.empty()) cond_.wait(lock);
        task_type ret = tasks_.front();
        tasks_.pop_front();
        return ret;
    }

private:
    bip::managed_shared_memory segment_;
    const allocator_t allocator_;
    deque_t &tasks_;
    mutex_t &mutex_;
    condition_t &cond_;
};

template <size_t N> struct Recipe {
    work_queue<N> q;
    Recipe(const Cfg &c, const std::string &name) : q(name.c_str(), c.capacity) {}
    void push(const void *p, size_t) {
        q.push_task(*static_cast<const task_structure<N> *>(p));
    }
    template <class F> void pop(void *, size_t, F &&f) {
        task_structure<N> t = q.pop_task();
        f(t.bytes, N);
    }
    static void remove(const std::string &name) {
        bip::shared_memory_object::remove(name.c_str());
    }
};

// ------------------------------------------ boost::interprocess::message_queue

uint64_t mq_depth(size_t size) {
    return std::clamp<uint64_t>((32u << 20) / std::max<size_t>(size, 1), 16, 65536);
}

struct BoostMq {
    bip::message_queue q;
    BoostMq(const Cfg &c, const std::string &name)
        : q(bip::open_or_create, name.c_str(), mq_depth(c.size), c.size) {}
    void push(const void *p, size_t len) { q.send(p, len, 0); }
    template <class F> void pop(void *buf, size_t cap, F &&f) {
        bip::message_queue::size_type got = 0;
        unsigned prio = 0;
        q.receive(buf, cap, got, prio);
        f(static_cast<const char *>(buf), size_t(got));
    }
    static void remove(const std::string &name) { bip::message_queue::remove(name.c_str()); }
};

// ------------------------------------------------------------ POSIX mq_open

struct PosixMq {
    mqd_t q;
    explicit PosixMq(const Cfg &c, const std::string &name) {
        // The depth is bounded by fs.mqueue.msg_max (run.sh raises it for the
        // run when it may) and by RLIMIT_MSGQUEUE bytes, shared by the two
        // queues of a ping-pong (about size + 100 bytes per message in the
        // kernel's accounting).
        rlimit rl{};
        getrlimit(RLIMIT_MSGQUEUE, &rl);
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_MSGQUEUE, &rl);
        uint64_t depth = mq_depth(c.size);
        if (FILE *f = std::fopen("/proc/sys/fs/mqueue/msg_max", "r")) {
            unsigned long long m = 0;
            if (std::fscanf(f, "%llu", &m) == 1) depth = std::min<uint64_t>(depth, m);
            std::fclose(f);
        }
        if (rl.rlim_cur != RLIM_INFINITY)
            depth = std::min<uint64_t>(depth, uint64_t(rl.rlim_cur) * 4 / 10 / (c.size + 128));
        depth = std::max<uint64_t>(depth, 1);
        mq_attr attr{};
        attr.mq_maxmsg = long(depth);
        attr.mq_msgsize = long(c.size);
        q = mq_open(("/" + name).c_str(), O_RDWR | O_CREAT, 0600, &attr);
        if (q == mqd_t(-1)) die("mq_open", std::strerror(errno));
    }
    ~PosixMq() { mq_close(q); }
    // Event-loop use: on Linux an mqd_t is a pollable descriptor; receives
    // no longer block once it is asked for.
    int ready_fd() {
        mq_attr attr{};
        attr.mq_flags = O_NONBLOCK;
        if (mq_setattr(q, &attr, nullptr) != 0) die("mq_setattr", std::strerror(errno));
        return int(q);
    }
    template <class F> bool try_pop(void *buf, size_t cap, F &&f) {
        ssize_t n;
        while ((n = mq_receive(q, static_cast<char *>(buf), cap, nullptr)) < 0) {
            if (errno == EAGAIN) return false;
            if (errno != EINTR) die("mq_receive", std::strerror(errno));
        }
        f(static_cast<const char *>(buf), size_t(n));
        return true;
    }
    void push(const void *p, size_t len) {
        while (mq_send(q, static_cast<const char *>(p), len, 0) != 0)
            if (errno != EINTR) die("mq_send", std::strerror(errno));
    }
    template <class F> void pop(void *buf, size_t cap, F &&f) {
        ssize_t n;
        while ((n = mq_receive(q, static_cast<char *>(buf), cap, nullptr)) < 0)
            if (errno != EINTR) die("mq_receive", std::strerror(errno));
        f(static_cast<const char *>(buf), size_t(n));
    }
    static void remove(const std::string &name) { mq_unlink(("/" + name).c_str()); }
};

// ------------------------------------------------------------------ a pipe
// The driver creates the pipe(s) and hands the ends over as rfd=/wfd=.
// All messages of a run have one size, so the stream needs no framing.

struct Pipe {
    int rfd, wfd;
    size_t size;
    Pipe(const Cfg &c, const std::string &) : rfd(c.rfd), wfd(c.wfd), size(c.size) {}
    void push(const void *p, size_t len) {
        const char *s = static_cast<const char *>(p);
        while (len > 0) {
            ssize_t n = write(wfd, s, len);
            if (n < 0) {
                if (errno == EINTR) continue;
                die("write", std::strerror(errno));
            }
            s += n;
            len -= size_t(n);
        }
    }
    template <class F> void pop(void *buf, size_t, F &&f) {
        char *d = static_cast<char *>(buf);
        size_t got = 0;
        while (got < size) {
            ssize_t n = read(rfd, d + got, size - got);
            if (n < 0) {
                if (errno == EINTR) continue;
                die("read", std::strerror(errno));
            }
            if (n == 0) die("read", "unexpected end of pipe");
            got += size_t(n);
        }
        f(d, size);
    }
    static void remove(const std::string &) {}
};

// ------------------------------------------------------------------- roles

template <class T> void push_batch(T &q, const char *p, size_t each, size_t count) {
    if constexpr (std::is_same_v<T, WqC>) {
        q.push_batch(p, each, count);
    } else {
        for (size_t i = 0; i < count; i++) q.push(p + i * each, each);
    }
}

template <class T, class F>
void pop_some(T &q, char *buf, size_t cap, size_t each, size_t batch, bool lease, F &&f) {
    if constexpr (std::is_same_v<T, WqC>) {
        if (lease) return q.pop_leased(buf, cap, f);
        if (batch > 1) return q.pop_batch(buf, cap, batch, f);
    }
    if (lease) die("lease=1: only wq-c has leases");
    (void)each;
    q.pop(buf, cap, f);
}

uint64_t tag_of(const char *p, size_t len) {
    if (len < 8) die("message shorter than its tag");
    uint64_t t;
    std::memcpy(&t, p, 8);
    return t;
}

// Checks the messages of the producers' sequences, until `stops` stop
// messages (see bench/driver.py: every producer sends one per consumer,
// every consumer waits for one per producer).
struct SeqCheck {
    const Cfg &c;
    bool exact;  // one consumer sees every sequence number
    uint64_t stops_left = c.get("stops", 1);
    std::vector<int64_t> last = std::vector<int64_t>(255, -1);
    uint64_t count = 0, sum = 0, bad = 0;
    bool stop = false;

    void operator()(const char *p, size_t len) {
        uint64_t t = tag_of(p, len);
        if (len != c.size) bad++;
        if ((t & ~SEQ_MASK) == STOP) {
            stop = --stops_left == 0;
            return;
        }
        unsigned id = unsigned(t >> 56);
        int64_t seq = int64_t(t & SEQ_MASK);
        if (exact ? seq != last[id] + 1 : seq <= last[id]) bad++;
        last[id] = seq;
        count++;
        sum += uint64_t(seq);
    }

    int report() const {
        std::printf("result t_end=%llu count=%llu sum=%llu bad=%llu\n", (unsigned long long)now_ns(),
                    (unsigned long long)count, (unsigned long long)sum, (unsigned long long)bad);
        return bad == 0 ? 0 : 1;
    }
};

void say_ready() {
    std::printf("ready\n");
    std::fflush(stdout);
}

// Pops until a stop message; checks every producer's sequence. lease=1:
// every pop is leased and acked after the check.
template <class T> int role_cons(const Cfg &c) {
    T q(c, c.name);
    size_t batch = c.get("batch", 1);
    bool lease = c.get("lease", 0) != 0;
    size_t cap = std::max<size_t>(c.size, 8) * std::max<size_t>(batch, 1);
    std::vector<char> buf(cap);
    SeqCheck check{c, c.get("consumers", 1) == 1};
    say_ready();
    while (!check.stop) {
        pop_some(q, buf.data(), cap, c.size, batch, lease, [&](const char *p, size_t len) { check(p, len); });
    }
    return check.report();
}

// Sleeps in epoll_wait on the queue's descriptor; when it is readable,
// pops without waiting until the queue is empty (an event-loop consumer).
// Calls `f` for each message until it returns false.
template <class T, class F> void drain_from_epoll(T &q, std::vector<char> &buf, F &&f) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, q.ready_fd(), &ev) != 0) die("epoll", std::strerror(errno));
    say_ready();
    for (bool more = true; more;) {
        epoll_event got{};
        if (epoll_wait(ep, &got, 1, -1) < 0 && errno != EINTR) die("epoll_wait", std::strerror(errno));
        while (more && q.try_pop(buf.data(), buf.size(), [&](const char *p, size_t len) { more = f(p, len); })) {
        }
    }
    close(ep);
}

// An event-loop consumer: like `cons`, waiting in epoll.
template <class T> int role_fdcons(const Cfg &c) {
    T q(c, c.name);
    std::vector<char> buf(std::max<size_t>(c.size, 8));
    SeqCheck check{c, true};
    drain_from_epoll(q, buf, [&](const char *p, size_t len) {
        check(p, len);
        return !check.stop;
    });
    return check.report();
}

// Wake-up latency of an event-loop consumer: each message carries its push
// time (bytes 8..16, see `prod` with stamp=1); reports percentiles of
// push -> popped after epoll_wait returned.
template <class T> int role_fdwake(const Cfg &c) {
    T q(c, c.name);
    std::vector<char> buf(std::max<size_t>(c.size, 16));
    std::vector<uint64_t> lat;
    drain_from_epoll(q, buf, [&](const char *p, size_t len) {
        if (tag_of(p, len) == STOP || len < 16) return false;
        uint64_t sent;
        std::memcpy(&sent, p + 8, 8);
        lat.push_back(now_ns() - sent);
        return true;
    });
    if (lat.empty()) die("fdwake", "no messages");
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double x) { return lat[std::min(lat.size() - 1, size_t(x * double(lat.size())))]; };
    std::printf("result p50=%llu p99=%llu max=%llu count=%zu\n", (unsigned long long)pct(0.50),
                (unsigned long long)pct(0.99), (unsigned long long)lat.back(), lat.size());
    return 0;
}

template <class T> int role_prod(const Cfg &c) {
    T q(c, c.name);
    uint64_t n = c.get("n", 1000000), id = c.get("id", 0), stops = c.get("stops", 1);
    size_t batch = std::max<uint64_t>(c.get("batch", 1), 1);
    uint64_t delay_ms = c.get("delay_ms", 0);
    // stamp=1: each message carries its push time (bytes 8..16) and pushes
    // are gap_us apart, so that the consumer sleeps between them.
    bool stamp = c.get("stamp", 0) != 0;
    uint64_t gap_us = c.get("gap_us", 0);
    size_t size = std::max<size_t>(c.size, stamp ? 16 : 8);
    std::vector<char> buf(size * batch, 'x');
    if (delay_ms) usleep(useconds_t(delay_ms * 1000));
    uint64_t t_start = now_ns();
    for (uint64_t i = 0; i < n;) {
        size_t k = size_t(std::min<uint64_t>(batch, n - i));
        for (size_t j = 0; j < k; j++) {
            uint64_t t = (id << 56) | (i + j);
            std::memcpy(buf.data() + j * size, &t, 8);
        }
        if (stamp) {
            usleep(useconds_t(gap_us));
            uint64_t now = now_ns();
            std::memcpy(buf.data() + 8, &now, 8);
        }
        if (k == 1)
            q.push(buf.data(), size);
        else
            push_batch(q, buf.data(), size, k);
        i += k;
    }
    for (uint64_t s = 0; s < stops; s++) {
        std::memcpy(buf.data(), &STOP, 8);
        q.push(buf.data(), size);
    }
    std::printf("result t_start=%llu t_done=%llu\n", (unsigned long long)t_start,
                (unsigned long long)now_ns());
    return 0;
}

// Round trips over two queues: NAME-a carries pings, NAME-b the replies.
template <class T> int role_ping(const Cfg &c) {
    T a(c, c.name + "-a");
    T b(c, c.name + "-b");
    uint64_t n = c.get("n", 20000), warm = c.get("warm", 1000);
    std::vector<char> msg(std::max<size_t>(c.size, 8), 0), buf(msg.size());
    std::vector<uint64_t> rtt;
    rtt.reserve(n);
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n + warm; i++) {
        std::memcpy(msg.data(), &i, 8);
        uint64_t t0 = now_ns();
        a.push(msg.data(), msg.size());
        b.pop(buf.data(), buf.size(), [&](const char *p, size_t len) {
            if (tag_of(p, len) != i) bad++;
        });
        uint64_t t1 = now_ns();
        if (i >= warm) rtt.push_back(t1 - t0);
    }
    std::memcpy(msg.data(), &STOP, 8);
    a.push(msg.data(), msg.size());
    std::sort(rtt.begin(), rtt.end());
    auto pct = [&](double p) { return rtt[std::min(rtt.size() - 1, size_t(p * double(rtt.size())))]; };
    std::printf("result p50=%llu p99=%llu p999=%llu max=%llu bad=%llu\n",
                (unsigned long long)pct(0.50), (unsigned long long)pct(0.99),
                (unsigned long long)pct(0.999), (unsigned long long)rtt.back(),
                (unsigned long long)bad);
    return bad == 0 ? 0 : 1;
}

template <class T> int role_pong(const Cfg &c) {
    T a(c, c.name + "-a");
    T b(c, c.name + "-b");
    std::vector<char> buf(std::max<size_t>(c.size, 8));
    std::printf("ready\n");
    std::fflush(stdout);
    for (bool stop = false; !stop;) {
        a.pop(buf.data(), buf.size(), [&](const char *p, size_t len) {
            if (tag_of(p, len) == STOP)
                stop = true;
            else
                b.push(p, len);
        });
    }
    std::printf("result\n");
    return 0;
}

// Blocks in one pop on an empty queue until the driver's producer pushes
// (after about 1 s); reports the CPU time that cost.
template <class T> int role_idle(const Cfg &c) {
    T q(c, c.name);
    std::vector<char> buf(std::max<size_t>(c.size, 8));
    std::printf("ready\n");
    std::fflush(stdout);
    uint64_t w0 = now_ns(), c0 = cpu_ns();
    q.pop(buf.data(), buf.size(), [](const char *, size_t) {});
    uint64_t c1 = cpu_ns(), w1 = now_ns();
    std::printf("result cpu_ns=%llu wall_ns=%llu\n", (unsigned long long)(c1 - c0),
                (unsigned long long)(w1 - w0));
    return 0;
}

// The recipe's own pattern in one process: create the queue, push `n`
// tasks, pop them all; then open the existing queue once more.
template <class T> int role_single(const Cfg &c) {
    uint64_t n = c.get("n", 1000000), bad = 0;
    std::vector<char> task(std::max<size_t>(c.size, 8), 'x'), buf(task.size());
    uint64_t t0 = now_ns();
    T q(c, c.name);
    uint64_t t1 = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        std::memcpy(task.data(), &i, 8);
        q.push(task.data(), c.size);
    }
    uint64_t t2 = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        q.pop(buf.data(), buf.size(), [&](const char *p, size_t len) {
            uint64_t got;
            std::memcpy(&got, p, 8);
            bad += (got != i || len != c.size);
        });
    }
    uint64_t t3 = now_ns();
    uint64_t reopen;
    {
        uint64_t t4 = now_ns();
        T again(c, c.name);
        reopen = now_ns() - t4;
    }
    std::printf("result create_ns=%llu push_ns=%llu pop_ns=%llu reopen_ns=%llu bad=%llu\n",
                (unsigned long long)(t1 - t0), (unsigned long long)(t2 - t1),
                (unsigned long long)(t3 - t2), (unsigned long long)reopen,
                (unsigned long long)bad);
    return bad != 0;
}

// Single-core memcpy bandwidth for `size`-byte blocks read from a 32 MiB
// buffer (like a consumer copying out of the ring).
int role_memcpy(const Cfg &c) {
    size_t size = c.size, span = 32u << 20;
    std::vector<char> src(span, 'x'), dst(size, 'y');
    uint64_t bytes = 0, t0 = now_ns(), t1;
    size_t off = 0;
    do {
        for (int k = 0; k < 64; k++) {
            std::memcpy(dst.data(), src.data() + off, size);
            asm volatile("" ::"r"(dst.data()) : "memory");
            off += size;
            if (off + size > span) off = 0;
            bytes += size;
        }
        t1 = now_ns();
    } while (t1 - t0 < 300000000ull);
    std::printf("result bytes_per_s=%.0f\n", double(bytes) * 1e9 / double(t1 - t0));
    return 0;
}

// The machine's calibration: two threads pinned to CPU 0 and CPU 1 bounce
// one cache line (each waits for the other's value, then writes its own);
// prints ns per round trip: the median and the minimum over 21 batches of
// `n` round trips (a batch in which either thread was preempted is slow).
int role_calib(const Cfg &c) {
    uint64_t trips = std::max<uint64_t>(c.get("n", 20000), 1);
    alignas(64) std::atomic<uint64_t> line{0};
    auto pin = [](int cpu) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) die("pthread_setaffinity_np");
    };
    std::vector<uint64_t> per_trip;
    const int batches = 21;
    std::thread echo([&] {
        pin(1);
        for (uint64_t v = 1; v <= trips * batches * 2; v += 2) {
            while (line.load(std::memory_order_acquire) != v) {
            }
            line.store(v + 1, std::memory_order_release);
        }
    });
    pin(0);
    uint64_t v = 0;
    for (int b = 0; b < batches; b++) {
        uint64_t t0 = now_ns();
        for (uint64_t i = 0; i < trips; i++, v += 2) {
            line.store(v + 1, std::memory_order_release);
            while (line.load(std::memory_order_acquire) != v + 2) {
            }
        }
        per_trip.push_back((now_ns() - t0) / trips);
    }
    echo.join();
    std::sort(per_trip.begin(), per_trip.end());
    std::printf("result rtt_ns=%llu min_ns=%llu max_ns=%llu\n", (unsigned long long)per_trip[batches / 2],
                (unsigned long long)per_trip.front(), (unsigned long long)per_trip.back());
    return 0;
}

// Whether T can be driven from an event loop (ready_fd + try_pop).
template <class T, class = void> struct has_ready_fd : std::false_type {};
template <class T> struct has_ready_fd<T, std::void_t<decltype(std::declval<T &>().ready_fd())>>
    : std::true_type {};

template <class T> int dispatch_role(const std::string &role, const Cfg &c) {
    if (role == "cons") return role_cons<T>(c);
    if (role == "prod") return role_prod<T>(c);
    if (role == "ping") return role_ping<T>(c);
    if (role == "pong") return role_pong<T>(c);
    if (role == "idle") return role_idle<T>(c);
    if (role == "single") return role_single<T>(c);
    if constexpr (has_ready_fd<T>::value) {
        if (role == "fdcons") return role_fdcons<T>(c);
        if (role == "fdwake") return role_fdwake<T>(c);
    }
    if (role == "cleanup") {
        for (const char *suffix : {"", "-a", "-b"}) T::remove(c.name + suffix);
        return 0;
    }
    die("unknown role", role);
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 4) die("usage: cbench IMPL ROLE NAME key=value...");
    std::string impl = argv[1], role = argv[2];
    Cfg c;
    c.name = argv[3];
    for (int i = 4; i < argc; i++) {
        std::string a = argv[i];
        size_t eq = a.find('=');
        if (eq == std::string::npos) die("bad argument", a);
        c.kv[a.substr(0, eq)] = a.substr(eq + 1);
    }
    c.size = c.get("size", 8);
    c.capacity = c.get("capacity", 32u << 20);
    c.rfd = int(c.get("rfd", uint64_t(-1)));
    c.wfd = int(c.get("wfd", uint64_t(-1)));
    try {
        if (role == "memcpy") return role_memcpy(c);
        if (role == "calib") return role_calib(c);
        if (impl == "wq-c") return dispatch_role<WqC>(role, c);
        if (impl == "boost-mq") return dispatch_role<BoostMq>(role, c);
        if (impl == "posix-mq") return dispatch_role<PosixMq>(role, c);
        if (impl == "pipe") return dispatch_role<Pipe>(role, c);
        if (impl == "boost-recipe") {
            // Its tasks are a fixed-size struct: one instance per size the
            // driver runs (the rows and the size sweep).
            switch (c.size) {
            case 8: return dispatch_role<Recipe<8>>(role, c);
            case 64: return dispatch_role<Recipe<64>>(role, c);
            case 512: return dispatch_role<Recipe<512>>(role, c);
            case 1024: return dispatch_role<Recipe<1024>>(role, c);
            case 4096: return dispatch_role<Recipe<4096>>(role, c);
            case 65536: return dispatch_role<Recipe<65536>>(role, c);
            case 1 << 20: return dispatch_role<Recipe<1 << 20>>(role, c);
            default: die("boost-recipe: size must be 8, 64, 512, 1024, 4096, 65536 or 1048576");
            }
        }
    } catch (const std::exception &e) {
        die("exception:", e.what());
    }
    die("unknown implementation", impl);
}

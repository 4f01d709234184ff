// test_util.hpp - check macros and unique queue names for the C++ tests (the
// C tests have test_util.h). Every queue a test creates is named
// "<tag>-<pid>-<what>" (WQ_TEST_TAG, default "wqt") and registered;
// remove_all() removes them, also after failed checks (CHECK does not
// exit). A crashed test leaves them to the driver, which removes
// /dev/shm/<tag>-*.
#ifndef WQ_TEST_UTIL_HPP
#define WQ_TEST_UTIL_HPP

#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include <unistd.h>

#include "wq.hpp"

namespace test {

inline int failures = 0;
inline std::vector<std::string> names;

template <class Error, class F>
void check_throws(F&& f, wq_status code, const char* file, int line) {
    try {
        f();
        std::cerr << file << ":" << line << ": expected an exception\n";
        ++failures;
    } catch (const Error& e) {
        if (e.code() != code) {
            std::cerr << file << ":" << line << ": status " << e.code() << ", expected " << code
                      << "\n";
            ++failures;
        }
    } catch (const std::exception& e) {
        std::cerr << file << ":" << line << ": wrong exception type: " << e.what() << "\n";
        ++failures;
    }
}

/// A fresh unique queue name, removed by remove_all().
inline std::string unique_name(const char* what) {
    const char* tag = std::getenv("WQ_TEST_TAG");
    std::string name = std::string(tag != nullptr && *tag ? tag : "wqt") + "-" +
                       std::to_string(getpid()) + "-" + what;
    wq::queue::remove(name);
    names.push_back(name);
    return name;
}

inline void remove_all() {
    for (const auto& n : names) {
        try {
            wq::queue::remove(n);
        } catch (...) {
        }
    }
}

inline std::string text(const std::vector<std::byte>& v) {
    return {reinterpret_cast<const char*>(v.data()), v.size()};
}

/// Runs the test functions, removes the queues, prints the verdict; the
/// exit status of main.
template <class... Tests>
int run(const char* program, Tests... tests) {
    try {
        (tests(), ...);
    } catch (const std::exception& e) {
        std::cerr << "unexpected exception: " << e.what() << "\n";
        ++failures;
    }
    remove_all();
    if (failures != 0) {
        std::cerr << program << ": " << failures << " check(s) failed\n";
        return 1;
    }
    std::cout << program << ": all checks passed (wq " << wq::version() << ")\n";
    return 0;
}

}  // namespace test

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            std::cerr << __FILE__ << ":" << __LINE__ << ": CHECK failed: " #cond "\n"; \
            ++test::failures;                                                        \
        }                                                                            \
    } while (0)

#define CHECK_THROWS(Error, code, ...) \
    test::check_throws<Error>([&] { __VA_ARGS__; }, code, __FILE__, __LINE__)

#endif  // WQ_TEST_UTIL_HPP

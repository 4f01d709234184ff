// message_stream.hpp - the deterministic message stream of the wq examples,
// in C++ (the same rules as c-examples/message_stream.h and
// examples/common/mod.rs, implemented independently so that the
// cross-language tests compare three implementations).
#ifndef WQ_EXAMPLE_MESSAGE_STREAM_HPP
#define WQ_EXAMPLE_MESSAGE_STREAM_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "wq.hpp"

namespace stream {

inline constexpr std::uint64_t capacity = std::uint64_t{1} << 20;

constexpr std::uint64_t hash(std::uint64_t i) {
    std::uint64_t z = i + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

constexpr std::size_t length(std::uint64_t i) {
    const std::uint64_t h = hash(i);
    return h % 100 == 0 ? static_cast<std::size_t>(8192 + (h >> 40) % 24576)
                        : static_cast<std::size_t>((h >> 8) % 1100);
}

/// Message number i of the stream.
inline std::vector<std::byte> message(std::uint64_t i) {
    const std::uint64_t h = hash(i);
    std::vector<std::byte> msg(length(i));
    for (std::size_t j = 0; j < msg.size(); ++j) {
        const std::uint64_t v = (j < 8 && msg.size() >= 8) ? (i >> (8 * j))
                                                           : (h >> (8 * (j % 8))) + j;
        msg[j] = static_cast<std::byte>(v & 0xff);
    }
    return msg;
}

/// Empty when `msg` is message i, otherwise what is wrong with it.
inline std::optional<std::string> check(std::uint64_t i, const std::byte* msg, std::size_t len) {
    const std::vector<std::byte> want = message(i);
    if (len == want.size() && std::equal(want.begin(), want.end(), msg)) {
        return std::nullopt;
    }
    std::string what = "message " + std::to_string(i) + " expected, ";
    if (len >= 8) {
        std::uint64_t got = 0;
        for (std::size_t j = 0; j < 8; ++j) {
            got |= std::to_integer<std::uint64_t>(msg[j]) << (8 * j);
        }
        if (got < i) {
            return what + "got message " + std::to_string(got) + " again (duplicate or reordering)";
        }
        if (got > i) {
            return what + "got message " + std::to_string(got) + " (a message was lost)";
        }
    }
    return what + "got a damaged one of " + std::to_string(len) + " bytes (expected " +
           std::to_string(want.size()) + ")";
}

// ---- The command line and queue setup both example programs share ----

/// COUNT of the command line "QUEUE COUNT"; on bad usage prints the usage
/// line (naming argv[0], else `prog`) and returns nothing (exit status 2).
inline std::optional<std::uint64_t> parse_args(int argc, char** argv, const char* prog) {
    try {
        if (argc != 3 || std::string(argv[2]).find_first_not_of("0123456789") != std::string::npos) {
            throw std::invalid_argument("bad arguments");
        }
        return std::stoull(argv[2]);
    } catch (const std::exception&) {
        std::cerr << "usage: " << (argc > 0 ? argv[0] : prog) << " QUEUE COUNT\n";
        return std::nullopt;
    }
}

/// Opens (or creates, with the examples' capacity) the queue `name`.
inline wq::queue open_queue(const char* name) {
    wq::options opts;
    opts.capacity = capacity;
    return wq::queue(name, opts);
}

}  // namespace stream

#endif  // WQ_EXAMPLE_MESSAGE_STREAM_HPP

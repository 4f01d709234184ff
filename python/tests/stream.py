"""The example message stream of examples/common/mod.rs and
c-examples/message_stream.h, so that a Python process can feed the Rust
and C consumers and check what the C producer sends:

    h      = splitmix64(i)                       for message number i
    length = 8192 + (h >> 40) % 24576            when h % 100 == 0
             (h >> 8) % 1100                     otherwise
    byte j = (i >> 8j) & 0xff                    for j < 8 when length >= 8
             ((h >> 8(j % 8)) + j) & 0xff        otherwise

Byte j depends on j only through j % 256, so a message is a 256-byte block
repeated; the block is built from 8 strided runs with bytes.translate.
"""

M64 = (1 << 64) - 1
# RAMP[r]: the values j & 0xff of j = r, r + 8, ... below 256.
RAMP = [bytes(range(r, 256, 8)) for r in range(8)]
# ADD[c]: the translation table x -> (x + c) & 0xff.
ADD = [bytes((x + c) & 0xFF for x in range(256)) for c in range(256)]


def splitmix64(i):
    z = (i + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def message(i):
    """Message number `i` of the stream."""
    h = splitmix64(i)
    n = 8192 + (h >> 40) % 24576 if h % 100 == 0 else (h >> 8) % 1100
    block = bytearray(256)
    for r in range(8):
        block[r::8] = RAMP[r].translate(ADD[(h >> (8 * r)) & 0xFF])
    msg = (bytes(block) * (n // 256 + 1))[:n]
    if n >= 8:
        msg = i.to_bytes(8, "little") + msg[8:]
    return msg

//! The one-line escaped form of a message: [`encode`] is how `wq pop`
//! prints a message by default, [`decode`] is how `wq push --escaped`
//! reads one back. Both live here so that they cannot drift apart:
//! `decode(encode(m)) == m` for every byte string `m`.

use std::fmt::Write as _;

/// The escapes [`decode`] knows, for error messages.
const KNOWN: &str = r"\\, \n, \r and \xNN";

/// A message as one line of text that tells every message apart: its
/// UTF-8 text as it is (tabs too), except that each backslash is doubled,
/// newline and carriage return are `\n` and `\r`, and each other byte of
/// a control character or of invalid UTF-8 is `\xNN` (lowercase hex). So a
/// backslash in the line always starts one of those four escapes, and
/// [`decode`] (or bash's `printf '%b'`) gives the bytes back.
pub fn encode(msg: &[u8]) -> String {
    fn hex(line: &mut String, bytes: &[u8]) {
        for b in bytes {
            let _ = write!(line, "\\x{b:02x}");
        }
    }
    let mut line = String::with_capacity(msg.len());
    for chunk in msg.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => line.push_str("\\\\"),
                '\n' => line.push_str("\\n"),
                '\r' => line.push_str("\\r"),
                '\t' => line.push('\t'),
                c if c.is_control() => hex(&mut line, c.encode_utf8(&mut [0; 4]).as_bytes()),
                c => line.push(c),
            }
        }
        hex(&mut line, chunk.invalid());
    }
    line
}

/// The message that [`encode`] printed as `line`: `\\`, `\n`, `\r` and
/// `\xNN` (two hex digits, either case) become their bytes; every other
/// byte is taken as it is. Any other use of a backslash (an unknown
/// escape, `\x` without two hex digits, a backslash at the end) is an
/// error saying which escape, at which byte (counted from 1).
pub fn decode(line: &[u8]) -> Result<Vec<u8>, String> {
    let mut msg = Vec::with_capacity(line.len());
    let mut i = 0;
    while let Some(&b) = line.get(i) {
        if b != b'\\' {
            msg.push(b);
            i += 1;
            continue;
        }
        let at = i + 1;
        let (byte, len) = match line.get(i + 1) {
            Some(b'\\') => (b'\\', 2),
            Some(b'n') => (b'\n', 2),
            Some(b'r') => (b'\r', 2),
            Some(b'x') => {
                let digits = &line[i + 2..line.len().min(i + 4)];
                let value = std::str::from_utf8(digits)
                    .ok()
                    .filter(|d| d.len() == 2 && d.bytes().all(|c| c.is_ascii_hexdigit()))
                    .and_then(|d| u8::from_str_radix(d, 16).ok());
                let Some(value) = value else {
                    return Err(format!(
                        "{} at byte {at}: \\x must be followed by two hex digits",
                        shown(&line[i..i + 2 + digits.len()])
                    ));
                };
                (value, 4)
            }
            Some(_) => {
                let next = line[i + 1..].utf8_chunks().next().map(|c| c.valid());
                let escape = match next.and_then(|v| v.chars().next()) {
                    Some(c) => &line[i..i + 1 + c.len_utf8()],
                    None => &line[i..i + 2],
                };
                return Err(format!(
                    "unknown escape {} at byte {at} (--escaped knows {KNOWN}; write a backslash as \\\\)",
                    shown(escape)
                ));
            }
            None => {
                return Err(format!(
                    "a lone backslash at the end (byte {at}; --escaped knows {KNOWN}; write a backslash as \\\\)"
                ));
            }
        };
        msg.push(byte);
        i += len;
    }
    Ok(msg)
}

/// An offending escape for an error message: in quotes, printable
/// characters as they are and any other byte as `<NN>` (hex), so that
/// the quoted text is exactly what was typed.
fn shown(escape: &[u8]) -> String {
    let mut text = String::from("\"");
    for chunk in escape.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                for b in c.encode_utf8(&mut [0; 4]).bytes() {
                    let _ = write!(text, "<{b:02x}>");
                }
            } else {
                text.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(text, "<{b:02x}>");
        }
    }
    text.push('"');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_messages_are_single_lines() {
        assert_eq!(encode(b"hello world"), "hello world");
        assert_eq!(encode("héllo\tx".as_bytes()), "héllo\tx");
        assert_eq!(encode(b"a\nb\r"), "a\\nb\\r");
        assert_eq!(encode(b"\xff\x00z"), "\\xff\\x00z");
        assert_eq!(encode(b""), "");
        // A literal backslash-zero and a NUL byte print differently.
        assert_eq!(encode(b"a\\0b"), "a\\\\0b");
        assert_eq!(encode(b"a\0b"), "a\\x00b");
        assert_eq!(encode("é\u{85}\x1b".as_bytes()), "é\\xc2\\x85\\x1b");
        assert_eq!(encode("it's \"q\"".as_bytes()), "it's \"q\"");
    }

    #[test]
    fn decode_reads_each_escape() {
        assert_eq!(decode(b"hello world").unwrap(), b"hello world");
        assert_eq!(decode(br"a\\0b").unwrap(), b"a\\0b");
        assert_eq!(decode(br"a\x00b").unwrap(), b"a\0b");
        assert_eq!(decode(br"two\nlines\r").unwrap(), b"two\nlines\r");
        assert_eq!(decode(br"\xff\xFE\x7f").unwrap(), b"\xff\xfe\x7f");
        assert_eq!(decode(br"C:\\dir\\x41").unwrap(), b"C:\\dir\\x41");
        assert_eq!(decode(b"").unwrap(), b"");
        // Bytes that are not escapes are taken as they are, valid or not.
        assert_eq!(decode(b"tab\t\xff\r").unwrap(), b"tab\t\xff\r");
    }

    #[test]
    fn decode_refuses_malformed_escapes_naming_them() {
        let cases: [(&[u8], &str); 10] = [
            (
                br"\x",
                r#""\x" at byte 1: \x must be followed by two hex digits"#,
            ),
            (br"ab\x4", r#""\x4" at byte 3: \x must"#),
            (br"\x4g", r#""\x4g" at byte 1"#),
            (br"\xg0", r#""\xg0" at byte 1"#),
            (b"\\x\xff0", r#""\x<ff>0" at byte 1"#),
            (br"abc\", "a lone backslash at the end (byte 4;"),
            (br"\q", r#"unknown escape "\q" at byte 1"#),
            (br"a\t", r#"unknown escape "\t" at byte 2"#),
            ("\\é".as_bytes(), r#"unknown escape "\é" at byte 1"#),
            (b"\\\x01", r#"unknown escape "\<01>" at byte 1"#),
        ];
        for (line, says) in cases {
            let err = decode(line).expect_err(&String::from_utf8_lossy(line));
            assert!(err.contains(says), "{line:?}: {err}");
        }
        assert!(decode(br"\q").unwrap_err().contains(KNOWN));
    }

    #[test]
    fn decode_undoes_encode() {
        // Every byte alone, every pair of bytes, and random strings.
        for b in 0..=255u8 {
            assert_eq!(decode(encode(&[b]).as_bytes()).unwrap(), [b], "{b:#x}");
        }
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let m = [a, b];
                assert_eq!(decode(encode(&m).as_bytes()).unwrap(), m, "{m:?}");
            }
        }
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            // xorshift64*: reproducible, no dependency.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        // Bias towards the bytes that matter: backslash, x, hex digits,
        // newline, and the lead bytes of multi-byte UTF-8.
        let alphabet = b"\\\\\\xx0aF\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xff\x00";
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let msg: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 2 == 0 {
                        alphabet[(r >> 8) as usize % alphabet.len()]
                    } else {
                        (r >> 8) as u8
                    }
                })
                .collect();
            let line = encode(&msg);
            assert!(!line.contains('\n'), "{msg:?}");
            assert_eq!(decode(line.as_bytes()).unwrap(), msg, "{msg:?} as {line}");
        }
    }
}

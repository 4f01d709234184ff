//! `wq push --escaped` reads back exactly what `wq pop` prints: a pipe
//! from one queue to another moves every message byte for byte, and a
//! malformed escape is refused without pushing the bad input.

mod common;

use std::process::Stdio;

use common::{Shm, create, expect, expect_err, run, stat_json, wq};

/// Messages that the escaped form must carry exactly.
fn tricky_messages() -> Vec<Vec<u8>> {
    let mut messages: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    messages.push((0..=255u8).collect());
    let more: [&[u8]; 17] = [
        b"",
        b"\\",
        b"\\\\",
        b"ends with a backslash\\",
        b"C:\\dir\\x41", // backslash-x as literal text
        b"\\x4",         // an escape-like text that is not one
        b"\\n and \\r",  // backslash-n as literal text
        b"a\\0b",
        b"a\0b",
        b"two\nlines\r\n",
        b"tab\there \xc3\xa9",
        b"\xff\xfe",     // invalid UTF-8
        b"\xc3",         // a truncated sequence
        b"\xc0\x80",     // overlong NUL
        b"\xed\xa0\x80", // a surrogate
        "\u{85}\u{7f}\u{1b}[31m€😀".as_bytes(),
        b"\\\xff\\",
    ];
    messages.extend(more.iter().map(|m| m.to_vec()));
    messages
}

/// Pushes `messages` to `q` exactly, one `--file` each.
fn push_files(q: &str, messages: &[Vec<u8>]) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = wq(["push", q]);
    for (i, m) in messages.iter().enumerate() {
        let file = dir.path().join(i.to_string());
        std::fs::write(&file, m).unwrap();
        cmd.arg("--file").arg(file);
    }
    expect(&mut cmd, 0);
}

/// Pops every message of `q` (as hex lines, which cannot be ambiguous).
fn pop_all(q: &str) -> Vec<Vec<u8>> {
    let n = stat_json(q)["len"].as_u64().unwrap();
    if n == 0 {
        return Vec::new();
    }
    let out = expect(&mut wq(["pop", q, "--hex", "-n", &n.to_string()]), 0);
    out.lines()
        .map(|line| {
            (0..line.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&line[i..i + 2], 16).unwrap())
                .collect()
        })
        .collect()
}

#[test]
fn pop_piped_into_push_escaped_is_an_identity() {
    let mut shm = Shm::new();
    let (from, to) = (shm.name("escaped-from"), shm.name("escaped-to"));
    create(&from, "1MiB");
    create(&to, "1MiB");
    let messages = tricky_messages();
    push_files(&from, &messages);

    // wq pop FROM -n N | wq push TO --escaped
    let mut pop = wq(["pop", &from, "-n", &messages.len().to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pipe = pop.stdout.take().unwrap();
    let mut push = wq(["push", &to, "--escaped"]);
    push.stdin(Stdio::from(pipe));
    let (code, _, stderr) = run(&mut push);
    assert_eq!(code, 0, "{stderr}");
    assert!(pop.wait().unwrap().success());

    assert_eq!(stat_json(&from)["len"], 0);
    let got = pop_all(&to);
    assert_eq!(got.len(), messages.len());
    for (i, (got, want)) in got.iter().zip(&messages).enumerate() {
        assert_eq!(got, want, "message {i}");
    }
}

#[test]
fn popped_lines_as_arguments_push_the_same_messages() {
    let mut shm = Shm::new();
    let (from, to) = (shm.name("escargs-from"), shm.name("escargs-to"));
    create(&from, "1MiB");
    create(&to, "1MiB");
    let messages = tricky_messages();
    push_files(&from, &messages);
    let lines = expect(
        &mut wq(["pop", &from, "-n", &messages.len().to_string()]),
        0,
    );
    let mut push = wq(["push", &to, "--escaped"]);
    push.args(lines.lines());
    expect(&mut push, 0);
    assert_eq!(pop_all(&to), messages);
}

/// Malformed escapes, and what the error must quote.
const MALFORMED: [(&str, &str); 9] = [
    (
        r"\x",
        r#""\x" at byte 1: \x must be followed by two hex digits"#,
    ),
    (
        r"ab\x4",
        r#""\x4" at byte 3: \x must be followed by two hex digits"#,
    ),
    (r"\xg0", r#""\xg0" at byte 1: \x must"#),
    (r"\x4z", r#""\x4z" at byte 1: \x must"#),
    (r"abc\", "a lone backslash at the end (byte 4;"),
    (r"\", "a lone backslash at the end (byte 1;"),
    (r"\q", r#"unknown escape "\q" at byte 1"#),
    (r"tab\t", r#"unknown escape "\t" at byte 4"#),
    (r"\X41", r#"unknown escape "\X" at byte 1"#),
];

#[test]
fn a_malformed_argument_is_refused_and_nothing_is_pushed() {
    let mut shm = Shm::new();
    let q = shm.name("escbad-args");
    create(&q, "64KiB");
    for (bad, says) in MALFORMED {
        let err = expect_err(&mut wq(["push", &q, "--escaped", "good", r"\\ok", bad]), 2);
        assert!(
            err.contains(&format!("push {q}: argument 3: {says}")),
            "{bad}: {err}"
        );
        assert!(err.contains("nothing was pushed"), "{bad}: {err}");
        assert_eq!(stat_json(&q)["len"], 0, "{bad}: something was pushed");
    }
    // Without --escaped the same text is a message like any other.
    expect(&mut wq(["push", &q, r"\q"]), 0);
    assert_eq!(pop_all(&q), [b"\\q".to_vec()]);
}

#[test]
fn a_malformed_line_is_refused_after_the_lines_before_it() {
    let mut shm = Shm::new();
    let q = shm.name("escbad-lines");
    create(&q, "64KiB");
    for (bad, says) in MALFORMED {
        let input = format!("first\nsecond\\\\\n{bad}\nafter\n");
        let out = assert_cmd::Command::from_std(wq(["push", &q, "--escaped"]))
            .write_stdin(input)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        assert!(
            err.contains(&format!("push {q}: line 3: {says}")),
            "{bad}: {err}"
        );
        assert!(
            err.contains("the 2 line(s) before it were pushed, none from it on"),
            "{bad}: {err}"
        );
        // The lines before it, decoded; not the bad one, nor any after.
        assert_eq!(
            pop_all(&q),
            [b"first".to_vec(), b"second\\".to_vec()],
            "{bad}"
        );
    }
}

#[test]
fn escaped_is_documented_and_does_not_combine_with_file() {
    let help = expect(&mut wq(["push", "--help"]), 0);
    for says in ["--escaped", r"\xNN", "a bad argument pushes nothing at all"] {
        assert!(help.contains(says), "{says}: {help}");
    }
    let top = expect(&mut wq(["--help"]), 0);
    assert!(
        top.contains("--escaped decodes what `wq pop` prints"),
        "{top}"
    );
    assert!(
        top.contains("a malformed escape for push --escaped"),
        "{top}"
    );
    let pop_help = expect(&mut wq(["pop", "--help"]), 0);
    assert!(pop_help.contains("wq push --escaped"), "{pop_help}");
    expect_err(
        &mut wq(["push", "q", "--escaped", "--file", "/dev/null"]),
        2,
    );
}

//! What a person at a terminal meets: lines that tell every message apart,
//! a push that says why it waits, clear refusals of impossible numbers,
//! help that says the exit codes once, names printed the way `ls` lists
//! them, and a `/dev/shm` too small for one more queue. (Where `rm` points
//! to `--force` and where not: `tests/cli.rs`.)

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{Shm, create, expect, expect_err, path, run, running_as_root, wq};

/// util-linux `script`, which runs a command on a terminal of its own.
const SCRIPT: &str = "/usr/bin/script";

/// `sh -c` text that runs `wq` with `args`, each quoted for the shell.
fn shell_line(args: &[&str]) -> String {
    let quoted: Vec<String> = std::iter::once(common::WQ)
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    quoted.join(" ")
}

/// `script` running `command` with its standard streams on a terminal;
/// what the terminal shows comes out on the child's stdout.
fn on_a_terminal(command: &str) -> Option<Command> {
    if !std::path::Path::new(SCRIPT).exists() {
        eprintln!("skipped: util-linux `script` is not installed to provide a terminal");
        return None;
    }
    let mut cmd = Command::new(SCRIPT);
    cmd.args(["-qec", command, "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    Some(cmd)
}

#[test]
fn pop_lines_tell_a_literal_backslash_escape_from_the_byte() {
    let mut shm = Shm::new();
    let q = shm.name("escapes");
    create(&q, "4KiB");
    let dir = tempfile::tempdir().unwrap();
    let messages: [&[u8]; 6] = [
        b"a\\0b",        // typed: a, backslash, zero, b
        b"a\0b",         // a, NUL, b
        b"C:\\dir\\x41", // backslashes in text
        b"two\nlines\r",
        b"tab\there \xc3\xa9",
        b"\xff\x1b[31m",
    ];
    for (i, m) in messages.iter().enumerate() {
        let file = dir.path().join(i.to_string());
        std::fs::write(&file, m).unwrap();
        expect(
            &mut wq([
                "push".as_ref(),
                q.as_ref(),
                "--file".as_ref(),
                file.as_os_str(),
            ]),
            0,
        );
    }
    let out = expect(&mut wq(["pop", &q, "-n", "6"]), 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            r"a\\0b",
            r"a\x00b",
            r"C:\\dir\\x41",
            r"two\nlines\r",
            "tab\there é",
            r"\xff\x1b[31m",
        ]
    );
    // Every line decodes back to its message's exact bytes.
    for (line, message) in lines.iter().zip(messages) {
        let decoded = Command::new("bash")
            .args(["-c", r#"printf '%b' "$1""#, "decode", line])
            .output()
            .unwrap();
        assert_eq!(decoded.stdout, message, "{line}");
    }
}

#[test]
fn push_to_a_full_queue_says_on_a_terminal_that_it_waits() {
    let mut shm = Shm::new();
    let q = shm.name("full");
    create(&q, "64"); // four records of up to 8 bytes
    expect(&mut wq(["push", &q, "1", "2", "3", "4"]), 0);

    // Off a terminal: no notice, only the timeout's error.
    let err = expect_err(&mut wq(["push", &q, "--timeout", "300ms", "x"]), 1);
    assert!(!err.contains("waiting"), "{err}");
    assert!(err.contains("stayed full for 300ms"), "{err}");

    // On a terminal: the notice, then the same timeout.
    let Some(mut cmd) = on_a_terminal(&shell_line(&["push", &q, "--timeout", "300ms", "x"])) else {
        return;
    };
    let (code, shown, _) = run(&mut cmd);
    let shown = String::from_utf8_lossy(&shown);
    assert_eq!(code, 1, "{shown}");
    assert!(
        shown.contains(&format!(
            "push {q}: the queue is full (4 message(s), 64 B of 64 B); waiting for room, up to 300ms per message"
        )),
        "{shown}"
    );
    assert!(
        shown.contains("0 message(s) were pushed before it"),
        "{shown}"
    );

    // Waiting for ever (`seq 1 3 | wq push`): the notice says how to stop,
    // and the push completes once a consumer makes room.
    let line = format!("seq 1 3 | {}", shell_line(&["push", &q]));
    let mut waiting = on_a_terminal(&line).unwrap().spawn().unwrap();
    let (tx, rx) = mpsc::channel();
    let out = waiting.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let notice = rx.recv_timeout(Duration::from_secs(20)).expect("a notice");
    assert!(
        notice.contains("the queue is full")
            && notice.contains("waiting until a consumer makes room (Ctrl-C stops"),
        "{notice}"
    );
    assert_eq!(expect(&mut wq(["pop", &q, "-n", "4"]), 0), "1\n2\n3\n4\n");
    assert_eq!(waiting.wait().unwrap().code(), Some(0));
    reader.join().unwrap();
    assert_eq!(expect(&mut wq(["pop", &q, "-n", "4"]), 0), "1\n2\n3\n");
}

#[test]
fn push_from_a_terminal_says_how_to_end() {
    let mut shm = Shm::new();
    let q = shm.name("typed");
    create(&q, "4KiB");
    let Some(mut cmd) = on_a_terminal(&shell_line(&["push", &q])) else {
        return;
    };
    // The lines as typed, then Ctrl-D.
    let mut child = cmd.stdin(Stdio::piped()).spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"first\nsecond\n\x04")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains(&format!(
            "push {q}: pushing each line typed here as a message; Ctrl-D ends"
        )),
        "{shown}"
    );
    assert_eq!(
        expect(&mut wq(["pop", &q, "-n", "3"]), 0),
        "first\nsecond\n"
    );
}

#[test]
fn watch_interval_has_a_floor() {
    let mut shm = Shm::new();
    let q = shm.name("interval");
    create(&q, "4KiB");
    for short in ["0", "0s", "9ms"] {
        // --count: were the interval taken, the test would not spin for ever.
        let args = ["stat", &q, "--watch", "--interval", short, "--count", "3"];
        let err = expect_err(&mut wq(args), 2);
        assert!(
            err.contains(&format!(
                "an interval of \"{short}\" is too short: it must be at least 10ms"
            )),
            "{err}"
        );
    }
    let out = expect(
        &mut wq(["stat", &q, "--watch", "--interval", "10ms", "--count", "3"]),
        0,
    );
    assert_eq!(out.lines().count(), 4, "a header and three samples: {out}");
}

#[test]
fn negative_numbers_are_refused_as_negative() {
    let mut shm = Shm::new();
    let q = shm.name("negative");
    let cases: [(&[&str], &str); 5] = [
        (
            &["create", &q, "--capacity", "-5"],
            "a size cannot be negative (got \"-5\")",
        ),
        (
            &["create", &q, "--max-message-size", "-1KiB"],
            "a size cannot be negative",
        ),
        (
            &["push", &q, "--timeout", "-1s", "x"],
            "a duration cannot be negative",
        ),
        (
            &["pop", &q, "-n", "-5"],
            "\"-5\" is not a count (a whole number of at least 1)",
        ),
        (
            &["pop", &q, "--lease", "-30s"],
            "a duration cannot be negative",
        ),
    ];
    for (args, says) in cases {
        let err = expect_err(&mut wq(args), 2);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("tip:"), "{args:?}: {err}");
    }
    assert!(!path(&q).exists(), "nothing was created");
}

#[test]
fn exit_codes_are_listed_once_in_the_top_level_help() {
    let table_line = "13  reading input or writing output failed";
    let top = expect(&mut wq(["--help"]), 0);
    assert_eq!(top.matches(table_line).count(), 1, "{top}");
    for sub in ["ls", "stat", "create", "push", "pop", "rm"] {
        let help = expect(&mut wq([sub, "--help"]), 0);
        assert!(!help.contains(table_line), "{sub}: {help}");
        assert!(help.contains("`wq --help` explains each"), "{sub}: {help}");
        let short = expect(&mut wq([sub, "-h"]), 0);
        assert!(short.lines().count() < 30, "{sub} -h: {short}");
    }
}

#[test]
fn names_print_without_a_slash_however_they_were_typed() {
    let mut shm = Shm::new();
    let q = shm.name("slash");
    let slashed = format!("/{q}");
    expect(&mut wq(["create", &slashed, "--capacity", "4KiB"]), 0);
    let stat = expect(&mut wq(["stat", &slashed]), 0);
    assert!(
        stat.starts_with(&format!("name:             {q}\n")),
        "{stat}"
    );
    let json = expect(&mut wq(["stat", &slashed, "--json"]), 0);
    assert!(json.contains(&format!("\"name\":\"{q}\"")), "{json}");
    let err = expect_err(&mut wq(["create", &slashed]), 5);
    assert_eq!(
        err,
        format!("wq: create {q}: a queue named \"{q}\" already exists\n")
    );
    expect(&mut wq(["rm", &slashed]), 0);
    for args in [["stat", &q], ["stat", &slashed], ["rm", &slashed]] {
        let err = expect_err(&mut wq(args), 4);
        assert_eq!(
            err,
            format!("wq: {} {q}: no queue named \"{q}\"\n", args[0]),
            "{args:?}"
        );
    }
    let err = expect_err(&mut wq(["push", &slashed, "x"]), 4);
    assert!(!err.contains('/'), "{err}");
}

#[test]
fn a_full_dev_shm_says_what_the_queue_needs_and_what_is_free() {
    // A private mount namespace with a 40 MiB /dev/shm: one default queue
    // (32 MiB of messages) fits, a second does not.
    let script = r#"mount -t tmpfs -o size=40m,mode=1777 tmpfs /dev/shm || exit 99
"$0" create first >/dev/null || exit 98
"$0" create second
echo "exit=$?"
ls /dev/shm"#;
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        common::WQ,
    ])
    .stdin(Stdio::null());
    if !running_as_root() {
        eprintln!("skipped: mounting a tmpfs on /dev/shm needs root");
        return;
    }
    let (code, out, err) = run(&mut cmd);
    if code == 99 || (code != 0 && err.contains("unshare")) {
        eprintln!("skipped: no private mount namespace here: {err}");
        return;
    }
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out, "exit=11\nfirst\n",
        "the failed creation left nothing: {err}"
    );
    for part in [
        "wq: create second: no space left in /dev/shm: the queue needs 32.2 MiB (",
        "and /dev/shm has 7.8 MiB (",
        "free of 40.0 MiB",
        "(Docker: --shm-size)",
    ] {
        assert!(err.contains(part), "{part:?} not in {err}");
    }
}

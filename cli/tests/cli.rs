//! The `wq` binary, run as a process against real queues in /dev/shm.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use assert_cmd::prelude::*;
use predicates::prelude::*;

use common::{
    Shm, as_nobody, create, expect, expect_err, ls_entry, path, poke, run, running_as_root,
    stat_json, wq,
};

#[test]
fn create_push_pop_stat_rm_round_trip() {
    let mut shm = Shm::new();
    let q = shm.name("roundtrip");
    let out = expect(
        &mut wq(["create", &q, "--capacity", "64KiB", "--mode", "0640"]),
        0,
    );
    assert!(
        out.starts_with(&format!("created /dev/shm/{q}: capacity 64.0 KiB")),
        "{out}"
    );
    let mode = std::fs::metadata(path(&q)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);

    let s = stat_json(&q);
    assert_eq!(s["state"], "ok");
    assert_eq!(s["capacity"], 65536);
    assert_eq!(s["len"], 0);
    assert_eq!(s["mode"], "0640");
    assert_eq!(s["owner"], "root");

    expect(&mut wq(["push", &q, "first", "second message"]), 0);
    let s = stat_json(&q);
    assert_eq!(s["len"], 2);
    assert_eq!(s["pushed_total"], 2);
    assert_eq!(s["bytes_used"], 16 + 24);

    let text = expect(&mut wq(["stat", &q]), 0);
    assert!(text.contains("messages:         2"), "{text}");

    // A leading slash names the same queue.
    let out = expect(&mut wq(["pop", &format!("/{q}"), "-n", "5"]), 0);
    assert_eq!(out, "first\nsecond message\n");
    assert_eq!(stat_json(&q)["popped_total"], 2);

    wq(["pop", &q])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("the queue is empty"));

    expect(&mut wq(["rm", &q]), 0);
    assert!(!path(&q).exists());
    let err = expect_err(&mut wq(["stat", &q]), 4);
    assert!(err.contains("no queue named"), "{err}");
    expect_err(&mut wq(["rm", &q]), 4);
}

#[test]
fn push_reads_lines_from_stdin() {
    let mut shm = Shm::new();
    let q = shm.name("stdin");
    create(&q, "1MiB");
    assert_cmd::Command::from_std(wq(["push", &q]))
        .write_stdin("one\ntwo words\n\nlast without newline")
        .assert()
        .success();
    assert_eq!(stat_json(&q)["len"], 4);
    let out = expect(&mut wq(["pop", &q, "-n", "10"]), 0);
    assert_eq!(out, "one\ntwo words\n\nlast without newline\n");

    // Many lines go in batches, in order.
    let input: String = (0..5000).map(|i| format!("line {i}\n")).collect();
    assert_cmd::Command::from_std(wq(["push", &q]))
        .write_stdin(input.clone())
        .assert()
        .success();
    let out = expect(&mut wq(["pop", &q, "-n", "5000"]), 0);
    assert_eq!(out, input);
}

#[test]
fn binary_file_push_with_raw_and_hex_pop() {
    let mut shm = Shm::new();
    let q = shm.name("binary");
    create(&q, "64KiB");
    let bytes: Vec<u8> = (0..=255u8).chain([b'\n', 0, 0xff]).collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("msg.bin");
    std::fs::write(&file, &bytes).unwrap();
    let file = file.to_str().unwrap();

    expect(&mut wq(["push", &q, "--file", file, "--file", file]), 0);
    let (code, stdout, _) = run(&mut wq(["pop", &q, "--raw"]));
    assert_eq!(code, 0);
    assert_eq!(stdout, bytes);
    let hex = expect(&mut wq(["pop", &q, "--hex"]), 0);
    let expected: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, expected + "\n");

    // Without --raw/--hex, a binary message is one escaped line.
    expect(&mut wq(["push", &q, "--file", file]), 0);
    let text = expect(&mut wq(["pop", &q]), 0);
    assert_eq!(text.lines().count(), 1);
    assert!(text.starts_with("\\x00\\x01"), "{text}");

    let err = expect_err(&mut wq(["push", &q, "--file", "/nonexistent/x"]), 13);
    assert!(err.contains("/nonexistent/x"), "{err}");
}

#[test]
fn pop_n_takes_at_most_n_and_timeouts_exit_1() {
    let mut shm = Shm::new();
    let q = shm.name("timeouts");
    create(&q, "4KiB");
    expect(&mut wq(["push", &q, "a", "b", "c"]), 0);
    assert_eq!(expect(&mut wq(["pop", &q, "-n", "2"]), 0), "a\nb\n");
    // Fewer queued than asked: prints what there is, still success.
    assert_eq!(expect(&mut wq(["pop", &q, "-n", "2"]), 0), "c\n");

    let start = Instant::now();
    let err = expect_err(&mut wq(["pop", &q, "--timeout", "300ms"]), 1);
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert!(err.contains("empty") && err.contains("300ms"), "{err}");

    // A message arriving while pop waits is taken.
    let waiter = wq(["pop", &q, "--timeout", "10s"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    expect(&mut wq(["push", &q, "late"]), 0);
    let out = waiter.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"late\n");

    // A full queue: push times out with exit code 1 and says how far it got.
    let tiny = shm.name("tiny");
    create(&tiny, "16"); // one record of up to 8 bytes
    expect(&mut wq(["push", &tiny, "12345678"]), 0);
    let start = Instant::now();
    let err = expect_err(&mut wq(["push", &tiny, "x", "--timeout", "200ms"]), 1);
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert!(err.contains("full") && err.contains("message 1"), "{err}");
}

#[test]
fn exit_codes_name_the_cause() {
    let mut shm = Shm::new();
    let q = shm.name("codes");
    // 2: usage errors, caught by argument parsing.
    expect_err(&mut wq::<[&str; 0], &str>([]), 2);
    expect_err(&mut wq(["pop", &q, "--bogus"]), 2);
    let err = expect_err(&mut wq(["create", &q, "--capacity", "12XB"]), 2);
    assert!(err.contains("unknown size unit"), "{err}");
    expect_err(&mut wq(["pop", &q, "--timeout", "soon"]), 2);
    expect_err(&mut wq(["pop", &q, "-n", "0"]), 2);
    expect_err(&mut wq(["pop", &q, "--hex", "--raw"]), 2);
    expect_err(&mut wq(["rm"]), 2);
    expect_err(&mut wq(["create", &q, "--mode", "0800"]), 2);
    // 3: invalid argument.
    let err = expect_err(&mut wq(["create", "bad/name"]), 3);
    assert!(err.contains("invalid argument"), "{err}");
    expect_err(&mut wq(["create", &q, "--capacity", "8"]), 3);
    // 4: not found.
    let err = expect_err(&mut wq(["pop", &q]), 4);
    assert!(err.contains("no queue named"), "{err}");
    expect_err(&mut wq(["push", &q, "x"]), 4);
    // 5: exists.
    create(&q, "4KiB");
    let err = expect_err(&mut wq(["create", &q]), 5);
    assert!(err.contains("already exists"), "{err}");
    // 6: message too large.
    let big = shm.name("big");
    expect(
        &mut wq([
            "create",
            &big,
            "--capacity",
            "4KiB",
            "--max-message-size",
            "4",
        ]),
        0,
    );
    let err = expect_err(&mut wq(["push", &big, "ok", "too long"]), 6);
    assert!(
        err.contains("message 2") && err.contains("1 message(s) were pushed"),
        "{err}"
    );
    assert_eq!(stat_json(&big)["len"], 1);
    // The help documents them all.
    let help = expect(&mut wq(["--help"]), 0);
    for line in [
        "0  success",
        "1  nothing happened in time",
        "2  usage",
        "13  reading input",
    ] {
        assert!(help.contains(line), "{help}");
    }
}

#[test]
fn foreign_segments_are_listed_and_protected() {
    let mut shm = Shm::new();
    let junk = shm.foreign("junk", &[0xab; 8192]);
    let empty = shm.foreign("empty", b"");
    let q = shm.name("healthy");
    create(&q, "4KiB");
    expect(&mut wq(["push", &q, "m"]), 0);

    let e = ls_entry(&mut wq(["ls", "--json"]), &junk).expect("junk listed");
    assert_eq!(e["state"], "foreign");
    assert!(e["reason"].as_str().unwrap().contains("not a wq queue"));
    assert_eq!(e["len"], serde_json::Value::Null);
    assert_eq!(e["mode"], "0644");
    let e = ls_entry(&mut wq(["ls", "--json"]), &empty).expect("empty listed");
    assert_eq!(e["state"], "foreign");
    let e = ls_entry(&mut wq(["ls", "--json"]), &q).expect("queue listed");
    assert_eq!(e["state"], "ok");
    assert_eq!(e["len"], 1);
    assert_eq!(e["capacity"], 4096);

    let table = expect(&mut wq(["ls"]), 0);
    let row = table.lines().find(|l| l.starts_with(&junk)).unwrap();
    assert!(row.contains("foreign"), "{row}");
    let row = table.lines().find(|l| l.starts_with(&q)).unwrap();
    assert!(row.contains(" ok "), "{row}");

    let err = expect_err(&mut wq(["stat", &junk]), 8);
    assert!(err.contains("not a wq queue"), "{err}");
    expect_err(&mut wq(["pop", &junk]), 8);
    expect_err(&mut wq(["push", &junk, "x"]), 8);

    // --stale never touches foreign files; plain rm needs --force.
    let pattern = format!("wq-cli-test-{}-*", std::process::id());
    expect(&mut wq(["rm", "--stale", "--yes", "--match", &pattern]), 0);
    assert!(path(&junk).exists() && path(&empty).exists());
    let err = expect_err(&mut wq(["rm", &junk]), 8);
    assert!(err.contains("(pass --force to remove it anyway)"), "{err}");
    assert!(path(&junk).exists());
    expect(&mut wq(["rm", "--force", &junk, &empty]), 0);
    assert!(!path(&junk).exists() && !path(&empty).exists());
    assert!(path(&q).exists());
}

#[test]
fn rm_stale_removes_corrupt_and_incomplete_queues_only() {
    let mut shm = Shm::new();
    let corrupt = shm.name("stale-corrupt");
    let incomplete = shm.name("stale-incomplete");
    let healthy = shm.name("stale-healthy");
    let foreign = shm.foreign("stale-foreign", &[0x5a; 4096]);
    for q in [&corrupt, &incomplete, &healthy] {
        create(q, "4KiB");
    }
    // Test-only knowledge of the layout-2 header: capacity at byte 32
    // (covered by a checksum), the `state` word at byte 28.
    poke(&corrupt, 32, &[0x01]);
    poke(&incomplete, 28, &[0, 0, 0, 0]);

    let e = ls_entry(&mut wq(["ls", "--json"]), &corrupt).unwrap();
    assert_eq!(e["state"], "corrupt");
    let e = ls_entry(&mut wq(["ls", "--json"]), &incomplete).unwrap();
    assert_eq!(e["state"], "incomplete");
    let err = expect_err(&mut wq(["stat", &corrupt]), 9);
    assert!(err.contains("corrupted"), "{err}");

    let pattern = format!("wq-cli-test-{}-*-stale-*", std::process::id());
    // Without a terminal and without --yes: lists, refuses, removes nothing.
    let err = expect_err(&mut wq(["rm", "--stale", "--match", &pattern]), 2);
    assert!(
        err.contains(&corrupt) && err.contains(&incomplete) && err.contains("--yes"),
        "{err}"
    );
    assert!(!err.contains(&healthy) && !err.contains(&foreign), "{err}");
    assert!(path(&corrupt).exists() && path(&incomplete).exists());
    let dry = expect(
        &mut wq(["rm", "--stale", "--dry-run", "--match", &pattern]),
        0,
    );
    assert_eq!(dry.lines().count(), 2, "{dry}");
    assert!(path(&corrupt).exists());

    let out = expect(&mut wq(["rm", "--stale", "--yes", "--match", &pattern]), 0);
    assert!(
        out.contains(&format!("removed {corrupt} (corrupt")),
        "{out}"
    );
    assert!(
        out.contains(&format!("removed {incomplete} (incomplete")),
        "{out}"
    );
    assert!(!path(&corrupt).exists() && !path(&incomplete).exists());
    assert!(path(&healthy).exists() && path(&foreign).exists());

    // Nothing left to do is a success.
    wq(["rm", "--stale", "--yes", "--match", &pattern])
        .assert()
        .success()
        .stderr(predicate::str::contains("no stale queues"));
}

#[test]
fn stat_watch_reports_rates() {
    let mut shm = Shm::new();
    let q = shm.name("watch");
    create(&q, "64KiB");
    let out = expect(
        &mut wq([
            "stat",
            &q,
            "--watch",
            "--interval",
            "100ms",
            "--count",
            "3",
            "--json",
        ]),
        0,
    );
    let samples: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(samples.len(), 3);
    assert!(samples[0]["in_per_s"].is_null());
    assert_eq!(samples[1]["in_per_s"], 0.0);
    assert_eq!(samples[2]["out_per_s"], 0.0);
    assert_eq!(samples[2]["name"], q.as_str());

    // Messages pushed during the watch show up as a rate.
    let watcher = wq(["stat", &q, "-w", "--interval", "400ms", "--count", "2"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let msgs: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    expect(wq(["push", &q]).args(&msgs), 0);
    let out = watcher.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].contains("IN/s") && lines[0].contains("OUT/s"),
        "{text}"
    );
    let fields: Vec<&str> = lines[2].split_whitespace().collect();
    let in_rate: f64 = fields[fields.len() - 3].parse().unwrap();
    assert!(in_rate > 10.0, "{text}");

    // A queue removed while watched ends the watch with "not found".
    let gone = shm.name("watch-gone");
    create(&gone, "4KiB");
    let watcher = wq(["stat", &gone, "-w", "--interval", "100ms"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(250));
    expect(&mut wq(["rm", &gone]), 0);
    let out = watcher.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn permission_denied_names_the_owner() {
    // Only root can switch users.
    if !running_as_root() {
        eprintln!("skipped: not running as root, so cannot run wq as another user");
        return;
    }
    // Copy the binary where user nobody can execute it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("wq");
    std::fs::copy(common::WQ, &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let Some(mut probe) = as_nobody(&bin) else {
        eprintln!("skipped: neither setpriv nor runuser exists to run wq as nobody");
        return;
    };
    let mut shm = Shm::new();
    let q = shm.name("private");
    create(&q, "4KiB");
    expect(&mut wq(["push", &q, "secret"]), 0);

    if run(probe.arg("--version")).0 != 0 {
        eprintln!("skipped: cannot run a program as nobody here");
        return;
    }
    for args in [vec!["stat", &q], vec!["pop", &q], vec!["push", &q, "x"]] {
        let err = expect_err(as_nobody(&bin).unwrap().args(&args), 10);
        assert!(err.contains("permission denied"), "{err}");
        assert!(err.contains("owned by root, mode 0600"), "{err}");
    }
    let e = ls_entry(as_nobody(&bin).unwrap().args(["ls", "--json"]), &q).unwrap();
    assert_eq!(e["state"], "no access");
    assert_eq!(e["owner"], "root");
    // rm refuses what it cannot check; the sticky /dev/shm refuses --force,
    // so rm does not suggest it.
    let err = expect_err(as_nobody(&bin).unwrap().args(["rm", &q]), 10);
    assert!(
        err.contains("--force would not help: only root may remove it from /dev/shm"),
        "{err}"
    );
    assert!(!err.contains("pass --force"), "{err}");
    expect_err(as_nobody(&bin).unwrap().args(["rm", "--force", &q]), 10);
    assert!(path(&q).exists());
    // The message is still there for its owner.
    assert_eq!(expect(&mut wq(["pop", &q]), 0), "secret\n");
}

#[test]
fn read_only_commands_show_another_users_queue_and_the_others_refuse_it() {
    // Only root can give a file away.
    if !running_as_root() {
        eprintln!("skipped: not running as root, so cannot chown a queue");
        return;
    }
    let mut shm = Shm::new();
    let q = shm.name("planted");
    create(&q, "4KiB");
    expect(&mut wq(["push", &q, "planted task"]), 0);
    // As if uid 12345 had created the name first.
    std::os::unix::fs::chown(path(&q), Some(12345), Some(12345)).unwrap();
    let out = expect(&mut wq(["stat", &q]), 0);
    assert!(out.contains("messages"), "{out}");
    let e = ls_entry(&mut wq(["ls", "--json"]), &q).unwrap();
    assert_eq!(e["state"], "ok");
    assert_eq!(e["len"], 1);
    for args in [vec!["pop", &q], vec!["push", &q, "x"]] {
        let err = expect_err(&mut wq(&args), 10);
        assert!(err.contains("uid 12345"), "{err}");
    }
    // Nothing was taken or added.
    std::os::unix::fs::chown(path(&q), Some(0), Some(0)).unwrap();
    assert_eq!(expect(&mut wq(["pop", &q]), 0), "planted task\n");
}

#[test]
fn pop_follow_prints_messages_as_they_come() {
    use std::io::BufRead;
    let mut shm = Shm::new();
    for lease in [&[][..], &["--lease", "10s"]] {
        let q = shm.name("follow");
        create(&q, "64KiB");
        expect(&mut wq(["push", &q, "already queued"]), 0);
        let mut follower = wq(["pop", &q, "--follow"])
            .args(lease)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(follower.stdout.take().unwrap()).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "already queued");
        for i in 0..5 {
            std::thread::sleep(Duration::from_millis(20));
            expect(&mut wq(["push", &q, &format!("later {i}")]), 0);
            assert_eq!(lines.next().unwrap().unwrap(), format!("later {i}"));
        }
        if lease.is_empty() {
            let _ = follower.kill();
            let _ = follower.wait();
        } else {
            // Standard output closes: the next message cannot be written,
            // so it is given back and the follower ends with exit code 13.
            drop(lines);
            expect(&mut wq(["push", &q, "unread"]), 0);
            let out = follower.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(13), "{err}");
            assert!(
                err.contains("message 7") && err.contains("given back"),
                "{err}"
            );
            let s = stat_json(&q);
            assert_eq!(
                (s["acked_total"].as_u64(), s["nacked_total"].as_u64()),
                (Some(6), Some(1))
            );
            assert_eq!(expect(&mut wq(["pop", &q]), 0), "unread\n");
        }
        assert_eq!(stat_json(&q)["len"], 0, "everything printed was taken");
    }
    // --follow takes neither -n nor --timeout.
    expect_err(&mut wq(["pop", "q", "--follow", "-n", "2"]), 2);
}

#[test]
fn pop_lease_acks_what_was_written_and_gives_back_the_rest() {
    let mut shm = Shm::new();
    let q = shm.name("lease");
    create(&q, "4KiB");
    expect(&mut wq(["push", &q, "one", "two", "three"]), 0);
    assert_eq!(expect(&mut wq(["pop", &q, "--lease", "10s"]), 0), "one\n");
    let s = stat_json(&q);
    assert_eq!(
        (s["len"].as_u64(), s["acked_total"].as_u64()),
        (Some(2), Some(1))
    );

    // Writing fails (a full device; a pipe whose reader is gone): the
    // message is given back, not lost.
    let full = std::fs::File::create("/dev/full").unwrap();
    let err = expect_err(wq(["pop", &q, "--lease", "10s"]).stdout(full), 13);
    assert!(err.contains("given back"), "{err}");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let err = expect_err(wq(["pop", &q, "--lease", "10s"]).stdout(writer), 13);
    assert!(err.contains("Broken pipe"), "{err}");
    let s = stat_json(&q);
    assert_eq!(
        (s["len"].as_u64(), s["leased"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(s["nacked_total"], 2);

    // -n: each message is leased, written and acked in turn, in order.
    let out = expect(&mut wq(["pop", &q, "--lease", "forever", "-n", "5"]), 0);
    assert_eq!(out, "two\nthree\n");
    let s = stat_json(&q);
    assert_eq!(
        (s["len"].as_u64(), s["acked_total"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(s["redelivered_total"], 2);
    expect_err(&mut wq(["pop", &q, "--lease", "0"]), 2);
}

#[test]
fn stat_and_ls_show_the_lease_counters() {
    let mut shm = Shm::new();
    let q = shm.name("leases");
    create(&q, "4KiB");
    expect(&mut wq(["push", &q, "job"]), 0);
    let held = wq::Queue::open(&q, &wq::Options::default()).unwrap();
    let job = held.pop_leased(None, None).unwrap();
    let s = stat_json(&q);
    assert_eq!(
        (s["len"].as_u64(), s["leased"].as_u64()),
        (Some(1), Some(1))
    );
    let out = expect(&mut wq(["stat", &q]), 0);
    assert!(out.contains("leased now:       1\n"), "{out}");
    job.nack().unwrap();
    assert_eq!(expect(&mut wq(["pop", &q, "--lease", "1m"]), 0), "job\n");
    drop(held);

    let e = ls_entry(&mut wq(["ls", "--json"]), &q).unwrap();
    for (field, value) in [
        ("leased", 0),
        ("acked_total", 1),
        ("nacked_total", 1),
        ("expired_total", 0),
        ("abandoned_total", 0),
        ("redelivered_total", 1),
    ] {
        assert_eq!(e[field], value, "{field}: {e}");
    }
    let out = expect(&mut wq(["stat", &q]), 0);
    for line in [
        "acked total:      1",
        "nacked total:     1",
        "redelivered:      1",
    ] {
        assert!(out.contains(line), "{out}");
    }
    // Right-aligned columns: each cell ends where its title does.
    let table = expect(&mut wq(["ls"]), 0);
    let header = table.lines().next().unwrap();
    let row = table.lines().find(|l| l.starts_with(&q)).unwrap();
    for (title, cell) in [("LEASED", "0"), ("REDELIVERED", "1")] {
        let end = header.find(&format!(" {title} ")).unwrap() + 1 + title.len();
        assert_eq!(&row[end - 1..end], cell, "{title}:\n{header}\n{row}");
    }
}

#[test]
fn stat_and_ls_show_the_other_attached_handles() {
    let mut shm = Shm::new();
    let q = shm.name("handles");
    create(&q, "4KiB");
    let out = expect(&mut wq(["stat", &q]), 0);
    assert!(out.contains("other handles:    0"), "{out}");
    let held = wq::Queue::open(&q, &wq::Options::default()).unwrap();
    let out = expect(&mut wq(["stat", &q]), 0);
    let me = std::process::id();
    assert!(
        out.contains(&format!("other handles:    1 (pids {me})")),
        "{out}"
    );
    let e = ls_entry(&mut wq(["ls", "--json"]), &q).unwrap();
    assert_eq!(e["handles"], serde_json::json!([me]));
    drop(held);
    let e = ls_entry(&mut wq(["ls", "--json"]), &q).unwrap();
    assert_eq!(e["handles"], serde_json::json!([]));
}

#[test]
fn rm_stale_asks_on_a_terminal() {
    if !std::path::Path::new("/usr/bin/script").exists() {
        eprintln!("skipped: util-linux `script` is not installed to provide a terminal");
        return;
    }
    let mut shm = Shm::new();
    let mut names = [shm.name("tty-a"), shm.name("tty-b")];
    for q in &names {
        create(q, "4KiB");
        poke(q, 32, &[0x01]);
    }
    // Questions come in name order: answer no to the first, yes to the second.
    names.sort();
    let [keep, drop] = names;
    let pattern = format!("wq-cli-test-{}-*-tty-?", std::process::id());
    let command = format!("{} rm --stale --match '{pattern}'", common::WQ);
    let out = std::process::Command::new("/usr/bin/script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"n\ny\n")?;
            child.wait_with_output()
        })
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(&format!("remove {keep} (corrupt")), "{text}");
    assert!(text.contains("[y/N]"), "{text}");
    assert!(path(&keep).exists(), "{text}");
    assert!(!path(&drop).exists(), "{text}");
}

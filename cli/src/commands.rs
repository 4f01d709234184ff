//! The commands that look at queues as a whole: `ls`, `stat`, `create`, `rm`.

use std::io::{self, BufRead, IsTerminal, Write};
use std::thread;
use std::time::Instant;

use wq::{OpenMode, Options, Queue};

use crate::failure::{self, Failure, Outcome};
use crate::inspect::{self, Entry, State, Users};
use crate::output::{self, EntryJson, SampleJson};
use crate::units::{format_mode, format_size, glob_match};
use crate::{CreateArgs, LsArgs, RmArgs, StatArgs};

/// Maps an output error to a failure.
fn stdout_failure(error: io::Error) -> Failure {
    Failure::io("writing to standard output", error)
}

/// The failure that a non-`ok` state means for a command on that queue.
pub fn state_failure(context: &str, entry: &Entry) -> Option<Failure> {
    let reason = entry.state.reason()?;
    let (code, what) = match &entry.state {
        State::Ok(_) => return None,
        State::Corrupt(_) => (9, "the queue is corrupted"),
        State::Incomplete(_) => (failure::INCOMPATIBLE, "the queue was never fully created"),
        State::Foreign(_) => (failure::INCOMPATIBLE, "not a wq queue"),
        State::NoAccess(_) => (failure::PERMISSION_DENIED, "permission denied"),
        State::Failed(_) => (11, "cannot examine it"),
    };
    let owner = match entry.state {
        State::NoAccess(_) => format!(
            " (the queue is owned by {}, mode {})",
            entry.owner,
            format_mode(entry.mode)
        ),
        _ => String::new(),
    };
    Some(Failure::Other {
        code,
        message: format!("{context}: {what}: {reason}{owner}"),
    })
}

/// A failure of an operation on queue `name`: the library's text with the
/// queue named as the user writes it, plus who owns the queue when the
/// system refused access, which is what the operator needs next (when the
/// library refused another user's queue, its text names the owner).
pub fn queue_failure(context: String, name: &str, error: wq::Error) -> Failure {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mut message = format!("{context}: {}", inspect::unslash(&error.to_string(), name));
    let meta = std::fs::metadata(inspect::path_of(name));
    let me = inspect::euid();
    if let (wq::Error::PermissionDenied(_), Ok(meta)) = (&error, meta)
        && (meta.uid() == me || meta.uid() == 0)
    {
        message.push_str(&format!(
            " (the queue is owned by {}, mode {})",
            Users::load().name(meta.uid()),
            format_mode(meta.permissions().mode())
        ));
    }
    Failure::Other {
        code: failure::code_of(&error),
        message,
    }
}

/// `wq ls`: every regular file in `/dev/shm` and what it is.
pub fn ls(args: &LsArgs) -> Outcome {
    let entries = inspect::scan(&Users::load())
        .map_err(|e| Failure::io(format!("listing {}", inspect::SHM_DIR), e))?;
    let mut out = io::stdout().lock();
    if args.json {
        #[derive(serde::Serialize)]
        struct Listing<'a> {
            segments: Vec<EntryJson<'a>>,
        }
        let listing = Listing {
            segments: entries.iter().map(EntryJson::new).collect(),
        };
        output::write_json(&mut out, &listing)
    } else {
        output::write_ls(&mut out, &entries)
    }
    .and_then(|()| out.flush())
    .map_err(stdout_failure)?;
    Ok(failure::OK)
}

/// `wq stat`: one queue's statistics, once or (`--watch`) repeatedly.
pub fn stat(args: &StatArgs) -> Outcome {
    let users = Users::load();
    let context = format!("stat {}", args.name);
    let probe = |users: &Users| {
        inspect::probe(&args.name, users).map_err(|e| queue_failure(context.clone(), &args.name, e))
    };
    let entry = probe(&users)?;
    let mut out = io::stdout().lock();
    if !args.watch {
        if args.json {
            output::write_json(&mut out, &EntryJson::new(&entry))
        } else {
            output::write_stat(&mut out, &entry)
        }
        .and_then(|()| out.flush())
        .map_err(stdout_failure)?;
        return state_failure(&context, &entry).map_or(Ok(failure::OK), Err);
    }
    watch(args, &users, entry, probe, &mut out)
}

/// `stat --watch`: a sample per interval with message rates.
fn watch(
    args: &StatArgs,
    users: &Users,
    mut entry: Entry,
    probe: impl Fn(&Users) -> Result<Entry, Failure>,
    out: &mut impl Write,
) -> Outcome {
    let context = format!("stat {}", args.name);
    let start = Instant::now();
    let mut previous: Option<(Instant, u64, u64)> = None;
    if !args.json {
        writeln!(
            out,
            "{:>9}  {:>10}  {:>10}  {:>12}  {:>12}  {:>10}  {:>10}  {:>6}",
            "ELAPSED", "MSGS", "USED", "PUSHED", "POPPED", "IN/s", "OUT/s", "RECOV"
        )
        .map_err(stdout_failure)?;
    }
    let mut samples = 0u64;
    loop {
        let State::Ok(stats) = entry.state else {
            return Err(
                state_failure(&context, &entry).unwrap_or_else(|| Failure::Other {
                    code: 12,
                    message: format!("{context}: unexpected state"),
                }),
            );
        };
        let now = Instant::now();
        let rates = previous.map(|(at, pushed, popped)| {
            let secs = now.duration_since(at).as_secs_f64().max(1e-9);
            (
                stats.pushed_total.wrapping_sub(pushed) as f64 / secs,
                stats.popped_total.wrapping_sub(popped) as f64 / secs,
            )
        });
        let elapsed = now.duration_since(start).as_secs_f64();
        if args.json {
            let sample = SampleJson {
                elapsed_s: (elapsed * 1000.0).round() / 1000.0,
                in_per_s: rates.map(|r| (r.0 * 10.0).round() / 10.0),
                out_per_s: rates.map(|r| (r.1 * 10.0).round() / 10.0),
                entry: EntryJson::new(&entry),
            };
            output::write_json(out, &sample)
        } else {
            let rate = |r: Option<f64>| r.map_or("-".to_owned(), |r| format!("{r:.1}"));
            writeln!(
                out,
                "{:>9}  {:>10}  {:>10}  {:>12}  {:>12}  {:>10}  {:>10}  {:>6}",
                format!("{elapsed:.1}s"),
                stats.len,
                format_size(stats.bytes_used),
                stats.pushed_total,
                stats.popped_total,
                rate(rates.map(|r| r.0)),
                rate(rates.map(|r| r.1)),
                stats.recoveries
            )
        }
        .and_then(|()| out.flush())
        .map_err(stdout_failure)?;
        samples += 1;
        if args.count.is_some_and(|count| samples >= count) {
            return Ok(failure::OK);
        }
        previous = Some((now, stats.pushed_total, stats.popped_total));
        thread::sleep(args.interval);
        entry = probe(users)?;
    }
}

/// `wq create`: a new queue, exclusively.
pub fn create(args: &CreateArgs) -> Outcome {
    let context = format!("create {}", args.name);
    let options = Options {
        capacity: args.capacity,
        max_message_size: args.max_message_size,
        mode: args.mode,
        open_mode: OpenMode::CreateOnly,
        allow_other_owner: false,
    };
    let queue = Queue::open(&args.name, &options)
        .map_err(|e| queue_failure(context.clone(), &args.name, e))?;
    let stats = queue.stats().map_err(|e| Failure::queue(context, e))?;
    println!(
        "created {}: capacity {} ({} bytes), max message size {} ({} bytes), mode {}",
        inspect::path_of(&args.name).display(),
        format_size(stats.capacity),
        stats.capacity,
        format_size(stats.max_message_size),
        stats.max_message_size,
        format_mode(args.mode)
    );
    Ok(failure::OK)
}

/// `wq rm`: named queues, or (`--stale`) the stale ones.
pub fn rm(args: &RmArgs) -> Outcome {
    if args.stale {
        return rm_stale(args);
    }
    let users = Users::load();
    let mut first_failure = None;
    for name in &args.names {
        if let Err(failure) = rm_one(name, args.force, &users) {
            eprintln!("wq: {failure}");
            first_failure.get_or_insert(failure.code());
        }
    }
    Ok(first_failure.unwrap_or(failure::OK))
}

/// Removes `name` after checking that it is a wq queue (unless `force`).
fn rm_one(name: &str, force: bool, users: &Users) -> Result<(), Failure> {
    let context = format!("rm {name}");
    let entry = inspect::probe(name, users).map_err(|e| queue_failure(context.clone(), name, e))?;
    if !force
        && matches!(
            entry.state,
            State::Foreign(_) | State::NoAccess(_) | State::Failed(_)
        )
    {
        let failure = state_failure(&context, &entry).unwrap_or(Failure::Other {
            code: 12,
            message: context.clone(),
        });
        let force = match inspect::removal_refused(&entry.path, users) {
            None => "pass --force to remove it anyway".to_owned(),
            Some(why) => format!("--force would not help: {why}"),
        };
        return Err(Failure::Other {
            code: failure.code(),
            message: format!("{failure}; refusing to remove it ({force})"),
        });
    }
    Queue::remove(name).map_err(|e| queue_failure(context, name, e))
}

/// `wq rm --stale`: finds corrupt and never-initialised queues and removes
/// those confirmed (interactively, or all with `--yes`).
fn rm_stale(args: &RmArgs) -> Outcome {
    let users = Users::load();
    let entries = inspect::scan(&users)
        .map_err(|e| Failure::io(format!("listing {}", inspect::SHM_DIR), e))?;
    let stale: Vec<Entry> = entries
        .into_iter()
        .filter(|e| e.state.is_stale())
        .filter(|e| {
            args.pattern
                .as_deref()
                .is_none_or(|p| glob_match(p, &e.name))
        })
        .collect();
    let describe = |e: &Entry| {
        format!(
            "{} ({}: {}; owner {}, {})",
            e.name,
            e.state.label(),
            e.state.reason().unwrap_or(""),
            e.owner,
            format_size(e.size)
        )
    };
    if stale.is_empty() {
        eprintln!("wq: no stale queues found");
        return Ok(failure::OK);
    }
    if args.dry_run {
        for e in &stale {
            println!("would remove {}", describe(e));
        }
        return Ok(failure::OK);
    }
    let interactive = !args.yes && io::stdin().is_terminal();
    if !args.yes && !interactive {
        for e in &stale {
            eprintln!("wq: stale: {}", describe(e));
        }
        return Err(Failure::Other {
            code: failure::USAGE,
            message: format!(
                "rm --stale: found {} stale queue(s); pass --yes to remove them without a terminal to confirm on",
                stale.len()
            ),
        });
    }
    let mut first_failure = None;
    let mut stdin = io::stdin().lock();
    for e in &stale {
        if interactive && !confirm(&mut stdin, &format!("remove {}?", describe(e)))? {
            continue;
        }
        // Check again right before removing: it may have been replaced.
        let context = format!("rm {}", e.name);
        let result = match inspect::probe(&e.name, &users) {
            Ok(now) if now.state.is_stale() => {
                Queue::remove(&e.name).map_err(|err| queue_failure(context, &e.name, err))
            }
            Ok(_) => {
                eprintln!("wq: {}: no longer stale, left alone", e.name);
                continue;
            }
            Err(wq::Error::NotFound(_)) => continue,
            Err(err) => Err(queue_failure(context, &e.name, err)),
        };
        match result {
            Ok(()) => println!("removed {}", describe(e)),
            Err(failure) => {
                eprintln!("wq: {failure}");
                first_failure.get_or_insert(failure.code());
            }
        }
    }
    Ok(first_failure.unwrap_or(failure::OK))
}

/// Asks a yes/no question on stderr; only `y` or `yes` is yes.
fn confirm(stdin: &mut impl BufRead, question: &str) -> Result<bool, Failure> {
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    stdin
        .read_line(&mut answer)
        .map_err(|e| Failure::io("reading the answer from standard input", e))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

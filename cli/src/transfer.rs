//! The commands that move messages: `push` and `pop`.

use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStringExt;
use std::time::{Duration, Instant};

use wq::Queue;

use crate::commands::queue_failure;
use crate::escape;
use crate::failure::{self, Failure, Outcome};
use crate::inspect;
use crate::output::{self, MessageFormat};
use crate::units::{Timeout, format_size};
use crate::{PopArgs, PushArgs};

/// Most lines gathered from standard input before they are pushed as one batch.
const BATCH_MESSAGES: usize = 256;
/// Most bytes gathered from standard input before they are pushed as one batch.
const BATCH_BYTES: usize = 1 << 20;

/// Pushes messages to one queue, counting them for error reports.
struct Pusher {
    queue: Queue,
    timeout: Timeout,
    pushed: u64,
    context: String,
    /// Whether to say on standard error (a terminal) that the queue is
    /// full and `wq` waits; once said, not again.
    notify_full: bool,
}

impl Pusher {
    /// Pushes all of `msgs` in order, as few batches as room allows.
    fn push_all(&mut self, msgs: &[Vec<u8>]) -> Result<(), Failure> {
        let mut done = 0;
        while done < msgs.len() {
            let result = match self.queue.push_batch(&msgs[done..], Some(Duration::ZERO)) {
                Err(wq::Error::Full) if self.timeout.0 != Some(Duration::ZERO) => {
                    self.say_full();
                    self.queue.push_batch(&msgs[done..], self.timeout.0)
                }
                other => other,
            };
            match result {
                Ok(n) => {
                    done += n;
                    self.pushed += n as u64;
                }
                Err(error) => {
                    let message = match &error {
                        wq::Error::Full => {
                            format!("the queue stayed full for {} (the timeout)", self.timeout)
                        }
                        other => other.to_string(),
                    };
                    return Err(Failure::Other {
                        code: failure::code_of(&error),
                        message: format!(
                            "{}: message {}: {message}; {} message(s) were pushed before it, none after",
                            self.context,
                            self.pushed + 1,
                            self.pushed
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Says, the first time the queue is found full, that `wq` waits for
    /// room: else a terminal would just seem to hang.
    fn say_full(&mut self) {
        if !std::mem::take(&mut self.notify_full) {
            return;
        }
        let held = self.queue.stats().map_or(String::new(), |s| {
            format!(
                " ({} message(s), {} of {})",
                s.len,
                format_size(s.bytes_used),
                format_size(s.capacity)
            )
        });
        let until = match self.timeout.0 {
            None => {
                "until a consumer makes room (Ctrl-C stops; --timeout limits the wait)".to_owned()
            }
            Some(_) => format!("for room, up to {} per message", self.timeout),
        };
        eprintln!(
            "wq: {}: the queue is full{held}; waiting {until}",
            self.context
        );
    }
}

/// `wq push`: arguments, `--file` contents, or standard input lines.
pub fn push(args: &PushArgs) -> Outcome {
    let context = format!("push {}", args.name);
    let queue = inspect::open(&args.name, inspect::Owners::Mine)
        .map_err(|e| queue_failure(context.clone(), &args.name, e))?;
    let mut pusher = Pusher {
        queue,
        timeout: args.timeout,
        pushed: 0,
        context,
        notify_full: io::stderr().is_terminal(),
    };
    if !args.file.is_empty() {
        for path in &args.file {
            let data = std::fs::read(path)
                .map_err(|e| Failure::io(format!("reading {}", path.display()), e))?;
            pusher.push_all(&[data])?;
        }
    } else if !args.messages.is_empty() {
        // Every argument is decoded before any is pushed: a bad one
        // pushes nothing.
        let msgs = args
            .messages
            .iter()
            .enumerate()
            .map(|(i, arg)| {
                decoded(arg.clone().into_vec(), args.escaped).map_err(|why| {
                    bad_escape(
                        &pusher.context,
                        format!("argument {}: {why}; nothing was pushed", i + 1),
                    )
                })
            })
            .collect::<Result<Vec<Vec<u8>>, Failure>>()?;
        pusher.push_all(&msgs)?;
    } else {
        if io::stdin().is_terminal() && io::stderr().is_terminal() {
            let decoding = if args.escaped {
                " (decoding \\\\, \\n, \\r and \\xNN)"
            } else {
                ""
            };
            eprintln!(
                "wq: {}: pushing each line typed here as a message{decoding}; Ctrl-D ends",
                pusher.context
            );
        }
        push_lines(
            &mut pusher,
            &mut BufReader::with_capacity(1 << 16, io::stdin().lock()),
            args.escaped,
        )?;
    }
    Ok(failure::OK)
}

/// `message` as given, or decoded from `wq pop`'s escaped form if `escaped`.
fn decoded(message: Vec<u8>, escaped: bool) -> Result<Vec<u8>, String> {
    if escaped {
        escape::decode(&message)
    } else {
        Ok(message)
    }
}

/// The failure of `push --escaped` on a malformed escape: a usage error.
fn bad_escape(context: &str, what: String) -> Failure {
    Failure::Other {
        code: failure::USAGE,
        message: format!("{context}: {what}"),
    }
}

/// Pushes each line of `input` (without its `\n`, decoded if `escaped`) as
/// one message, in batches; bytes need not be UTF-8. A line that does not
/// decode ends the push after the lines before it were pushed.
fn push_lines<R: Read>(
    pusher: &mut Pusher,
    input: &mut BufReader<R>,
    escaped: bool,
) -> Result<(), Failure> {
    let mut batch: Vec<Vec<u8>> = Vec::new();
    let mut batch_bytes = 0;
    for number in 1u64.. {
        let mut line = Vec::new();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|e| Failure::io("reading standard input", e))?;
        if n == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let line = match decoded(line, escaped) {
            Ok(line) => line,
            Err(why) => {
                pusher.push_all(&batch)?;
                return Err(bad_escape(
                    &pusher.context,
                    format!(
                        "line {number}: {why}; the {} line(s) before it were pushed, none from it on",
                        number - 1
                    ),
                ));
            }
        };
        batch_bytes += line.len();
        batch.push(line);
        // Lines are gathered only while more are already buffered, so a slow
        // producer's lines (`tail -f log | wq push q`) are pushed at once.
        let idle = input.buffer().is_empty();
        if batch.len() >= BATCH_MESSAGES || batch_bytes >= BATCH_BYTES || idle {
            pusher.push_all(&batch)?;
            batch.clear();
            batch_bytes = 0;
        }
    }
    pusher.push_all(&batch)
}

/// Takes messages from one queue and writes them out, counting them for
/// error reports: plainly (each is gone once taken), or under a lease that
/// is acked only once the message was written out.
struct Popper<'a> {
    queue: &'a Queue,
    /// `--lease`: `None` for plain pops.
    lease: Option<Timeout>,
    format: MessageFormat,
    popped: u64,
    context: String,
}

impl Popper<'_> {
    /// Takes one message, waiting up to `timeout`, and writes it to `out`
    /// at once; `Ok(false)` when none came.
    fn take(&mut self, out: &mut impl Write, timeout: Option<Duration>) -> Result<bool, Failure> {
        let taken = match self.lease {
            None => self.queue.pop(timeout).map(Taken::Plain),
            Some(lease) => self.queue.pop_leased(lease.0, timeout).map(Taken::Leased),
        };
        let taken = match taken {
            Ok(taken) => taken,
            Err(wq::Error::Empty) => return Ok(false),
            Err(e) => return Err(Failure::queue(self.context.clone(), e)),
        };
        self.popped += 1;
        let n = self.popped;
        let written = output::write_message(out, &taken, self.format).and_then(|()| out.flush());
        match taken {
            Taken::Plain(_) => written.map_err(|e| {
                Failure::io(
                    format!(
                        "{}: writing message {n} to standard output (it was popped and is lost)",
                        self.context
                    ),
                    e,
                )
            })?,
            Taken::Leased(leased) => self.settle(leased, written, n)?,
        }
        Ok(true)
    }

    /// Acks leased message `n` if it was `written` out, else nacks it.
    fn settle(
        &self,
        leased: wq::Leased<'_>,
        written: io::Result<()>,
        n: u64,
    ) -> Result<(), Failure> {
        if let Err(e) = written {
            let fate = match leased.nack() {
                Ok(()) => "it was given back and will be delivered again".to_owned(),
                Err(nack) => format!(
                    "giving it back failed ({nack}); it will be delivered again when wq exits"
                ),
            };
            return Err(Failure::io(
                format!(
                    "{}: writing message {n} to standard output ({fate})",
                    self.context
                ),
                e,
            ));
        }
        leased.ack().map_err(|e| {
            let why = match &e {
                wq::Error::LeaseEnded { .. } => format!(
                    "its lease ({}) ended before the ack, so it may be delivered again",
                    self.lease.unwrap_or(Timeout(None))
                ),
                other => format!("acking it failed ({other}); it will be delivered again"),
            };
            Failure::Other {
                code: failure::code_of(&e),
                message: format!(
                    "{}: message {n} was written to standard output, but {why}",
                    self.context
                ),
            }
        })
    }
}

/// A message as taken: plainly, or under a lease still to settle.
enum Taken<'q> {
    Plain(Vec<u8>),
    Leased(wq::Leased<'q>),
}

impl std::ops::Deref for Taken<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Taken::Plain(msg) => msg,
            Taken::Leased(leased) => leased,
        }
    }
}

/// `wq pop --follow`: takes what is queued, then sleeps in `poll` on the
/// queue's readiness descriptor until more comes; ends only when writing
/// fails (a closed pipe) or the queue does.
fn follow(popper: &mut Popper<'_>) -> Outcome {
    let fd = popper
        .queue
        .readable_fd()
        .map_err(|e| Failure::queue(popper.context.clone(), e))?
        .as_raw_fd();
    let mut out = io::stdout().lock();
    loop {
        if popper.take(&mut out, Some(Duration::ZERO))? {
            continue;
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; the descriptor lives as long as `queue`.
        unsafe { libc::poll(&mut pfd, 1, -1) };
    }
}

/// `wq pop`: up to `-n` messages, waiting up to `--timeout` in total.
pub fn pop(args: &PopArgs) -> Outcome {
    let context = format!("pop {}", args.name);
    let queue = inspect::open(&args.name, inspect::Owners::Mine)
        .map_err(|e| queue_failure(context.clone(), &args.name, e))?;
    let format = if args.hex {
        MessageFormat::Hex
    } else if args.raw {
        MessageFormat::Raw
    } else {
        MessageFormat::Text
    };
    let mut popper = Popper {
        queue: &queue,
        lease: args.lease,
        format,
        popped: 0,
        context,
    };
    if args.follow {
        return follow(&mut popper);
    }
    let deadline = args.timeout.0.map(|d| Instant::now() + d);
    let mut out = io::stdout().lock();
    while popper.popped < args.count {
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if !popper.take(&mut out, remaining)? {
            break;
        }
    }
    if popper.popped == 0 {
        eprintln!(
            "wq: {}: the queue is empty (nothing arrived within {})",
            popper.context, args.timeout
        );
        return Ok(failure::TIMEOUT);
    }
    Ok(failure::OK)
}

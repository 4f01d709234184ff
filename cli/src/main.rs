//! `wq`: list, inspect, create, push to, pop from and remove wq queues
//! (crash-safe shared-memory work queues, `/dev/shm/NAME`).
//!
//! Everything goes through the library's safe API; this crate only parses
//! arguments ([`Cli`]), runs commands ([`commands`], [`transfer`]) and prints
//! ([`output`], with messages in the escaped form of [`escape`]).

mod commands;
mod escape;
mod failure;
mod inspect;
mod output;
mod transfer;
mod units;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::failure::{EXIT_CODES_HELP, EXIT_CODES_HINT};
use crate::units::{
    Timeout, parse_count, parse_interval, parse_lease, parse_mode, parse_name, parse_size,
    parse_timeout,
};

/// Inspect and operate wq shared-memory work queues (/dev/shm/NAME).
#[derive(Debug, Parser)]
#[command(name = "wq", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every file in /dev/shm: wq queues with their counters, other
    /// segments as foreign, corrupt, incomplete or no access.
    #[command(after_help = EXIT_CODES_HINT)]
    Ls(LsArgs),
    /// Show the full statistics of one queue.
    #[command(after_help = EXIT_CODES_HINT)]
    Stat(StatArgs),
    /// Create a queue (fails with exit code 5 if the name is taken).
    #[command(after_help = EXIT_CODES_HINT)]
    Create(CreateArgs),
    /// Push messages: the arguments, or --file contents, or else one message
    /// per line of standard input (--escaped decodes what `wq pop` prints).
    #[command(after_help = EXIT_CODES_HINT)]
    Push(PushArgs),
    /// Pop messages and print them, one per line by default (with --lease,
    /// each is removed only once it was written out).
    #[command(after_help = EXIT_CODES_HINT)]
    Pop(PopArgs),
    /// Remove queues by name, or every stale (corrupt or never initialised)
    /// queue with --stale.
    #[command(after_help = EXIT_CODES_HINT)]
    Rm(RmArgs),
}

/// `wq ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print JSON (`{"segments": [...]}`) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `wq stat`.
#[derive(Debug, Args)]
pub struct StatArgs {
    /// The queue's name (with or without a leading '/').
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// Print JSON instead of text (with --watch: one JSON object per line).
    #[arg(long)]
    pub json: bool,
    /// Keep printing a line per interval with the rates of messages in and
    /// out, until interrupted (or --count samples).
    #[arg(long, short)]
    pub watch: bool,
    /// Time between --watch samples, e.g. 500ms, 2s (at least 10ms).
    #[arg(long, default_value = "1s", value_parser = parse_interval, requires = "watch",
          allow_hyphen_values = true)]
    pub interval: std::time::Duration,
    /// Stop --watch after this many samples.
    #[arg(long, requires = "watch", value_parser = parse_count, allow_hyphen_values = true)]
    pub count: Option<u64>,
}

/// `wq create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The queue's name: 1 to 250 of A-Z a-z 0-9 . _ -
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// Bytes of message storage, e.g. 4096, 64KiB, 32MiB, 1G (K/M/G = KiB/MiB/GiB;
    /// KB/MB/GB are powers of 1000). Each message takes its length rounded up
    /// to 8, plus 8 bytes.
    #[arg(long, default_value = "32MiB", value_parser = parse_size, allow_hyphen_values = true)]
    pub capacity: u64,
    /// Largest message; 0 = the largest that fits in the empty queue.
    #[arg(long, default_value = "0", value_parser = parse_size, allow_hyphen_values = true)]
    pub max_message_size: u64,
    /// Permission bits in octal, applied exactly (no umask).
    #[arg(long, default_value = "0600", value_parser = parse_mode, allow_hyphen_values = true)]
    pub mode: u32,
}

/// `wq push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The queue's name.
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// Messages to push, one per argument (else standard input is read).
    #[arg(conflicts_with = "file")]
    pub messages: Vec<std::ffi::OsString>,
    /// Decode each argument or standard input line from the escaped form
    /// that `wq pop` prints by default.
    ///
    /// \\ is a backslash, \n and \r are newline and carriage return, \xNN is
    /// the byte NN (hex); other bytes are taken as they are. So
    /// `wq pop a -n 100 | wq push b --escaped` moves messages byte for byte.
    /// Any other backslash (an unknown escape, \x without two hex digits, a
    /// backslash at the end) is refused, exit 2: a bad argument pushes
    /// nothing at all; a bad line pushes the lines before it and nothing
    /// from it on.
    #[arg(long, conflicts_with = "file")]
    pub escaped: bool,
    /// Push the whole content of this file as one message (binary-safe);
    /// may be repeated.
    #[arg(long, short)]
    pub file: Vec<PathBuf>,
    /// How long to wait for room for each message when the queue is full:
    /// 0, 250ms, 1s, forever. On timeout the rest is not pushed; exit code 1.
    /// While it waits, a notice says so on standard error if that is a
    /// terminal.
    #[arg(long, short, default_value = "forever", value_parser = parse_timeout,
          allow_hyphen_values = true)]
    pub timeout: Timeout,
}

/// `wq pop`.
#[derive(Debug, Args)]
pub struct PopArgs {
    /// The queue's name.
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// Pop up to this many messages.
    #[arg(short = 'n', long = "count", default_value = "1", value_parser = parse_count,
          allow_hyphen_values = true)]
    pub count: u64,
    /// How long to wait, in total, for the messages: 0 (the default) takes
    /// only what is queued now; 1s, forever... Exit code 1 if none arrived.
    #[arg(long, short, default_value = "0", value_parser = parse_timeout,
          allow_hyphen_values = true)]
    pub timeout: Timeout,
    /// Print messages as they come, for ever (until killed or standard
    /// output closes), waiting on the queue's readiness descriptor:
    /// `wq pop jobs --follow | xargs -n1 ...`.
    #[arg(long, short, conflicts_with_all = ["count", "timeout"])]
    pub follow: bool,
    /// Take each message under a lease of this long (e.g. 30s, 5m,
    /// forever) and ack it (remove it for good) only once it was written
    /// to standard output; if writing fails it is given back (nacked) and
    /// wq exits 13; if wq dies first, it is given back too. Messages are
    /// taken, printed and acked one at a time (also with -n and --follow).
    /// The lease must outlast a write that a slow reader keeps waiting,
    /// else the message may go to another consumer meanwhile (exit 4).
    #[arg(long, value_name = "DURATION", value_parser = parse_lease, allow_hyphen_values = true)]
    pub lease: Option<Timeout>,
    /// Print each message as a line of lowercase hex.
    #[arg(long, conflicts_with = "raw")]
    pub hex: bool,
    /// Print the exact bytes of the messages with nothing added (with -n > 1
    /// they are concatenated). Without --hex or --raw, each message is one
    /// line: its text with each backslash doubled, newline and carriage
    /// return as \n and \r, and every other control or non-UTF-8 byte as
    /// \xNN (`wq push --escaped`, or bash's `printf '%b'`, turns a line
    /// back into the bytes).
    #[arg(long)]
    pub raw: bool,
}

/// `wq rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Queues to remove. Files that are not wq queues (foreign) or cannot be
    /// read to check are refused unless --force.
    #[arg(required_unless_present = "stale", conflicts_with = "stale", value_parser = parse_name)]
    pub names: Vec<String>,
    /// Remove also what is not a wq queue or cannot be checked.
    #[arg(long, conflicts_with = "stale")]
    pub force: bool,
    /// Find and remove stale queues: files the library recognises as wq
    /// queues (magic and layout version match) that are corrupt or were never
    /// fully initialised. Foreign files are never touched. Asks for each on a
    /// terminal; elsewhere requires --yes.
    #[arg(long)]
    pub stale: bool,
    /// With --stale: remove without asking.
    #[arg(long, short, requires = "stale")]
    pub yes: bool,
    /// With --stale: only list what would be removed.
    #[arg(long, requires = "stale")]
    pub dry_run: bool,
    /// With --stale: only consider names matching this pattern (* and ?).
    #[arg(long = "match", value_name = "PATTERN", requires = "stale")]
    pub pattern: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Ls(args) => commands::ls(&args),
        Command::Stat(args) => commands::stat(&args),
        Command::Create(args) => commands::create(&args),
        Command::Push(args) => transfer::push(&args),
        Command::Pop(args) => transfer::pop(&args),
        Command::Rm(args) => commands::rm(&args),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("wq: {failure}");
            ExitCode::from(failure.code())
        }
    }
}

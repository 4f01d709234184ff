//! Rendering entries and messages: aligned tables and key/value blocks for
//! people, JSON for scripts, and the three ways to print a popped message.
//!
//! The JSON field names are a stable interface: add fields, never rename.

use std::io::{self, Write};

use serde::Serialize;

use crate::escape;
use crate::inspect::{Entry, State};
use crate::units::{format_mode, format_size};

/// The JSON form of an [`Entry`]: queue counters are `null` unless the
/// state is `ok`; `reason` is `null` when it is.
#[derive(Serialize)]
pub struct EntryJson<'a> {
    name: &'a str,
    path: String,
    state: &'static str,
    reason: Option<&'a str>,
    owner: &'a str,
    uid: u32,
    mode: String,
    file_size: u64,
    len: Option<u64>,
    bytes_used: Option<u64>,
    capacity: Option<u64>,
    max_message_size: Option<u64>,
    pushed_total: Option<u64>,
    popped_total: Option<u64>,
    recoveries: Option<u64>,
    /// Pid hints of the other attached handles (each in its own namespace).
    handles: Option<&'a [u32]>,
    /// Messages under a lease now (counted in `len` too).
    leased: Option<u64>,
    acked_total: Option<u64>,
    nacked_total: Option<u64>,
    expired_total: Option<u64>,
    abandoned_total: Option<u64>,
    /// Deliveries after the first.
    redelivered_total: Option<u64>,
}

impl<'a> EntryJson<'a> {
    /// Describes `entry` for JSON output.
    pub fn new(entry: &'a Entry) -> EntryJson<'a> {
        let stats = match &entry.state {
            State::Ok(stats) => Some(stats),
            _ => None,
        };
        let leases = stats.map(|_| &entry.leases);
        EntryJson {
            name: &entry.name,
            path: entry.path.display().to_string(),
            state: entry.state.label(),
            reason: entry.state.reason(),
            owner: &entry.owner,
            uid: entry.uid,
            mode: format_mode(entry.mode),
            file_size: entry.size,
            len: stats.map(|s| s.len),
            bytes_used: stats.map(|s| s.bytes_used),
            capacity: stats.map(|s| s.capacity),
            max_message_size: stats.map(|s| s.max_message_size),
            pushed_total: stats.map(|s| s.pushed_total),
            popped_total: stats.map(|s| s.popped_total),
            recoveries: stats.map(|s| s.recoveries),
            handles: stats.map(|_| entry.peers.as_slice()),
            leased: leases.map(|l| l.leased),
            acked_total: leases.map(|l| l.acked_total),
            nacked_total: leases.map(|l| l.nacked_total),
            expired_total: leases.map(|l| l.expired_total),
            abandoned_total: leases.map(|l| l.abandoned_total),
            redelivered_total: leases.map(|l| l.redelivered_total),
        }
    }
}

/// One `stat --watch` sample in JSON: the entry plus rates.
#[derive(Serialize)]
pub struct SampleJson<'a> {
    /// Seconds since watching began.
    pub elapsed_s: f64,
    /// Messages pushed per second since the previous sample (`null` first).
    pub in_per_s: Option<f64>,
    /// Messages popped per second since the previous sample (`null` first).
    pub out_per_s: Option<f64>,
    /// The queue.
    #[serde(flatten)]
    pub entry: EntryJson<'a>,
}

/// Writes `value` as one line of JSON.
pub fn write_json<T: Serialize>(out: &mut impl Write, value: &T) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(io::Error::from)?;
    writeln!(out)
}

/// Writes rows as columns padded to their widest cell; the last column is
/// not padded. Columns whose header starts with `>` are right-aligned.
pub fn write_table(out: &mut impl Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let titles: Vec<&str> = header.iter().map(|h| h.trim_start_matches('>')).collect();
    let mut widths: Vec<usize> = titles.iter().map(|t| t.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let titles: Vec<String> = titles.iter().map(|t| (*t).to_owned()).collect();
    for row in std::iter::once(&titles).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let last = i + 1 == row.len();
            let width = widths.get(i).copied().unwrap_or(0);
            if i > 0 {
                line.push_str("  ");
            }
            if header.get(i).is_some_and(|h| h.starts_with('>')) {
                line.push_str(&format!("{cell:>width$}"));
            } else if last {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}"));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// The `ls` table.
pub fn write_ls(out: &mut impl Write, entries: &[Entry]) -> io::Result<()> {
    let header = [
        "NAME",
        "STATE",
        ">MSGS",
        ">USED",
        ">CAPACITY",
        ">PUSHED",
        ">POPPED",
        ">RECOV",
        ">HANDLES",
        ">LEASED",
        ">REDELIVERED",
        "OWNER",
        "MODE",
        "NOTE",
    ];
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let counters = match &e.state {
                State::Ok(s) => [
                    s.len.to_string(),
                    format_size(s.bytes_used),
                    format_size(s.capacity),
                    s.pushed_total.to_string(),
                    s.popped_total.to_string(),
                    s.recoveries.to_string(),
                    e.peers.len().to_string(),
                    e.leases.leased.to_string(),
                    e.leases.redelivered_total.to_string(),
                ],
                _ => std::array::from_fn(|_| "-".to_owned()),
            };
            let mut row = vec![e.name.clone(), e.state.label().to_owned()];
            row.extend(counters);
            row.push(e.owner.clone());
            row.push(format_mode(e.mode));
            row.push(e.state.reason().unwrap_or("").to_owned());
            row
        })
        .collect();
    write_table(out, &header, &rows)
}

/// "2 (pids 40, 41)": how many other handles are attached, and the pids
/// their processes wrote (hints: each in its own PID namespace).
fn format_peers(peers: &[u32]) -> String {
    if peers.is_empty() {
        return "0".to_owned();
    }
    let pids: Vec<String> = peers.iter().map(u32::to_string).collect();
    format!("{} (pids {})", peers.len(), pids.join(", "))
}

/// The `stat` block: one `key: value` line per field.
pub fn write_stat(out: &mut impl Write, e: &Entry) -> io::Result<()> {
    let mut lines: Vec<(&str, String)> = vec![
        ("name", e.name.clone()),
        ("path", e.path.display().to_string()),
        ("state", e.state.label().to_owned()),
    ];
    match &e.state {
        State::Ok(s) => {
            let percent = if s.capacity == 0 {
                0.0
            } else {
                s.bytes_used as f64 * 100.0 / s.capacity as f64
            };
            lines.extend([
                ("messages", s.len.to_string()),
                (
                    "bytes used",
                    format!(
                        "{} ({} bytes, {percent:.1}%)",
                        format_size(s.bytes_used),
                        s.bytes_used
                    ),
                ),
                (
                    "capacity",
                    format!("{} ({} bytes)", format_size(s.capacity), s.capacity),
                ),
                (
                    "max message size",
                    format!(
                        "{} ({} bytes)",
                        format_size(s.max_message_size),
                        s.max_message_size
                    ),
                ),
                ("pushed total", s.pushed_total.to_string()),
                ("popped total", s.popped_total.to_string()),
                ("leased now", e.leases.leased.to_string()),
                ("acked total", e.leases.acked_total.to_string()),
                ("nacked total", e.leases.nacked_total.to_string()),
                ("expired total", e.leases.expired_total.to_string()),
                ("abandoned total", e.leases.abandoned_total.to_string()),
                ("redelivered", e.leases.redelivered_total.to_string()),
                ("recoveries", s.recoveries.to_string()),
                ("other handles", format_peers(&e.peers)),
            ]);
        }
        other => lines.push(("reason", other.reason().unwrap_or("").to_owned())),
    }
    lines.extend([
        ("owner", format!("{} (uid {})", e.owner, e.uid)),
        ("mode", format_mode(e.mode)),
        ("file size", format!("{} bytes", e.size)),
    ]);
    for (key, value) in lines {
        writeln!(out, "{:<18}{value}", format!("{key}:"))?;
    }
    Ok(())
}

/// How `pop` prints each message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageFormat {
    /// One line per message, escaped so that it tells every message apart
    /// ([`escape::encode`]).
    Text,
    /// One line of lowercase hex per message.
    Hex,
    /// The exact bytes, nothing added.
    Raw,
}

/// Writes one popped message in `format`.
pub fn write_message(out: &mut impl Write, msg: &[u8], format: MessageFormat) -> io::Result<()> {
    match format {
        MessageFormat::Raw => out.write_all(msg),
        MessageFormat::Hex => {
            let hex: String = msg.iter().map(|b| format!("{b:02x}")).collect();
            writeln!(out, "{hex}")
        }
        MessageFormat::Text => writeln!(out, "{}", escape::encode(msg)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let mut out = Vec::new();
        let rows = vec![
            vec!["a".to_owned(), "1".to_owned(), "x".to_owned()],
            vec!["long".to_owned(), "100".to_owned(), "".to_owned()],
        ];
        write_table(&mut out, &["N", ">V", "NOTE"], &rows).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "N       V  NOTE\na       1  x\nlong  100\n"
        );
    }
}

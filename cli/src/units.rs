//! Human-readable quantities on the command line: byte sizes (`32MiB`,
//! `1G`, `4096`), durations (`1s`, `250ms`, `forever`), permission modes
//! (`0600`), name patterns (`app-*`), and the reverse for output.

use std::time::Duration;

/// Parses a byte size: a number (decimals allowed) with an optional unit.
/// `K`/`M`/`G`/`T` and `KiB`/`MiB`/`GiB`/`TiB` are powers of 1024,
/// `KB`/`MB`/`GB`/`TB` powers of 1000, `B` or nothing is bytes; units are
/// case-insensitive. The result must be a whole number of bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err(format!("a size cannot be negative (got {text:?})"));
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim();
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => {
            return Err(format!(
                "unknown size unit {unit:?} in {text:?} (use B, KiB, MiB, GiB, TiB, K, M, G, T, KB, MB, GB or TB)"
            ));
        }
    };
    let bytes = scale(number, multiplier)
        .ok_or_else(|| format!("{text:?} is not a size (expected e.g. 4096, 64KiB, 32MiB, 1G)"))?;
    bytes.ok_or_else(|| format!("{text:?} is not a whole number of bytes or is too large"))
}

/// `number × multiplier` computed exactly: `None` if `number` is not a
/// decimal number, `Some(None)` if the product is fractional or overflows.
fn scale(number: &str, multiplier: u64) -> Option<Option<u64>> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !whole
        .bytes()
        .chain(fraction.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let Ok(mantissa) = format!("{whole}{fraction}").parse::<u128>() else {
        return Some(None);
    };
    let divisor = 10u128.checked_pow(u32::try_from(fraction.len()).ok()?);
    let Some(divisor) = divisor else {
        return Some(None);
    };
    let Some(product) = mantissa.checked_mul(u128::from(multiplier)) else {
        return Some(None);
    };
    if product % divisor != 0 {
        return Some(None);
    }
    Some(u64::try_from(product / divisor).ok())
}

/// A wait limit: a duration, or none at all (`forever`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeout(pub Option<Duration>);

impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            None => f.write_str("forever"),
            Some(d) => f.write_str(&format_duration(d)),
        }
    }
}

/// Parses a duration: a number (decimals allowed) with a unit `ns`, `us`,
/// `ms`, `s`, `m` or `h` (a bare number is seconds), or `forever`/`inf`
/// for no limit.
pub fn parse_timeout(text: &str) -> Result<Timeout, String> {
    let text = text.trim();
    if matches!(
        text.to_ascii_lowercase().as_str(),
        "forever" | "inf" | "infinite" | "never"
    ) {
        return Ok(Timeout(None));
    }
    parse_duration(text).map(|d| Timeout(Some(d)))
}

/// Parses a lease duration: as [`parse_timeout`] (`forever`: until acked
/// or the process ends), but not zero, which would end every lease at once.
pub fn parse_lease(text: &str) -> Result<Timeout, String> {
    match parse_timeout(text)? {
        Timeout(Some(d)) if d.is_zero() => Err(format!(
            "a lease of {text:?} would end before the message is written (use e.g. 30s or forever)"
        )),
        lease => Ok(lease),
    }
}

/// The shortest `stat --watch` interval: each sample opens the queue, and
/// a shorter one would keep a CPU busy for a display nobody can read.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Parses a `--watch` interval: a duration of at least [`MIN_INTERVAL`].
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        d if d < MIN_INTERVAL => Err(format!(
            "an interval of {text:?} is too short: it must be at least {}",
            format_duration(MIN_INTERVAL)
        )),
        d => Ok(d),
    }
}

/// Parses a count of things: a whole number, at least 1.
pub fn parse_count(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "{text:?} is not a count (a whole number of at least 1)"
        )),
    }
}

/// Takes a queue name as the user may write it, `jobs` or `/jobs`, and
/// gives the form `wq` prints everywhere: without the slash (as `ls` lists
/// the files). Whether it is a valid name is for the library to say.
pub fn parse_name(text: &str) -> Result<String, String> {
    // "//a" stays as it is, for the library to refuse.
    let bare = text.strip_prefix('/').filter(|rest| !rest.starts_with('/'));
    Ok(bare.unwrap_or(text).to_owned())
}

/// Parses a finite duration (see [`parse_timeout`]).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err(format!("a duration cannot be negative (got {text:?})"));
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let nanos_per_unit: u64 = match unit.trim() {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "" | "s" | "sec" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        other => {
            return Err(format!(
                "unknown duration unit {other:?} in {text:?} (use ns, us, ms, s, m, h or 'forever')"
            ));
        }
    };
    match scale(number, nanos_per_unit) {
        None => Err(format!(
            "{text:?} is not a duration (expected e.g. 0, 250ms, 1s, 2m, forever)"
        )),
        Some(None) => Err(format!(
            "{text:?} is not a whole number of nanoseconds or is too long"
        )),
        Some(Some(nanos)) => Ok(Duration::from_nanos(nanos)),
    }
}

/// Parses permission bits in octal: `0600`, `600` or `0o600`, at most `0777`.
pub fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.trim();
    let digits = digits
        .strip_prefix("0o")
        .or_else(|| digits.strip_prefix("0O"))
        .unwrap_or(digits);
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if mode <= 0o777 && !digits.is_empty() => Ok(mode),
        _ => Err(format!(
            "{text:?} is not a permission mode (octal 0000 to 0777, e.g. 0600)"
        )),
    }
}

/// Formats a byte count for people: `72 B`, `1.0 KiB`, `32.0 MiB`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    // Compare the value as printed (one decimal), so 1023.99 KiB is 1.0 MiB.
    while (value * 10.0).round() >= 10240.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Formats a duration compactly: `0s`, `250ms`, `1.5s`.
pub fn format_duration(d: Duration) -> String {
    if d.is_zero() {
        "0s".to_owned()
    } else if d < Duration::from_secs(1) && d.subsec_millis() * 1_000_000 == d.subsec_nanos() {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// Formats permission bits as four octal digits: `0600`.
pub fn format_mode(mode: u32) -> String {
    format!("{:04o}", mode & 0o7777)
}

/// Matches `name` against a shell-style pattern: `*` is any run of
/// characters, `?` any one character, everything else itself.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Classic linear-time wildcard match with backtracking to the last `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_all_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("32MiB"), Ok(32 << 20));
        assert_eq!(parse_size("32mib"), Ok(32 << 20));
        assert_eq!(parse_size("32 MiB"), Ok(32 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("1KB"), Ok(1000));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert_eq!(parse_size("1.5KiB"), Ok(1536));
        assert_eq!(parse_size(".5K"), Ok(512));
        assert_eq!(parse_size("100B"), Ok(100));
        assert_eq!(parse_size("1TiB"), Ok(1 << 40));
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn sizes_reject_nonsense() {
        for bad in [
            "",
            "MiB",
            "-1",
            "1.2.3K",
            "12XB",
            "1.3B",
            "0.1K",
            "18446744073709551616",
            "99999999T",
            "ten",
            ".",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_and_forever() {
        assert_eq!(
            parse_timeout("1s"),
            Ok(Timeout(Some(Duration::from_secs(1))))
        );
        assert_eq!(
            parse_timeout("250ms"),
            Ok(Timeout(Some(Duration::from_millis(250))))
        );
        assert_eq!(
            parse_timeout("1.5s"),
            Ok(Timeout(Some(Duration::from_millis(1500))))
        );
        assert_eq!(parse_timeout("0"), Ok(Timeout(Some(Duration::ZERO))));
        assert_eq!(
            parse_timeout("2"),
            Ok(Timeout(Some(Duration::from_secs(2))))
        );
        assert_eq!(
            parse_timeout("2m"),
            Ok(Timeout(Some(Duration::from_secs(120))))
        );
        assert_eq!(
            parse_timeout("1h"),
            Ok(Timeout(Some(Duration::from_secs(3600))))
        );
        assert_eq!(
            parse_timeout("10us"),
            Ok(Timeout(Some(Duration::from_micros(10))))
        );
        assert_eq!(
            parse_timeout("5ns"),
            Ok(Timeout(Some(Duration::from_nanos(5))))
        );
        assert_eq!(parse_timeout("forever"), Ok(Timeout(None)));
        assert_eq!(parse_timeout("Forever"), Ok(Timeout(None)));
        assert_eq!(parse_timeout("inf"), Ok(Timeout(None)));
    }

    #[test]
    fn durations_reject_nonsense() {
        for bad in ["", "s", "-1s", "1x", "1.5ns", "1 day", "soon", "1e3s"] {
            assert!(parse_timeout(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn negative_sizes_and_durations_say_so() {
        assert_eq!(
            parse_size("-5"),
            Err("a size cannot be negative (got \"-5\")".to_owned())
        );
        assert!(parse_size("-5MiB").unwrap_err().contains("negative"));
        assert!(parse_timeout("-1s").unwrap_err().contains("negative"));
    }

    #[test]
    fn intervals_have_a_floor() {
        assert_eq!(parse_interval("10ms"), Ok(MIN_INTERVAL));
        assert_eq!(parse_interval("2s"), Ok(Duration::from_secs(2)));
        for bad in ["0", "0s", "9ms", "1us"] {
            let e = parse_interval(bad).unwrap_err();
            assert!(e.contains("at least 10ms"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn counts_are_at_least_one() {
        assert_eq!(parse_count("3"), Ok(3));
        for bad in ["0", "-5", "x", "1.5", ""] {
            assert!(parse_count(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_lose_one_leading_slash() {
        assert_eq!(parse_name("jobs").unwrap(), "jobs");
        assert_eq!(parse_name("/jobs").unwrap(), "jobs");
        assert_eq!(parse_name("//jobs").unwrap(), "//jobs");
        assert_eq!(parse_name("/").unwrap(), "");
    }

    #[test]
    fn leases_are_durations_but_not_zero() {
        assert_eq!(
            parse_lease("30s"),
            Ok(Timeout(Some(Duration::from_secs(30))))
        );
        assert_eq!(parse_lease("forever"), Ok(Timeout(None)));
        for bad in ["0", "0s", "0.0ms", "soon"] {
            assert!(parse_lease(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn modes_are_octal() {
        assert_eq!(parse_mode("0600"), Ok(0o600));
        assert_eq!(parse_mode("644"), Ok(0o644));
        assert_eq!(parse_mode("0o660"), Ok(0o660));
        assert_eq!(parse_mode("0"), Ok(0));
        for bad in ["", "0o", "0800", "1777", "rw-------", "-600"] {
            assert!(parse_mode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn formatting() {
        assert_eq!(format_size(0), "0 B");
        assert_eq!(format_size(1023), "1023 B");
        assert_eq!(format_size(1024), "1.0 KiB");
        assert_eq!(format_size(32 << 20), "32.0 MiB");
        assert_eq!(format_size(3 << 29), "1.5 GiB");
        assert_eq!(format_size((1 << 20) - 8), "1.0 MiB");
        assert_eq!(format_mode(0o600), "0600");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(Timeout(None).to_string(), "forever");
    }

    #[test]
    fn globs() {
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("app-*", "app-1"));
        assert!(!glob_match("app-*", "xapp-1"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("*-q-*-x", "test-q-12-q-3-x"));
        assert!(!glob_match("*-x", "test-y"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exact2"));
    }
}

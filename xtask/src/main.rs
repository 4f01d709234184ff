//! The developer commands of wq, run as `cargo xtask <command>` (the alias
//! is in `.cargo/config.toml`):
//!
//! ```text
//! cargo xtask header          regenerate include/wq.h from the FFI sources
//! cargo xtask header --check  exit 1 if include/wq.h is not what they generate
//! ```
//!
//! The header is generated here, not in a build script, so that a crate
//! depending on `wq` never compiles cbindgen and no build writes into the
//! source tree (rustls-ffi does the same: CI regenerates, then
//! `git diff --exit-code`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::{env, fs};

/// Every source file cbindgen reads: the C boundary and its lease calls.
const FFI_SOURCES: [&str; 3] = ["src/ffi.rs", "src/ffi/leases.rs", "src/ffi/zerocopy.rs"];

/// The header, relative to the repository root.
const HEADER: &str = "include/wq.h";

const USAGE: &str = "usage: cargo xtask header [--check]
  header          regenerate include/wq.h from src/ffi.rs, src/ffi/leases.rs and src/ffi/zerocopy.rs
  header --check  exit 1 if include/wq.h differs from what they generate";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = match args.as_slice() {
        ["header"] => write_header(&repo_root()),
        ["header", "--check"] => check_header(&repo_root()),
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_owned()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root: the parent of this crate's directory.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ lies in the repository")
        .to_path_buf()
}

/// `header`: writes include/wq.h, only when its content changes (an unchanged
/// header keeps its timestamp, so make and CMake rebuild no C code).
fn write_header(root: &Path) -> Result<(), String> {
    let generated = generate(root)?;
    let path = root.join(HEADER);
    if fs::read(&path).ok().as_deref() == Some(generated.as_slice()) {
        println!("{HEADER} is up to date");
        return Ok(());
    }
    fs::write(&path, &generated).map_err(|e| format!("writing {}: {e}", path.display()))?;
    println!("{HEADER} regenerated");
    Ok(())
}

/// `header --check`: fails when the committed header is not the generated one.
fn check_header(root: &Path) -> Result<(), String> {
    let generated = generate(root)?;
    let path = root.join(HEADER);
    let committed = fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    match first_difference(&committed, &generated) {
        None => Ok(()),
        Some(line) => Err(format!(
            "{HEADER} differs from the header generated from the sources (first at line {line}): \
             run `cargo xtask header` and commit the result"
        )),
    }
}

/// The 1-based line of the first difference between `a` and `b`, if any.
fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    if a == b {
        return None;
    }
    let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    Some(1 + a[..same].iter().filter(|&&c| c == b'\n').count())
}

/// The crate version as written in the root Cargo.toml's `[package]`.
fn crate_version(root: &Path) -> Result<String, String> {
    let path = root.join("Cargo.toml");
    let text = fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let manifest: toml::Table = text
        .parse()
        .map_err(|e| format!("parsing {}: {e}", path.display()))?;
    manifest
        .get("package")
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("{} has no literal [package] version", path.display()))
}

/// The version macros and `WQ_FOREVER`, written after the includes.
///
/// `WQ_FOREVER` is written here as `(-1)` because cbindgen would drop the
/// parentheses of a Rust constant (cbindgen.toml excludes it).
fn version_macros(version: &str) -> Result<String, String> {
    let bad = || format!("version {version:?} is not MAJOR.MINOR.PATCH");
    let mut parts = version.splitn(3, '.');
    let major = parts.next().ok_or_else(bad)?;
    let minor = parts.next().ok_or_else(bad)?;
    let rest = parts.next().ok_or_else(bad)?;
    // As CARGO_PKG_VERSION_PATCH: the patch number without a pre-release or build suffix.
    let patch = rest.split(['-', '+']).next().unwrap_or_default();
    for part in [major, minor, patch] {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
    }
    Ok(format!(
        "\n#define WQ_VERSION \"{version}\"\n#define WQ_VERSION_MAJOR {major}\n\
         #define WQ_VERSION_MINOR {minor}\n#define WQ_VERSION_PATCH {patch}\n\n\
         /** `timeout_ns`: wait without limit (any negative value does). */\n\
         #define WQ_FOREVER (-1)"
    ))
}

/// The header cbindgen generates from the sources under `root`.
fn generate(root: &Path) -> Result<Vec<u8>, String> {
    let config_path = root.join("cbindgen.toml");
    let mut config = cbindgen::Config::from_file(&config_path)
        .map_err(|e| format!("reading {}: {e}", config_path.display()))?;
    config.after_includes = Some(version_macros(&crate_version(root)?)?);
    let mut builder = cbindgen::Builder::new().with_config(config);
    for source in FFI_SOURCES {
        builder = builder.with_src(root.join(source));
    }
    let bindings = builder
        .generate()
        .map_err(|e| format!("cbindgen cannot generate the header: {e}"))?;
    let mut out = Vec::new();
    bindings.write(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_header_is_what_the_sources_generate() {
        let root = repo_root();
        let committed = fs::read(root.join(HEADER)).expect("include/wq.h is readable");
        let generated = generate(&root).expect("cbindgen generates the header");
        assert_eq!(
            first_difference(&committed, &generated),
            None,
            "include/wq.h is stale: run `cargo xtask header`"
        );
    }

    #[test]
    fn every_ffi_source_reaches_the_header() {
        // One export of each source file: dropping a file from FFI_SOURCES
        // would silently drop its functions from the header.
        let header = String::from_utf8(generate(&repo_root()).unwrap()).unwrap();
        for export in [
            "wq_status wq_open(",
            "wq_status wq_pop_leased(",
            "wq_status wq_push_reserve(",
        ] {
            assert!(header.contains(export), "no {export:?} in the header");
        }
    }

    #[test]
    fn the_version_macros_follow_the_crate_version() {
        let macros = version_macros("1.22.3-rc.1+build").unwrap();
        assert!(macros.contains("#define WQ_VERSION \"1.22.3-rc.1+build\"\n"));
        assert!(macros.contains("#define WQ_VERSION_MAJOR 1\n"));
        assert!(macros.contains("#define WQ_VERSION_MINOR 22\n"));
        assert!(macros.contains("#define WQ_VERSION_PATCH 3\n"));
        assert!(version_macros("1.2").is_err());
        assert!(version_macros("1.x.3").is_err());
        let root_version = crate_version(&repo_root()).unwrap();
        let header = fs::read_to_string(repo_root().join(HEADER)).unwrap();
        assert!(header.contains(&format!("#define WQ_VERSION \"{root_version}\"")));
    }

    #[test]
    fn a_drifted_header_is_found_at_its_line() {
        assert_eq!(first_difference(b"a\nb\nc\n", b"a\nb\nc\n"), None);
        assert_eq!(first_difference(b"a\nb\nc\n", b"a\nB\nc\n"), Some(2));
        assert_eq!(first_difference(b"a\nb\n", b"a\nb\nc\n"), Some(3));
    }
}

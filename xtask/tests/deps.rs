//! `scripts/deps.sh`, the dependency check that the README's demo command,
//! `scripts/test-all.sh` and `.ci/run` share: on a machine that lacks a
//! tool or has a Rust older than Cargo.toml's `rust-version`, it stops with
//! the command that fixes it. The machine is simulated by a `PATH` of stubs.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::{env, fs};

/// A directory to serve as the whole `PATH`, removed when dropped.
struct FakePath(PathBuf);

impl FakePath {
    /// The tools the script itself runs, linked to the real ones, and a
    /// `rustc` and `cargo` that report `rustc_version`.
    fn new(tag: &str, rustc_version: &str) -> FakePath {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("wq-deps-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        for tool in ["bash", "sed", "head", "awk", "dirname", "id", "grep"] {
            let real = which(tool).unwrap_or_else(|| panic!("{tool} is needed by the test"));
            symlink(real, dir.join(tool)).unwrap();
        }
        let path = FakePath(dir);
        path.stub(
            "rustc",
            &format!("echo 'rustc {rustc_version} (0000000 2026-01-01)'"),
        );
        path.stub("cargo", "exit 0");
        path
    }

    /// An executable `name` in this directory running the shell `body`.
    fn stub(&self, name: &str, body: &str) {
        let file = self.0.join(name);
        fs::write(&file, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Runs `scripts/deps.sh level` with this directory as the whole PATH,
    /// never installing.
    fn run(&self, level: &str) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/deps.sh");
        Command::new(self.0.join("bash"))
            .arg(script)
            .arg(level)
            .env_clear()
            .env("PATH", &self.0)
            .env("WQ_NO_INSTALL", "1")
            .output()
            .expect("run deps.sh")
    }
}

impl Drop for FakePath {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn which(tool: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn missing_tools_are_named_with_the_command_that_installs_them() {
    let path = FakePath::new("missing", "1.95.0");
    let out = path.run("demo");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("sudo apt-get install -y cmake gcc g++"),
        "{}",
        stderr(&out)
    );
    // The test level wants more; a package that gives two tools comes once.
    let out = path.run("test");
    assert!(
        stderr(&out).contains("install -y cmake gcc g++ pkg-config binutils util-linux bsdutils\n"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_machine_with_the_tools_passes() {
    let path = FakePath::new("complete", "1.95.0");
    for tool in ["cmake", "cc", "g++"] {
        path.stub(tool, "exit 0");
    }
    let out = path.run("demo");
    assert!(out.status.success(), "{}", stderr(&out));
    // `test` needs more than `demo`.
    assert_eq!(path.run("test").status.code(), Some(2));
    for tool in ["pkg-config", "readelf", "setpriv", "unshare", "script"] {
        path.stub(tool, "exit 0");
    }
    let out = path.run("test");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn an_old_rust_is_refused_with_a_message_naming_rustup() {
    let manifest =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml")).unwrap();
    assert!(
        manifest.contains("\nrust-version = \"1.85\"\n"),
        "the test assumes 1.85"
    );
    for (version, ok) in [
        ("1.84.1", false),
        ("1.9.0", false),
        ("1.85.0", true),
        ("1.100.0", true),
        ("2.0.0", true),
    ] {
        let path = FakePath::new("rust", version);
        for tool in ["cmake", "cc", "g++"] {
            path.stub(tool, "exit 0");
        }
        let out = path.run("demo");
        assert_eq!(
            out.status.success(),
            ok,
            "rustc {version}: {}",
            stderr(&out)
        );
        if !ok {
            let text = stderr(&out);
            assert!(
                text.contains("needs Rust >= 1.85 (it is written in edition 2024)"),
                "{text}"
            );
            assert!(text.contains(&format!("rustc {version}")), "{text}");
            assert!(text.contains("rustup"), "{text}");
        }
    }
}

#[test]
fn no_rust_at_all_is_refused_with_a_message_naming_rustup() {
    let path = FakePath::new("norust", "1.95.0");
    fs::remove_file(path.0.join("rustc")).unwrap();
    let out = path.run("demo");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("https://rustup.rs"),
        "{}",
        stderr(&out)
    );
}

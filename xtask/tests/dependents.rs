//! What a crate that depends on `wq` builds: what it links, and not the
//! header generator. (Before the header moved to `cargo xtask header`, wq's
//! build script compiled cbindgen and its serde/syn/toml tree for every
//! dependent, and wrote `include/wq.h` into wq's source directory.)

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ lies in the repository")
        .to_path_buf()
}

/// The cargo that runs this test (cargo sets `CARGO`). The versions come
/// from wq's lock file, so it reaches the network only to download a
/// package it has never seen.
fn cargo(dir: &Path, args: &[&str]) -> String {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "cargo {args:?} in {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("cargo prints UTF-8")
}

/// A new crate `wq-dependent` with `wq = { path = ... }`, in a directory of
/// its own that is removed when the guard drops.
struct Dependent(PathBuf);

impl Dependent {
    fn new() -> Dependent {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("wq-dependent-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("src")).unwrap();
        let root = repo_root();
        // Its own empty [workspace]: the directory may lie under wq's.
        fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"wq-dependent\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n\
                 [dependencies]\nwq = {{ path = {:?} }}\n\n[workspace]\n",
                root.display().to_string()
            ),
        )
        .unwrap();
        fs::write(
            dir.join("src/main.rs"),
            "fn main() { let _ = wq::Queue::remove; }\n",
        )
        .unwrap();
        // wq's lock file, so that the versions are the ones wq is tested with.
        fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        Dependent(dir)
    }
}

impl Drop for Dependent {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_dependent_crate_builds_no_cbindgen() {
    let dependent = Dependent::new();
    // Every package a plain `cargo build` of the dependent compiles: normal
    // and build dependencies, transitively (dev-dependencies excluded).
    let tree = cargo(
        &dependent.0,
        &[
            "tree",
            "--edges",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ],
    );
    let packages: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    for needed in ["wq-dependent", "wq", "libc", "memmap2", "bytemuck"] {
        assert!(packages.contains(&needed), "{needed} missing from:\n{tree}");
    }
    for generator in ["cbindgen", "toml", "serde_json"] {
        assert!(
            !packages.contains(&generator),
            "a dependent of wq builds {generator}:\n{tree}"
        );
    }
}

#[test]
fn wq_has_no_build_script() {
    // No build script: nothing runs at a dependent's build time, so nothing
    // can write outside OUT_DIR (include/wq.h comes from `cargo xtask header`).
    let json = cargo(
        &repo_root(),
        &["metadata", "--format-version", "1", "--no-deps"],
    );
    let metadata: serde_json::Value = serde_json::from_str(&json).unwrap();
    let wq = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "wq")
        .expect("the workspace has the wq package");
    let kinds: Vec<&str> = wq["targets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["kind"].as_array().unwrap())
        .filter_map(|k| k.as_str())
        .collect();
    assert!(kinds.contains(&"rlib"), "wq's targets: {kinds:?}");
    assert!(
        !kinds.contains(&"custom-build"),
        "wq has a build script: {kinds:?}"
    );
}

#[test]
fn the_header_check_passes_on_the_committed_header() {
    // The command CI runs (`cargo xtask header --check`), as a process.
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["header", "--check"])
        .output()
        .expect("run xtask");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

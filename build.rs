//! Generates `include/wq.h` from the FFI sources with cbindgen.
//!
//! The header is committed; this script rewrites it only when its content
//! changes, so an unchanged header keeps its timestamp (CMake and make do not
//! rebuild C code needlessly). CI regenerates it and fails on any drift.

use std::{env, fs, path::PathBuf};

fn main() {
    let root =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed=src/ffi.rs");
    println!("cargo:rerun-if-changed=src/ffi/leases.rs");
    println!("cargo:rerun-if-changed=src/ffi/zerocopy.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");
    // Tests compile C programs with the same compiler cargo would use.
    println!(
        "cargo:rustc-env=WQ_BUILD_TARGET={}",
        env::var("TARGET").expect("cargo sets TARGET")
    );

    let mut config = cbindgen::Config::from_file(root.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    let version = env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    let part = |var: &str| env::var(var).expect("cargo sets the version parts");
    config.after_includes = Some(format!(
        "\n#define WQ_VERSION \"{version}\"\n#define WQ_VERSION_MAJOR {}\n#define WQ_VERSION_MINOR {}\n#define WQ_VERSION_PATCH {}\n\n/** `timeout_ns`: wait without limit (any negative value does). */\n#define WQ_FOREVER (-1)",
        part("CARGO_PKG_VERSION_MAJOR"),
        part("CARGO_PKG_VERSION_MINOR"),
        part("CARGO_PKG_VERSION_PATCH"),
    ));

    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi.rs"))
        .with_src(root.join("src/ffi/leases.rs"))
        .with_src(root.join("src/ffi/zerocopy.rs"))
        .generate()
        .expect("cbindgen can parse src/ffi.rs")
        .write(&mut generated);

    let header = root.join("include/wq.h");
    if fs::read(&header).ok().as_deref() != Some(generated.as_slice()) {
        fs::create_dir_all(header.parent().expect("include/ has a parent"))
            .expect("include/ can be created");
        fs::write(&header, generated).expect("include/wq.h is writable");
    }
}

//! Platform code, behind one small module. Only Linux is supported.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::*;

#[cfg(not(target_os = "linux"))]
compile_error!(
    "wq supports Linux only (POSIX shared memory, open-file-description locks and futexes)"
);

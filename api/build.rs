//! Where the dashboard (`web/dist`) is, for `rust-embed` (`CREDLEDGER_WEB_DIST`, used by
//! `src/web.rs`): a path without `..`, so it is the folder's canonical path even when the
//! folder does not exist yet. `rust-embed` compares each requested file's canonical path with
//! it, so a path with `..` in it answers nothing for every file when the crate was compiled
//! before the dashboard was built.
//!
//! With debug assertions on, `rust-embed` reads the files from that folder at run time: a
//! change to the dashboard needs no rebuild, so a test build made before `web/dist` existed
//! serves it once it is built. Otherwise the files are embedded: rebuild when the folder
//! changes, or when it first appears (a new entry changes `web/`'s modification time).
use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let workspace = Path::new(&manifest)
        .parent()
        .and_then(|p| p.canonicalize().ok())
        .expect("api/ is a folder of the workspace");
    let web = workspace.join("web");
    let dist = web.join("dist");
    println!("cargo:rustc-env=CREDLEDGER_WEB_DIST={}", dist.display());
    if std::env::var_os("CARGO_CFG_DEBUG_ASSERTIONS").is_none() {
        if dist.exists() {
            println!("cargo:rerun-if-changed={}", dist.display());
        } else {
            println!("cargo:rerun-if-changed={}", web.display());
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}

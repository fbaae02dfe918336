//! The dashboard (`web/dist`) is embedded in the binary: rebuild when it changes, or when it
//! first appears (a new entry changes `web/`'s modification time).
fn main() {
    let dist = std::path::Path::new("../web/dist");
    if dist.exists() {
        println!("cargo:rerun-if-changed=../web/dist");
    } else {
        println!("cargo:rerun-if-changed=../web");
    }
    println!("cargo:rerun-if-changed=build.rs");
}

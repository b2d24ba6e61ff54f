//! The build script every function crate (and `hello-lambda`, the empty
//! function of `bin/bench-cold`) names: links the bootstrap as a position-dependent executable,
//! and in release builds gathers the code its init runs in one place.
//!
//! A PIE bootstrap makes the dynamic loader apply ~20,000 relocations at
//! every cold start, writing (and so copying) every page of its
//! `.data.rel.ro`: about a third of the page faults of an init, and the
//! largest cost left in it. Linked at a fixed address, those pointers are
//! resolved at link time. The cost: the bootstrap's own code and data lose
//! address randomisation (shared libraries, heap and stacks keep it), as Go
//! binaries on Lambda have by default. docs/performance.md, "Cold start",
//! has the figures; deleting this line brings PIE back.
//!
//! The linker script `cold-start.ld` (written by `bin/cold-start-order`)
//! puts the ~1,100 functions an init runs in one output section before
//! `.text`. Left where LTO emits them they lie all over a 6 MB `.text`, and
//! the first touch of each 64 KB window is a page fault that maps 16 pages:
//! ~80 of them per cold start. It adds to the linker's default layout
//! (`INSERT BEFORE`), so GNU ld, lld and the zig linker cargo-lambda uses all
//! take it. Debug builds skip it: nobody cold-starts them, and every test
//! binary would pay its pattern matching at link time.
//!
//! Link arguments for the binaries only, not `RUSTFLAGS`: proc macros and
//! build scripts, built for the same machine, must stay shared objects.
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
    // The functions' crates and hello-lambda sit at different depths below the
    // workspace root, whose functions/ holds the script.
    let manifest = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let Some(script) = manifest.ancestors().map(|dir| dir.join("functions/cold-start.ld")).find(|path| path.is_file()) else {
        println!("cargo:warning=functions/cold-start.ld not found: init code left where LTO put it");
        return;
    };
    println!("cargo:rerun-if-changed={}", script.display());
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        println!("cargo:rustc-link-arg-bins=-T");
        println!("cargo:rustc-link-arg-bins={}", script.display());
    }
}

//! The build script every function crate (and `bench-cold`, for its empty
//! function) names: links the bootstrap as a position-dependent executable.
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
//! A link argument for the binaries only, not `RUSTFLAGS`: proc macros and
//! build scripts, built for the same machine, must stay shared objects.
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
}

//! The Markdown guides under docs/, compiled and run as doctests so that every code block in
//! them stays true. Only built for `cargo test --doc`.

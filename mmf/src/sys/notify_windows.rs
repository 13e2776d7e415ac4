//! Blocking notification backend; see the contract in `sys/mod.rs`.

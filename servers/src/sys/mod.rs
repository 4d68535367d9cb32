//! The only unsafe code in the crate: `fork()`, signal dispositions, waiting
//! for a child's death, the shared memory forked children report into, and
//! the io_uring submissions that lend buffers to the kernel (`uring`).
//! Each unsafe block says why it is sound; everything above this module calls
//! safe functions.
#![allow(unsafe_code)]

mod fork;
mod reap;
mod shared;
mod uring;
mod watch;

pub use fork::{ensure_single_threaded, exit_child, fork, fork_and_reap, Forked};
pub use reap::{install_reaper, reap_all, stop_reaping, SHUTDOWN_GRACE};
pub use shared::shared_default;
pub use uring::{io_uring_available, Completion, Ring};
pub use watch::ChildWatch;

//! The kernel's TCP socket memory of a server's tree: its own memory
//! cgroup's `memory.kmem.tcp.*` (see `cgroup.rs` for why it counts only once
//! a limit is written). Exact, one small file per read, and covering sockets
//! in the kernel's hands too (closed, not yet freed), which no walk of
//! `/proc/<pid>/fd` sees. Unix-domain and UDP sockets are not in it. Beside
//! it, `memory.kmem.*`: all kernel memory charged to the group (the socket
//! objects themselves, page tables, each child's kernel stack), what an idle
//! connection costs the kernel when its buffers are empty.

use std::fs;
use std::path::PathBuf;

use crate::cgroup::{server_group, Hierarchy};

/// Reads one server's TCP socket memory.
#[derive(Debug, Clone)]
pub(crate) struct SocketMeter {
    dir: PathBuf,
}

impl SocketMeter {
    /// `pid`'s own memory group, if it has one that accounts TCP memory.
    pub(crate) fn new(pid: u32) -> Option<SocketMeter> {
        let dir = server_group(Hierarchy::Memory, pid)?;
        dir.join("memory.kmem.tcp.usage_in_bytes")
            .exists()
            .then_some(SocketMeter { dir })
    }

    /// The memory in use now, kB.
    pub(crate) fn now_kb(&self) -> Option<u64> {
        self.read("memory.kmem.tcp.usage_in_bytes")
    }

    /// Starts the kernel's own peak afresh (at the window's start).
    pub(crate) fn reset_peak(&self) {
        // Without the right to write, the peak covers the server's whole life.
        let _ = fs::write(self.dir.join("memory.kmem.tcp.max_usage_in_bytes"), "0");
        let _ = fs::write(self.dir.join("memory.kmem.max_usage_in_bytes"), "0");
    }

    /// The kernel's peak of all kernel memory charged to the group since the last reset, kB.
    pub(crate) fn kernel_peak_kb(&self) -> Option<u64> {
        self.read("memory.kmem.max_usage_in_bytes")
    }

    /// The kernel's peak since the last reset, kB (every allocation, not just
    /// the instants a sample was taken).
    pub(crate) fn peak_kb(&self) -> Option<u64> {
        self.read("memory.kmem.tcp.max_usage_in_bytes")
    }

    fn read(&self, file: &str) -> Option<u64> {
        let text = fs::read_to_string(self.dir.join(file)).ok()?;
        text.trim().parse::<u64>().ok().map(|b| b / 1024)
    }
}

//! `fork` — Comer & Stevens' *concurrent, connection-oriented* server, the
//! lab's `server 51717`.
//!
//! The parent accepts; for each connection it `fork()`s a child that closes
//! the listening socket, serves the connection and exits, while the parent
//! closes its copy of the connection and goes back to `accept()`. Each client
//! gets its own process (isolation, simple blocking code), at the price of a
//! fork, an exit and a reap per connection, a cost that grows with the
//! parent's memory (`--ballast`), and of zombies if the parent does not reap
//! (`--reap`). Live children are capped (`--max-children`): at the cap the
//! parent stops accepting and new clients wait in the backlog.
//!
//! This model must be the only thread of its process (see `sys::fork`).

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use nix::unistd::Pid;

use crate::conn::serve_blocking;
use crate::context::{Context, ServeError, Server};
use crate::net::Listener;
use crate::stats::Fault;
use crate::stop::TICK;
use crate::sys::{self, Forked};

/// Most children the table can track; `--max-children` is clamped to it.
pub const MAX_CHILD_SLOTS: usize = 4096;

/// One process per connection.
pub struct ForkServer;

const FREE: i32 = 0;
const RESERVED: i32 = -1;

/// Live children, in memory shared with them: a slot holds a child's pid
/// while it runs; the child frees its own slot just before it exits, so the
/// parent can count live children under every reaping policy (with SIG_IGN
/// there is no wait() to tell it).
struct ChildTable {
    slots: [AtomicI32; MAX_CHILD_SLOTS],
}

impl Default for ChildTable {
    fn default() -> Self {
        ChildTable {
            slots: std::array::from_fn(|_| AtomicI32::new(FREE)),
        }
    }
}

impl ChildTable {
    fn reserve(&self, cap: usize) -> Option<usize> {
        // A plain load first: a busy slot costs a read, not a failed CAS.
        self.slots[..cap].iter().position(|s| {
            s.load(Ordering::Relaxed) == FREE
                && s.compare_exchange(FREE, RESERVED, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
        })
    }

    /// Records the child's pid, unless the child already finished and freed it.
    fn record(&self, slot: usize, pid: Pid) {
        let _ = self.slots[slot].compare_exchange(
            RESERVED,
            pid.as_raw(),
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
    }

    fn release(&self, slot: usize) {
        self.slots[slot].store(FREE, Ordering::Release);
    }

    fn has_live(&self) -> bool {
        self.slots.iter().any(|s| s.load(Ordering::Acquire) > 0)
    }

    /// Frees the slots of children that died without freeing their own (killed
    /// by a signal): their pid is gone, or a zombie, or no longer our child.
    /// Without this a crash would shrink the cap for good, and shutdown could
    /// signal a pid the kernel has since given to someone else.
    fn prune(&self) {
        let me = std::process::id() as i32;
        for slot in &self.slots {
            let pid = slot.load(Ordering::Acquire);
            if pid > 0 && !is_live_child(pid, me) {
                let _ = slot.compare_exchange(pid, FREE, Ordering::AcqRel, Ordering::Relaxed);
            }
        }
    }

    fn live(&self) -> Vec<Pid> {
        self.slots
            .iter()
            .map(|s| s.load(Ordering::Acquire))
            .filter(|&p| p > 0)
            .map(Pid::from_raw)
            .collect()
    }
}

/// Whether `pid` is a running (not zombie) child of `parent`, from /proc.
fn is_live_child(pid: i32, parent: i32) -> bool {
    u32::try_from(pid)
        .ok()
        .and_then(probe::read_stat)
        .is_some_and(|s| !s.is_zombie() && i64::from(s.ppid) == i64::from(parent))
}

impl Server for ForkServer {
    fn serve(self, listener: Listener, ctx: &Context) -> Result<(), ServeError> {
        sys::ensure_single_threaded().map_err(ServeError::setup("fork safely"))?;
        crate::accept::blocking_listener(&listener)?;
        let config = ctx.config;
        let table: &'static ChildTable =
            sys::shared_default().map_err(ServeError::setup("map the child table"))?;
        let cap = config.max_children.clamp(1, MAX_CHILD_SLOTS);
        sys::install_reaper(config.reap)
            .map_err(ServeError::setup("install the SIGCHLD disposition"))?;
        // Touched, so it is resident and fork() must copy its page tables.
        let ballast = vec![0x5Au8; config.ballast_mb << 20];
        let mut listener = Some(listener);
        let mut last_prune = Instant::now();

        while !ctx.stop.is_set() {
            let Some(slot) = table.reserve(cap) else {
                // At the cap: leave new clients in the backlog until a child
                // exits, and now and then look for children that died without
                // saying so (reading /proc for every slot is not free).
                if last_prune.elapsed() >= TICK {
                    table.prune();
                    last_prune = Instant::now();
                }
                std::thread::sleep(Duration::from_millis(1));
                continue;
            };
            let accepted = listener
                .as_ref()
                .and_then(|l| crate::accept::next_connection(l, ctx));
            let Some(stream) = accepted else {
                table.release(slot);
                break;
            };
            match sys::fork() {
                Ok(Forked::Child) => {
                    // The child closes the listening socket, serves, and exits.
                    drop(listener.take());
                    serve_blocking(stream, ctx);
                    table.release(slot);
                    sys::exit_child(0);
                }
                Ok(Forked::Parent(pid)) => {
                    table.record(slot, pid);
                    ctx.counters.connection();
                    // The parent's copy of the connection closes here; the child's stays open.
                    drop(stream);
                }
                Err(_) => {
                    // Out of processes or memory: drop this client, back off, go on.
                    table.release(slot);
                    ctx.counters.fault(Fault::Resource);
                    drop(stream);
                    std::thread::sleep(crate::accept::RESOURCE_BACKOFF);
                }
            }
        }

        drop(listener);
        // Reaching `--stop-after` ends the loop while the last children may
        // still be serving: let them finish (a stop signal still cuts this
        // short) instead of terminating their clients below.
        while !ctx.stop.is_set() && table.has_live() {
            if last_prune.elapsed() >= TICK {
                table.prune();
                last_prune = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        std::hint::black_box(&ballast);
        sys::stop_reaping(config.reap).map_err(ServeError::setup("block SIGCHLD for shutdown"))?;
        // With SIGCHLD blocked nothing is reaped behind our back any more, so
        // every pid that survives the prune is still our child when signalled.
        table.prune();
        sys::reap_all(&table.live(), sys::SHUTDOWN_GRACE);
        Ok(())
    }
}

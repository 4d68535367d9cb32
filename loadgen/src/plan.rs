//! What to run: the plain description of one load run. The CLI and the
//! experiment harness build a [`LoadPlan`]; the engine only reads it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where the server is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Tcp(SocketAddr),
    Udp(SocketAddr),
    Unix(PathBuf),
}

/// How requests are issued.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum Mode {
    /// Closed loop on persistent connections (netperf TCP_RR).
    Rr,
    /// Connect, request, response, close, per request (netperf TCP_CRR).
    Crr,
    /// A fixed offered rate spread over the connections; latency from each
    /// request's intended send time (wrk2's coordinated-omission correction).
    Open { rate_rps: f64 },
    /// Sequence-numbered datagrams with a per-request timeout (netperf UDP_RR).
    Udp,
}

impl Mode {
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Rr => "rr",
            Mode::Crr => "crr",
            Mode::Open { .. } => "open",
            Mode::Udp => "udp",
        }
    }
}

/// What each request asks of the server, and so what the response must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "service")]
pub enum Workload {
    /// RFC 862 echo: `size` bytes out, the same bytes back.
    Echo { size: usize },
    /// A synthetic frame (`servers::wire`): payload bytes out, a checkable
    /// body of `response_len` bytes back, after `cpu_us` of CPU and `wait_us` of waiting.
    Synthetic {
        payload_len: u32,
        response_len: u32,
        cpu_us: u32,
        wait_us: u32,
    },
}

/// One load run, bounded by `duration` and/or `max_requests`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadPlan {
    pub target: Target,
    pub mode: Mode,
    pub workload: Workload,
    /// Active connections (or UDP flows) issuing requests.
    pub connections: usize,
    /// Extra connections opened and held idle for the whole run (the C10K shape).
    pub idle_connections: usize,
    /// Engine threads; 0 means one per core.
    pub threads: usize,
    /// Pause between a response and the next request on a connection (rr, crr).
    #[serde(
        rename = "think_time_us",
        alias = "think_time",
        with = "crate::units::micros"
    )]
    pub think_time: Duration,
    /// Run this long before recording; its samples are discarded.
    #[serde(rename = "warmup_s", alias = "warmup", with = "crate::units::seconds")]
    pub warmup: Duration,
    /// Record for this long after the warm-up.
    #[serde(
        rename = "duration_s",
        alias = "duration",
        with = "crate::units::seconds"
    )]
    pub duration: Duration,
    /// Stop after this many recorded requests (whichever bound comes first).
    pub max_requests: Option<u64>,
    /// A request with no complete answer after this long is an error (a UDP loss).
    #[serde(
        rename = "request_timeout_s",
        alias = "request_timeout",
        with = "crate::units::seconds"
    )]
    pub request_timeout: Duration,
    /// Close CRR connections with SO_LINGER 0 (RST, no TIME_WAIT on our side).
    pub linger_zero: bool,
    /// The server's root pid, to sample its process tree's cost from /proc.
    pub server_pid: Option<u32>,
    /// The server's CPUs (for the per-CPU busy time), if it is pinned.
    pub server_cpus: Option<Vec<usize>>,
    /// Also count the server's system calls over the window (`perf stat`;
    /// needs `server_pid`). Off by default: counting slows every system call
    /// the server makes, so its CPU figures read higher.
    #[serde(default)]
    pub count_syscalls: bool,
    /// Misbehaving clients run beside the measured ones for the whole run
    /// (warm-up included): slow connections or a connection flood.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attack: Option<Attack>,
    /// Synthetic workloads: the share (0–1) of requests that carry the
    /// workload's `wait_us`; the others ask for no wait. Which ones is drawn
    /// per request from its key with a fixed seed ([`crate::check::waits`]),
    /// so a run is repeatable and every response is still checked exactly.
    /// `None`: every request waits (the plain workload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_share: Option<f64>,
    /// `crr`: requests sent on each connection before it is closed and a new
    /// one opened (the first one's latency includes the connect). `None`: one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_connection: Option<u64>,
}

/// Clients that do the server no good, run beside the measured ones: what a
/// well-behaved client keeps of its throughput under them is the figure.
/// Both are bounded: a count of connections, or a rate, for the run's length.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "attack")]
pub enum Attack {
    /// Slowloris: `connections` connections opened before the run, each
    /// sending one byte of a request every `interval_ms` and never its last
    /// byte, so no request ever completes and no idle timeout ever fires.
    Slowloris {
        connections: usize,
        interval_ms: u64,
    },
    /// A connection flood: `rate_cps` connections a second opened and closed
    /// at once with a reset (SO_LINGER 0, no TIME_WAIT), nothing sent.
    Flood { rate_cps: f64 },
}

impl LoadPlan {
    /// A plan with the defaults: one echo RR connection of 64 bytes for 5 s after 1 s of warm-up.
    pub fn new(target: Target, mode: Mode) -> Self {
        LoadPlan {
            target,
            mode,
            workload: Workload::Echo { size: 64 },
            connections: 1,
            idle_connections: 0,
            threads: 0,
            think_time: Duration::ZERO,
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(5),
            max_requests: None,
            request_timeout: Duration::from_secs(2),
            linger_zero: false,
            server_pid: None,
            server_cpus: None,
            count_syscalls: false,
            attack: None,
            wait_share: None,
            requests_per_connection: None,
        }
    }
}

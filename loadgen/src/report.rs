//! What a run measured: the JSON a run writes (`--json FILE`), which the
//! harness stores, `sockbench merge` combines and the report reads.
//!
//! Stable top-level fields: `throughput_rps`, `latency_ns` (`p50`, `p75`, `p90`,
//! `p99`, `p999`, `p9999`, `p99999`, `max`, `mean`, `stdev`, `count`), `errors` (by kind,
//! with `total`), and for UDP `udp` (`sent`, `answered`, `lost`, `late`,
//! `duplicates`). Times carry their unit in the name. `schema_version` says
//! which layout a file has; `sockbench_version` which build wrote it.

use serde::{Deserialize, Serialize};

use crate::plan::LoadPlan;

/// The layout version of [`LoadReport`]'s JSON. 2: durations in the plan
/// are numbers with units in their names, percentiles add p75 and p99999.
pub const SCHEMA_VERSION: u32 = 2;

/// Summary statistics of one latency distribution, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub min: u64,
    pub p50: u64,
    /// Absent from results written before it was added (read as 0).
    #[serde(default)]
    pub p75: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    /// Absent from results written before it was added (read as 0).
    #[serde(default)]
    pub p99999: u64,
    pub max: u64,
    pub mean: f64,
    pub stdev: f64,
}

/// Failed requests and connections, by kind. None is a latency sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadErrors {
    /// connect() refused (nobody listening, or the backlog overflowed with RSTs).
    pub connect_refused: u64,
    /// connect() did not complete within the request timeout.
    pub connect_timeout: u64,
    /// Other connect() failures; `ports_exhausted` is counted separately.
    pub connect_other: u64,
    /// No free local port (EADDRNOTAVAIL): TIME_WAIT ate the ephemeral range.
    pub ports_exhausted: u64,
    /// The connection was reset while a request was outstanding.
    pub reset: u64,
    /// The server closed before the whole response arrived.
    pub short_response: u64,
    /// A response byte differed from the expected one.
    pub mismatch: u64,
    /// A synthetic response with an error status.
    pub server_error: u64,
    /// No complete response within the request timeout (stream transports).
    pub timeout: u64,
    /// Other I/O errors.
    pub io: u64,
    /// The server closed a connection while no request was outstanding (an
    /// idle connection, or between requests); it is reopened.
    #[serde(default)]
    pub dropped_idle: u64,
    pub total: u64,
}

/// The datagram accounting of a `udp` run. `sent == answered + lost` exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UdpCounts {
    pub sent: u64,
    /// Answered in time (only these are latency samples).
    pub answered: u64,
    /// Not answered within the timeout.
    pub lost: u64,
    /// Answers that arrived after their request was counted lost.
    pub late: u64,
    /// Second and later answers to one request.
    pub duplicates: u64,
    /// Kernel `Udp: RcvbufErrors` delta over the run (/proc/net/snmp).
    pub kernel_rcvbuf_errors: u64,
    /// Kernel `Udp: InErrors` delta over the run (/proc/net/snmp).
    pub kernel_in_errors: u64,
}

/// One second of the run (after warm-up), so a chart can show stability.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    /// Seconds since the end of the warm-up, at the end of this interval.
    pub t_s: f64,
    pub requests: u64,
    pub errors: u64,
    pub p99_ns: u64,
}

/// One sample of the server's process tree, taken during the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSample {
    /// Seconds since the end of the warm-up (negative during the warm-up).
    pub t_s: f64,
    pub processes: u64,
    pub threads: u64,
    pub zombies: u64,
    /// Σ resident memory of the tree's live processes (shared pages once per process).
    pub rss_kb: u64,
    /// Cumulative CPU of the tree since the probe started, in seconds.
    pub cpu_s: f64,
    /// Σ proportional memory (smaps_rollup PSS) of the tree: shared pages once.
    #[serde(default)]
    pub pss_kb: u64,
    /// The kernel's TCP socket memory of the tree (its memory cgroup), if counted.
    #[serde(default)]
    pub socket_mem_kb: Option<u64>,
}

/// What serving cost the server's whole process tree (the root and every
/// descendant, zombies included) over the recorded window, measured from
/// outside by the probe (the `probe` crate's doc says how).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerCost {
    pub pid: u32,
    /// User share of `cpu_ns`, in seconds (the kernel's user/system split
    /// scaled to the exact total).
    pub cpu_user_s: f64,
    /// System share of `cpu_ns`, in seconds.
    pub cpu_system_s: f64,
    /// Service demand: server CPU microseconds per completed request,
    /// `cpu_ns / 1000 / requests`. Exact when `cpu_exact`. On loopback it holds
    /// only the kernel work that ran on the server's side: a packet's receive
    /// path runs on the sender's CPU, so compare `machine_cpu_us_per_req` too.
    pub cpu_us_per_req: f64,
    /// Busy time of the server's pinned CPUs per request (/proc/stat),
    /// which also counts kernel work done on those CPUs for anyone (softirqs)
    /// and other tasks that ran there. `None` if not pinned.
    pub cpuset_us_per_req: Option<f64>,
    pub voluntary_ctxt_switches: u64,
    pub involuntary_ctxt_switches: u64,
    /// Both kinds of context switch per completed request: a blocking pool
    /// pays about one a request (a sleep and a wake-up), an event loop a few
    /// per thousand.
    #[serde(default)]
    pub ctxt_switches_per_req: f64,
    /// System calls every task of the tree entered over the window
    /// (`perf stat -e raw_syscalls:sys_enter`), when the plan asked for them.
    #[serde(default)]
    pub syscalls: Option<u64>,
    /// `syscalls` per completed request.
    #[serde(default)]
    pub syscalls_per_req: Option<f64>,
    /// Why `syscalls` is absent: not asked for, perf missing or not permitted.
    #[serde(default)]
    pub syscalls_note: Option<String>,
    /// Peak over the window's samples of Σ RSS over the tree. A page shared by
    /// n processes (a forked server's text and heap) counts n times: an upper
    /// bound, not the memory used; `peak_pss_kb` is.
    pub peak_rss_kb: u64,
    pub peak_processes: u64,
    pub peak_threads: u64,
    pub peak_zombies: u64,
    /// Zombies at the end of the run.
    pub zombies_end: u64,
    pub samples: Vec<ServerSample>,
    /// Server CPU over the window, nanoseconds: every task of the tree, from
    /// the window's start to its end, both read at those instants.
    #[serde(default)]
    pub cpu_ns: u64,
    /// Where `cpu_ns` came from: `cgroup-cpuacct` (the server's own cgroup v1,
    /// ns), `cgroup-cpu-stat` (its own cgroup v2, µs), or `process-clocks`
    /// (no group: each live process's CPU clock plus zombies' and reaped
    /// children's ticks). Empty in results made before it existed.
    #[serde(default)]
    pub cpu_source: String,
    /// `cpu_ns` counts every task that ran (a cgroup source). False for
    /// `process-clocks`: children reaped by the kernel (SIGCHLD ignored) are
    /// missing and reaped ones are rounded to clock ticks.
    #[serde(default)]
    pub cpu_exact: bool,
    /// Peak over the window's samples of Σ PSS (smaps_rollup) over the tree:
    /// each page shared by n processes counts 1/n in each, so once in all.
    /// The memory the design costs; per connection, divide by connections.
    #[serde(default)]
    pub peak_pss_kb: u64,
    /// Peak over the window of the kernel's TCP socket buffer memory of the
    /// server's sockets (its memory cgroup's `memory.kmem.tcp`, the kernel's
    /// own peak): memory the process tree's PSS does not show. `None` when the
    /// server has no memory group of its own (then it is not counted).
    #[serde(default)]
    pub socket_mem_kb: Option<u64>,
    /// Peak over the window of all kernel memory charged to the server's
    /// memory cgroup (`memory.kmem`): socket objects, page tables, each
    /// forked child's kernel stack — what an idle connection costs the kernel
    /// when its buffers are empty. TCP buffers are charged apart (cgroup v1),
    /// so add `socket_mem_kb`. `None` without a memory group of its own.
    #[serde(default)]
    pub kernel_mem_kb: Option<u64>,
    /// CPU the probe itself used (its sampling thread and the window-edge
    /// reads), microseconds. It runs in the load generator's process, so
    /// `loadgen.cpu_*` include it.
    #[serde(default)]
    pub probe_cpu_us: f64,
    /// The sampling interval the probe ended with, ms: it widens on large
    /// trees so sampling stays a small share of one CPU.
    #[serde(default)]
    pub sample_interval_ms: f64,
}

/// The load generator's own cost, to tell when it, not the server, was the bottleneck.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadgenCost {
    pub cpu_user_s: f64,
    pub cpu_system_s: f64,
    /// CPU seconds per wall second divided by the engine threads (1.0 = every thread busy).
    pub utilization: f64,
    /// The load generator's own CPU (getrusage, every thread of its
    /// process, the probe included) per completed request.
    pub cpu_us_per_req: f64,
    pub threads: usize,
}

/// Kernel TCP counters over the run (/proc/net/netstat): a full accept backlog shows here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelTcp {
    pub listen_overflows: u64,
    pub listen_drops: u64,
    /// `TcpExt: TCPSynRetrans`: SYNs sent again because no SYN-ACK came
    /// (a full accept queue drops SYNs silently; the client retries after
    /// 1 s, then 2 s more, doubling). 0 where the kernel lacks the counter.
    #[serde(default)]
    pub syn_retransmits: u64,
}

/// The machine and build a result came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    pub hostname: String,
    pub cpu_model: String,
    pub cores: usize,
    pub memory_kb: u64,
    pub kernel: String,
    pub rustc: String,
    pub git_revision: String,
    /// Hardware threads per physical core (2: SMT siblings share a core's
    /// execution units, so two "cores" may be one); 0 if unknown.
    #[serde(default)]
    pub threads_per_core: usize,
    /// Transparent huge pages (`/sys/kernel/mm/transparent_hugepage/enabled`, the chosen value).
    #[serde(default)]
    pub thp: String,
    /// `net.core.somaxconn`: the ceiling on any listen() backlog.
    #[serde(default)]
    pub somaxconn: String,
    /// `net.ipv4.tcp_tw_reuse`.
    #[serde(default)]
    pub tcp_tw_reuse: String,
    /// `net.ipv4.ip_local_port_range`: the client ports CRR can use.
    #[serde(default)]
    pub ip_local_port_range: String,
}

/// Whether an `open` run offered the load it was asked to (Lancet's and
/// Treadmill's self-check): the achieved rate within a tolerance of the
/// offered one, and requests leaving on schedule. An invalid point measured
/// something other than its plan: the generator or the connections could not
/// keep up, or the server is past its knee.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Validity {
    pub valid: bool,
    /// Why the point is invalid, one sentence per failed check (empty when valid).
    pub reasons: Vec<String>,
    /// Recorded requests that left within the recorded interval, per second:
    /// the rate really offered. (`throughput_rps` also counts requests
    /// scheduled in the interval that left after it, since none is omitted.)
    pub achieved_rps: f64,
    /// `achieved_rps` over the offered rate, minus one (−0.10: 10 % short).
    pub rate_error: f64,
    /// The largest |`rate_error`| a valid point may have.
    pub rate_tolerance: f64,
    /// The send lag's 99th percentile.
    pub send_lag_p99_ns: u64,
    /// The largest send-lag p99 a valid point may have.
    pub send_lag_bound_ns: u64,
}

/// How the engine's threads did their I/O, chosen per run from the plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IoPath {
    /// mio event loops (many connections per thread, timers, open loop, UDP).
    #[default]
    EventLoop,
    /// One `rr` connection per thread with blocking calls: no `epoll_wait`
    /// per request, as a one-thread blocking client measures.
    Blocking,
}

/// Everything one load run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// The layout of this JSON: [`SCHEMA_VERSION`] when written; 0 for
    /// results from before the field existed.
    #[serde(default)]
    pub schema_version: u32,
    /// The `sockbench` (loadgen) version that wrote it, with its git revision
    /// in `machine.git_revision`.
    #[serde(default)]
    pub sockbench_version: String,
    /// Completed, checked requests per second over the recorded interval.
    pub throughput_rps: f64,
    /// Latency (corrected from the intended send time in `open` mode).
    pub latency_ns: Percentiles,
    /// `open` mode: latency from the actual send time (the service time).
    pub uncorrected_latency_ns: Option<Percentiles>,
    /// `crr` mode: connect() latency alone.
    pub connect_latency_ns: Option<Percentiles>,
    /// `open` mode: how late each recorded request left, actual minus intended
    /// send time (0 on time, recorded as 1 ns).
    #[serde(default)]
    pub send_lag_ns: Option<Percentiles>,
    /// How the threads did their I/O (`blocking` for one `rr` connection per thread).
    #[serde(default)]
    pub io_path: IoPath,
    /// `open` mode: whether the point offered the load of its plan.
    #[serde(default)]
    pub validity: Option<Validity>,
    /// `open` mode: the rate asked for.
    pub offered_rps: Option<f64>,
    pub requests: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub errors: LoadErrors,
    pub udp: Option<UdpCounts>,
    /// Recorded interval in seconds (excludes the warm-up).
    pub duration_s: f64,
    /// The run was cut short (Ctrl-C): figures cover what ran.
    pub partial: bool,
    pub timeline: Vec<Tick>,
    pub server: Option<ServerCost>,
    pub loadgen: LoadgenCost,
    pub kernel_tcp: KernelTcp,
    pub plan: LoadPlan,
    pub machine: Machine,
    /// The latency histogram, HdrHistogram V2 compressed, base64 (mergeable).
    pub histogram_v2: String,
    /// The uncorrected histogram, same encoding (`open` mode).
    pub uncorrected_histogram_v2: Option<String>,
    /// The connect-latency histogram, same encoding (`crr` mode), so merges stay exact.
    #[serde(default)]
    pub connect_histogram_v2: Option<String>,
    /// The send-lag histogram, same encoding (`open` mode), so merges stay exact.
    #[serde(default)]
    pub send_lag_histogram_v2: Option<String>,
    /// An HdrHistogram interval log (V2, compressed, one interval per second).
    pub interval_log: String,
    /// Busy time of every CPU of the machine over the window per completed
    /// request (/proc/stat user+nice+system+irq+softirq, not steal, clock-tick
    /// resolution): server, load generator, the kernel's softirqs and anyone
    /// else. On loopback the only figure that holds all of a request's kernel
    /// work; on a shared machine it holds the neighbours' too. `None` without /proc/stat.
    #[serde(default)]
    pub machine_cpu_us_per_req: Option<f64>,
    /// What the plan's attackers did (slow connections, a flood), if it had any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attack: Option<AttackCounts>,
    /// `open` mode: correct answers that arrived inside the recorded interval,
    /// whichever request they answered, per second. Past the server's knee
    /// this is its pace, where `throughput_rps` still counts every request
    /// scheduled in the interval however late it was answered. `None` in the
    /// other modes and in results made before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput_rps: Option<f64>,
}

/// What a run's attackers did, over the whole run (warm-up included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttackCounts {
    /// Connections the attackers opened.
    pub opened: u64,
    /// Connection attempts that failed (refused, timed out, no port).
    pub failed: u64,
    /// Slow connections the server closed (an idle or request timeout).
    pub closed_by_server: u64,
    /// Slow connections still open when the run ended.
    pub held_at_end: u64,
    /// Bytes the attackers sent.
    pub bytes_sent: u64,
}

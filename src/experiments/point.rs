//! One thing to measure: how to start the server ([`ServerSpec`]) and what
//! the load generator does ([`LoadSpec`]), under a legend entry and an x.

use std::time::Duration;

use loadgen::{Mode, Workload};
use servers::{Model, ServiceKind, Transport};

/// How to start the server for one point.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    pub model: Model,
    pub transport: Transport,
    pub service: ServiceKind,
    /// Extra `sockbench serve` flags (e.g. `--reap none`, `--ballast-mb 64`).
    pub args: Vec<String>,
}

impl ServerSpec {
    /// Echo over the model's natural transport, no extra flags.
    pub fn new(model: Model) -> Self {
        let transport = if model == Model::UdpIterative {
            Transport::Udp
        } else {
            Transport::Tcp
        };
        // A pool smaller than a point's persistent connections starves the
        // rest (claim 6 shows that on purpose with idle connections); 128
        // workers is more than any other point uses, so elsewhere the pool is
        // measured for its hand-off cost, not its size.
        let args = match model {
            Model::ThreadPool => vec!["--workers".to_string(), "128".to_string()],
            // Preforked processes cost memory each; 8 serve every point's clients.
            Model::Prefork => vec!["--workers".to_string(), "8".to_string()],
            _ => Vec::new(),
        };
        ServerSpec {
            model,
            transport,
            service: ServiceKind::Echo,
            args,
        }
    }

    pub fn transport(mut self, t: Transport) -> Self {
        self.transport = t;
        self
    }

    pub fn service(mut self, s: ServiceKind) -> Self {
        self.service = s;
        self
    }

    pub fn arg(mut self, flag: &str, value: impl ToString) -> Self {
        self.args.push(flag.to_string());
        self.args.push(value.to_string());
        self
    }
}

/// What the load generator does for one point.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub mode: Mode,
    pub workload: Workload,
    pub connections: usize,
    pub idle: usize,
    pub think: Duration,
    pub timeout: Duration,
    pub linger_zero: bool,
    /// Stop after this many requests, whatever the profile's duration.
    pub requests: Option<u64>,
    /// A recorded window of its own instead of the profile's.
    pub window: Option<Duration>,
    /// Count the server's system calls (`perf stat`), which slows each one:
    /// only where the count is the point, never where CPU is compared.
    pub count_syscalls: bool,
    /// Misbehaving clients beside the measured ones (slowloris, a flood).
    pub attack: Option<loadgen::Attack>,
    /// Synthetic: the share of requests that carry the workload's wait (the
    /// rest ask for none); `None`: all of them.
    pub wait_share: Option<f64>,
    /// `crr`: requests on each connection before it closes; `None`: one.
    pub requests_per_connection: Option<u64>,
}

impl LoadSpec {
    /// 64-byte echo, one connection, the given mode.
    pub fn new(mode: Mode) -> Self {
        LoadSpec {
            mode,
            workload: Workload::Echo { size: 64 },
            connections: 1,
            idle: 0,
            think: Duration::ZERO,
            timeout: Duration::from_secs(2),
            linger_zero: false,
            requests: None,
            window: None,
            count_syscalls: false,
            attack: None,
            wait_share: None,
            requests_per_connection: None,
        }
    }

    pub fn connections(mut self, c: usize) -> Self {
        self.connections = c;
        self
    }

    pub fn idle(mut self, k: usize) -> Self {
        self.idle = k;
        self
    }

    pub fn workload(mut self, w: Workload) -> Self {
        self.workload = w;
        self
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    pub fn linger_zero(mut self) -> Self {
        self.linger_zero = true;
        self
    }

    pub fn window(mut self, w: Duration) -> Self {
        self.window = Some(w);
        self
    }

    /// Counts the server's system calls over the window (see the field).
    pub fn count_syscalls(mut self) -> Self {
        self.count_syscalls = true;
        self
    }

    pub fn attack(mut self, a: loadgen::Attack) -> Self {
        self.attack = Some(a);
        self
    }

    pub fn requests(mut self, n: u64) -> Self {
        self.requests = Some(n);
        self
    }

    pub fn wait_share(mut self, share: f64) -> Self {
        self.wait_share = Some(share);
        self
    }

    pub fn requests_per_connection(mut self, k: u64) -> Self {
        self.requests_per_connection = Some(k);
        self
    }
}

/// A synthetic request that burns `cpu_us` and answers 64 bytes.
pub fn cpu_work(cpu_us: u32) -> Workload {
    Workload::Synthetic {
        payload_len: 64,
        response_len: 64,
        cpu_us,
        wait_us: 0,
    }
}

/// A figure read from a report.
pub type Figure = fn(&loadgen::LoadReport) -> Option<f64>;

/// One thing to measure.
#[derive(Debug, Clone)]
pub struct Point {
    /// The legend entry.
    pub series: String,
    /// The swept variable.
    pub x: f64,
    pub server: ServerSpec,
    pub load: LoadSpec,
    /// A second load run at the same time (its latency is not the one charted).
    pub background: Option<LoadSpec>,
    /// The figure its claim's verdict turns on, when it is not one of the
    /// figures every point is checked on (throughput, p50, server CPU): the
    /// confidence target repeats until this one settles too.
    pub decisive: Option<(&'static str, Figure)>,
}

impl Point {
    pub fn new(series: impl Into<String>, x: f64, server: ServerSpec, load: LoadSpec) -> Self {
        Point {
            series: series.into(),
            x,
            server,
            load,
            background: None,
            decisive: None,
        }
    }

    /// Names the figure the verdict turns on (see [`Point::decisive`]).
    pub fn decisive(mut self, name: &'static str, figure: Figure) -> Self {
        self.decisive = Some((name, figure));
        self
    }
}

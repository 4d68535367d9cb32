//! The end of a run: the threads' recorders merged into one distribution and
//! timeline, the kernel's and the server's counters read, and the report built.

use std::time::SystemTime;

use crate::plan::{LoadPlan, Mode, Target};
use probe::{KernelTcp, KernelUdp};

use crate::report::{self as data, IoPath, LoadErrors, LoadReport, LoadgenCost, UdpCounts};
use crate::stats::{self, add_errors, add_udp, interval_log, merge_ticks, new_histogram};
use crate::watch::{KernelUdpDelta, ServerWatch};

use super::{LoadError, WorkerResult};

/// Kernel counters read before and after a run (zero where /proc has none).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counters {
    tcp: Option<KernelTcp>,
    udp: Option<KernelUdp>,
}

impl Counters {
    /// Reads them where the server is: in its network namespace if its pid
    /// is known (a server on another host drops and overflows there), else in ours.
    pub fn read(plan: &LoadPlan) -> Self {
        Counters::of(plan.server_pid, matches!(plan.target, Target::Udp(_)))
    }

    /// The UDP (`udp`) or TCP counters of `pid`'s network namespace, or of ours.
    pub fn of(pid: Option<u32>, udp: bool) -> Self {
        match (udp, pid) {
            (true, Some(pid)) => Counters {
                tcp: None,
                udp: probe::kernel_udp_of(pid).ok(),
            },
            (true, None) => Counters {
                tcp: None,
                udp: probe::kernel_udp().ok(),
            },
            (false, Some(pid)) => Counters {
                tcp: probe::kernel_tcp_of(pid).ok(),
                udp: None,
            },
            (false, None) => Counters {
                tcp: probe::kernel_tcp().ok(),
                udp: None,
            },
        }
    }

    /// The growth since `before`, in the report's terms (`None` where either read failed).
    pub fn delta_since(
        &self,
        before: &Counters,
    ) -> (Option<data::KernelTcp>, Option<KernelUdpDelta>) {
        let tcp = match (before.tcp, self.tcp) {
            (Some(b), Some(a)) => Some(crate::cost::kernel_tcp(a.delta_since(&b))),
            _ => None,
        };
        let udp = match (before.udp, self.udp) {
            (Some(b), Some(a)) => {
                let d = a.delta_since(&b);
                Some(KernelUdpDelta {
                    rcvbuf_errors: d.rcvbuf_errors,
                    in_errors: d.in_errors,
                })
            }
            _ => None,
        };
        (tcp, udp)
    }
}

/// One edge of the recorded window: when recording began (the end of the
/// warm-up) or ended (the threads stopped issuing, before their drain).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Recording {
    pub wall: SystemTime,
    /// Our own CPU (user, system seconds) at that moment.
    pub cpu: (f64, f64),
    /// The machine's busy time (every CPU) at that moment, ns.
    pub machine_busy_ns: Option<u64>,
}

pub(crate) struct Parts<'a> {
    pub plan: &'a LoadPlan,
    pub results: Vec<WorkerResult>,
    pub threads: usize,
    pub record_start_ns: u64,
    pub recording: Recording,
    pub before: Counters,
    pub after: Counters,
    /// Where the server's cost is measured; without one, the counters
    /// `before` and `after` are this namespace's.
    pub watch: Option<Box<dyn ServerWatch>>,
    /// The end of the recorded window (our CPU and the machine's busy time then).
    pub ended: Recording,
    pub partial: bool,
    pub io_path: IoPath,
}

pub(crate) fn report(parts: Parts<'_>) -> Result<LoadReport, LoadError> {
    let Parts {
        plan,
        results,
        threads,
        record_start_ns,
        recording,
        before,
        after,
        watch,
        ended,
        partial,
        io_path,
    } = parts;
    let cpu_end = ended.cpu;
    let open = matches!(plan.mode, Mode::Open { .. });
    let crr = plan.mode == Mode::Crr;

    let mut latency = new_histogram();
    let mut uncorrected = open.then(new_histogram);
    let mut send_lag = open.then(new_histogram);
    let mut connect = crr.then(new_histogram);
    let mut errors = LoadErrors::default();
    let mut udp = UdpCounts::default();
    let (mut requests, mut bytes_sent, mut bytes_received) = (0u64, 0u64, 0u64);
    let mut sent_in_window = 0u64;
    let mut answered_in_window = 0u64;
    let mut end_ns = record_start_ns;
    let mut ticks = Vec::with_capacity(results.len());
    for r in results {
        // Histograms of one configuration always add.
        let _ = latency.add(&r.rec.latency);
        if let (Some(all), Some(one)) = (uncorrected.as_mut(), r.rec.uncorrected.as_ref()) {
            let _ = all.add(one);
        }
        if let (Some(all), Some(one)) = (send_lag.as_mut(), r.rec.send_lag.as_ref()) {
            let _ = all.add(one);
        }
        if let (Some(all), Some(one)) = (connect.as_mut(), r.rec.connect.as_ref()) {
            let _ = all.add(one);
        }
        add_errors(&mut errors, &r.rec.errors);
        add_udp(&mut udp, &r.rec.udp);
        requests += r.rec.requests;
        sent_in_window += r.rec.sent_in_window;
        answered_in_window += r.rec.answered_in_window;
        bytes_sent += r.rec.bytes_sent;
        bytes_received += r.rec.bytes_received;
        end_ns = end_ns.max(r.end_ns);
        ticks.push(r.ticks);
    }
    let duration_s = end_ns.saturating_sub(record_start_ns) as f64 / 1e9;
    let throughput_rps = if duration_s > 0.0 {
        requests as f64 / duration_s
    } else {
        0.0
    };
    let timeline = merge_ticks(ticks, duration_s);
    let comment = format!(
        "sockbench load: {} {} against {}",
        plan.mode.name(),
        workload_name(plan),
        target_name(&plan.target)
    );
    let interval_log = interval_log(
        &timeline.histograms,
        &timeline.ticks,
        recording.wall,
        &comment,
    )?;

    // With a watch, the server side's counters come from where the server
    // runs (another host's, maybe); without one, from this namespace.
    let (server, kernel_tcp, kernel_udp) = match watch {
        Some(w) => {
            let side = w.finish(requests);
            (side.cost, side.kernel_tcp, side.kernel_udp)
        }
        None => {
            let (tcp, udp) = after.delta_since(&before);
            (None, tcp, udp)
        }
    };
    let kernel_tcp = kernel_tcp.unwrap_or_default();
    let udp = match plan.target {
        Target::Udp(_) => {
            if let Some(d) = kernel_udp {
                udp.kernel_rcvbuf_errors = d.rcvbuf_errors;
                udp.kernel_in_errors = d.in_errors;
            }
            Some(udp)
        }
        _ => None,
    };

    let user_s = (cpu_end.0 - recording.cpu.0).max(0.0);
    let system_s = (cpu_end.1 - recording.cpu.1).max(0.0);
    let loadgen = LoadgenCost::new(user_s, system_s, duration_s, threads, requests);

    let send_lag_ns = send_lag.as_ref().map(stats::percentiles);
    let validity = match (plan.mode, send_lag_ns) {
        (Mode::Open { rate_rps }, Some(lag)) => Some(crate::validity::judge(
            rate_rps,
            if duration_s > 0.0 {
                sent_in_window as f64 / duration_s
            } else {
                0.0
            },
            plan.connections,
            lag.p99,
        )),
        _ => None,
    };

    Ok(LoadReport {
        schema_version: crate::report::SCHEMA_VERSION,
        sockbench_version: env!("CARGO_PKG_VERSION").to_string(),
        throughput_rps,
        latency_ns: stats::percentiles(&latency),
        uncorrected_latency_ns: uncorrected.as_ref().map(stats::percentiles),
        connect_latency_ns: connect.as_ref().map(stats::percentiles),
        send_lag_ns,
        io_path,
        validity,
        offered_rps: match plan.mode {
            Mode::Open { rate_rps } => Some(rate_rps),
            _ => None,
        },
        requests,
        bytes_sent,
        bytes_received,
        errors,
        udp,
        duration_s,
        partial,
        timeline: timeline.ticks,
        server,
        loadgen,
        kernel_tcp,
        plan: plan.clone(),
        machine: crate::machine::machine(),
        histogram_v2: stats::encode_v2(&latency)?,
        uncorrected_histogram_v2: uncorrected.as_ref().map(stats::encode_v2).transpose()?,
        connect_histogram_v2: connect.as_ref().map(stats::encode_v2).transpose()?,
        send_lag_histogram_v2: send_lag.as_ref().map(stats::encode_v2).transpose()?,
        interval_log,
        goodput_rps: (matches!(plan.mode, Mode::Open { .. }) && duration_s > 0.0)
            .then(|| answered_in_window as f64 / duration_s),
        machine_cpu_us_per_req: crate::cost::machine_us_per_req(
            recording.machine_busy_ns,
            ended.machine_busy_ns,
            requests,
        ),
        // Filled in by the caller, which ran the attackers.
        attack: None,
    })
}

/// The workload in a few words (`echo 64 B`, `synthetic 100 B -> 1000 B`).
pub fn workload_name(plan: &LoadPlan) -> String {
    match plan.workload {
        crate::plan::Workload::Echo { size } => format!("echo {size} B"),
        crate::plan::Workload::Synthetic {
            payload_len,
            response_len,
            cpu_us,
            wait_us,
        } => {
            let share = match plan.wait_share {
                Some(share) => format!(" on {:.0} % of requests", share * 100.0),
                None => String::new(),
            };
            format!(
                "synthetic {payload_len} B -> {response_len} B, {cpu_us} us CPU, {wait_us} us wait{share}"
            )
        }
    }
}

/// The target as a person writes it.
pub fn target_name(target: &Target) -> String {
    match target {
        Target::Tcp(a) => format!("tcp {a}"),
        Target::Udp(a) => format!("udp {a}"),
        Target::Unix(p) => format!("unix {}", p.display()),
    }
}

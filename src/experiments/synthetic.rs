//! Synthetic measurements for the verdict tests: an experiment's own points,
//! each given a report whose figures the test chooses, so every rule can be
//! shown to return each of its outcomes.

use std::net::{Ipv4Addr, SocketAddr};

use loadgen::report::{LoadgenCost, Machine, ServerCost};
use loadgen::{LoadPlan, LoadReport, Target};

use super::{Context, Experiment, Point, Profile, Verdict};
use crate::results::{Measurement, Outcome, ResultSet, RunInfo};

/// A report with every figure empty and a server cost present.
pub fn report() -> LoadReport {
    let target = Target::Tcp(SocketAddr::from((Ipv4Addr::LOCALHOST, 9)));
    LoadReport {
        schema_version: loadgen::report::SCHEMA_VERSION,
        sockbench_version: String::new(),
        throughput_rps: 0.0,
        latency_ns: Default::default(),
        uncorrected_latency_ns: None,
        connect_latency_ns: None,
        offered_rps: None,
        requests: 0,
        bytes_sent: 0,
        bytes_received: 0,
        errors: Default::default(),
        udp: None,
        duration_s: 1.0,
        partial: false,
        timeline: Vec::new(),
        server: Some(ServerCost::default()),
        loadgen: LoadgenCost::default(),
        kernel_tcp: Default::default(),
        plan: LoadPlan::new(target, loadgen::Mode::Rr),
        machine: Machine::default(),
        histogram_v2: String::new(),
        uncorrected_histogram_v2: None,
        connect_histogram_v2: None,
        send_lag_ns: None,
        io_path: Default::default(),
        machine_cpu_us_per_req: None,
        attack: None,
        goodput_rps: None,
        validity: None,
        send_lag_histogram_v2: None,
        interval_log: String::new(),
    }
}

/// Sets a report's median and p99 latency, in µs.
pub fn latency_us(r: &mut LoadReport, p50: f64, p99: f64) {
    r.latency_ns.count = 1000;
    r.latency_ns.p50 = (p50 * 1000.0) as u64;
    r.latency_ns.p99 = (p99 * 1000.0) as u64;
}

/// Sets a report's server CPU per request, in µs.
pub fn server_cpu_us(r: &mut LoadReport, us: f64) {
    if let Some(s) = r.server.as_mut() {
        s.cpu_us_per_req = us;
    }
}

/// `repeats` measurements of every point of `experiment` (standard profile),
/// each report filled in by `fill(point, repeat, report)`.
pub fn results(
    experiment: &Experiment,
    repeats: u32,
    fill: impl Fn(&Point, u32, &mut LoadReport),
) -> ResultSet {
    let mut measurements = Vec::new();
    for point in (experiment.points)(Profile::Standard) {
        for repeat in 0..repeats {
            let mut r = report();
            r.plan.mode = point.load.mode;
            r.plan.connections = point.load.connections;
            r.plan.idle_connections = point.load.idle;
            fill(&point, repeat, &mut r);
            measurements.push(Measurement {
                experiment: experiment.id.to_string(),
                series: point.series.clone(),
                model: point.server.model.name().to_string(),
                transport: point.server.transport.name().to_string(),
                x: point.x,
                repeat,
                server_args: point.server.args.clone(),
                outcome: Outcome::Ok,
                report: Some(r),
                background: None,
                server_summary: None,
                same_as: None,
                hosts: Vec::new(),
            });
        }
    }
    ResultSet {
        dir: std::path::PathBuf::from("synthetic"),
        info: RunInfo {
            profile: "standard".to_string(),
            repeats,
            command: "synthetic".to_string(),
            started_utc: String::new(),
            finished_utc: String::new(),
            machine: Machine::default(),
            server_cpus: None,
            loadgen_cpus: None,
            experiments: vec![experiment.id.to_string()],
            models: Vec::new(),
            partial: false,
            link: None,
            remote: None,
            order: None,
            steal_pct: None,
            calibration: None,
            fd_limit: None,
            slo_us: None,
            clients: None,
        },
        measurements,
    }
}

/// The verdict `experiment` reaches on synthetic data, and the sentence behind it.
pub fn verdict(
    experiment: &Experiment,
    fill: impl Fn(&Point, u32, &mut LoadReport),
) -> (Verdict, String) {
    let data = results(experiment, 3, fill);
    let ctx = Context {
        footnote: String::new(),
        error_bars: String::new(),
        slo: super::DEFAULT_SLO,
    };
    let f = (experiment.analyze)(&data, &ctx);
    (f.verdict, f.because)
}

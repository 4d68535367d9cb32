//! The generator's own floor, measured against a trivial reflector it starts
//! itself ([`reflector`]), so a reader can tell the server's latency from the
//! instrument's: the round-trip latency of one `rr` connection (what no
//! server can beat when measured by this tool on this machine) and the
//! highest `rr` rate with several connections (what no server can exceed).
//!
//! One call, bounded: two phases of [`CalibrationPlan::phase`] after a short
//! warm-up each, about 1.2 s with the defaults. The runner records it once per
//! run; the report's Methods section shows it.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::engine::{run, LoadError};
use crate::plan::{LoadPlan, Mode, Target, Workload};
use crate::report::{IoPath, LoadReport, Percentiles};

pub mod reflector;

use reflector::Reflector;

/// How to calibrate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationPlan {
    /// Echo request size in bytes.
    pub size: usize,
    /// Connections of the max-rate phase.
    pub connections: usize,
    /// Engine threads; 0 means one per core, as in a run.
    pub threads: usize,
    /// Recorded time of each phase.
    pub phase: Duration,
    /// Warm-up before each phase.
    pub warmup: Duration,
    /// CPUs for the reflector's threads (the servers' CPUs in a run).
    pub reflector_cpus: Option<Vec<usize>>,
}

impl Default for CalibrationPlan {
    /// 64-byte echo, 16 connections for the rate, 0.5 s per phase after 0.1 s.
    fn default() -> Self {
        CalibrationPlan {
            size: 64,
            connections: 16,
            threads: 0,
            phase: Duration::from_millis(500),
            warmup: Duration::from_millis(100),
            reflector_cpus: None,
        }
    }
}

/// One phase of the calibration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct FloorPoint {
    pub connections: usize,
    pub throughput_rps: f64,
    pub latency_ns: Percentiles,
    pub requests: u64,
    /// Failed requests: a calibration with errors is not a floor.
    pub errors: u64,
    /// Engine threads used.
    pub threads: usize,
    /// How they did their I/O (one connection per thread: blocking).
    #[serde(default)]
    pub io_path: IoPath,
}

impl FloorPoint {
    fn of(r: &LoadReport) -> Self {
        FloorPoint {
            connections: r.plan.connections,
            throughput_rps: r.throughput_rps,
            latency_ns: r.latency_ns,
            requests: r.requests,
            errors: r.errors.total,
            threads: r.loadgen.threads,
            io_path: r.io_path,
        }
    }
}

/// The generator's floor on this machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// What the generator was measured against.
    pub reflector: String,
    /// The reflector's CPUs, if pinned.
    pub reflector_cpus: Option<Vec<usize>>,
    /// e.g. `echo 64 B`.
    pub workload: String,
    /// One `rr` connection: the round-trip floor (p50, p99).
    pub one_connection: FloorPoint,
    /// `connections` `rr` connections: the highest rate.
    pub max_rate: FloorPoint,
    /// Wall time the calibration took.
    pub elapsed_s: f64,
}

/// Measures the generator's floor against a reflector it starts and stops itself.
pub fn calibrate(plan: &CalibrationPlan) -> Result<Calibration, LoadError> {
    let started = Instant::now();
    if plan.size == 0 || plan.connections == 0 || plan.phase.is_zero() {
        return Err(LoadError::BadPlan {
            why: "a calibration needs a size, connections and a phase above 0".into(),
        });
    }
    let reflector =
        Reflector::start(plan.reflector_cpus.as_deref()).map_err(|source| LoadError::Setup {
            what: "starting the calibration's reflector",
            source,
        })?;
    let phase = |connections: usize| -> Result<LoadReport, LoadError> {
        let mut p = LoadPlan::new(Target::Tcp(reflector.addr), Mode::Rr);
        p.workload = Workload::Echo { size: plan.size };
        p.connections = connections;
        p.threads = plan.threads;
        p.warmup = plan.warmup;
        p.duration = plan.phase;
        run(&p, &AtomicBool::new(false))
    };
    let one = phase(1)?;
    let many = phase(plan.connections)?;
    drop(reflector);
    Ok(Calibration {
        reflector: reflector::DESCRIPTION.into(),
        reflector_cpus: plan.reflector_cpus.clone(),
        workload: crate::engine::workload_name(&one.plan),
        one_connection: FloorPoint::of(&one),
        max_rate: FloorPoint::of(&many),
        elapsed_s: started.elapsed().as_secs_f64(),
    })
}

//! Whether an `open` point is valid: did the generator offer the load its
//! plan asked for? Two checks, as Lancet and Treadmill make them of themselves:
//!
//! - **rate**: the achieved rate (recorded requests that left within the
//!   recorded interval, per second) is within [`RATE_TOLERANCE`] of the
//!   offered rate;
//! - **schedule**: the send lag's p99 (actual − intended send time) is at most
//!   [`send_lag_bound_ns`]: the larger of [`SEND_LAG_FLOOR_NS`] and
//!   [`SEND_LAG_SHARE`] of one connection's interval between two sends.
//!
//! Why that bound: a lag below a tenth of a connection's interval leaves the
//! arrival process the server sees the one that was planned (requests are not
//! bunched into the next slot), and the 1 ms floor keeps ordinary scheduling
//! noise of a shared, non-real-time machine (a time slice, a timer's slack)
//! from flagging points whose lag no reader would call a fault. A lag past
//! the bound means requests waited for the generator or for their connection
//! (one request outstanding per connection), so the corrected latency mixes
//! the server's queue with the generator's: add connections or threads, or
//! read the point as past the server's knee.

use crate::report::Validity;

/// The largest relative gap between achieved and offered rate a valid point has.
pub const RATE_TOLERANCE: f64 = 0.05;
/// Send lags up to this p99 are always accepted (scheduling noise).
pub const SEND_LAG_FLOOR_NS: u64 = 1_000_000;
/// Otherwise the p99 may be this share of one connection's inter-send interval.
pub const SEND_LAG_SHARE: f64 = 0.10;

/// The send-lag bound for `connections` sharing `offered_rps`.
pub fn send_lag_bound_ns(offered_rps: f64, connections: usize) -> u64 {
    let interval_ns = if offered_rps > 0.0 {
        1e9 * connections.max(1) as f64 / offered_rps
    } else {
        0.0
    };
    SEND_LAG_FLOOR_NS.max((SEND_LAG_SHARE * interval_ns) as u64)
}

/// Judges an `open` point from its offered and achieved rates and its send lag's p99.
pub fn judge(
    offered_rps: f64,
    achieved_rps: f64,
    connections: usize,
    send_lag_p99_ns: u64,
) -> Validity {
    let rate_error = if offered_rps > 0.0 {
        achieved_rps / offered_rps - 1.0
    } else {
        0.0
    };
    let send_lag_bound_ns = send_lag_bound_ns(offered_rps, connections);
    let mut reasons = Vec::new();
    if rate_error.abs() > RATE_TOLERANCE {
        reasons.push(format!(
            "achieved {achieved_rps:.0} req/s is {:+.1} % off the offered {offered_rps:.0} req/s \
             (more than {:.0} %): requests left after the interval, so the connections \
             or the generator could not keep the rate",
            rate_error * 100.0,
            RATE_TOLERANCE * 100.0
        ));
    }
    if send_lag_p99_ns > send_lag_bound_ns {
        reasons.push(format!(
            "send lag p99 {:.3} ms exceeds the bound of {:.3} ms: requests left late, waiting \
             for the generator or for their connection; add connections or threads, or read \
             the point as past the server's knee",
            send_lag_p99_ns as f64 / 1e6,
            send_lag_bound_ns as f64 / 1e6
        ));
    }
    Validity {
        valid: reasons.is_empty(),
        reasons,
        achieved_rps,
        rate_error,
        rate_tolerance: RATE_TOLERANCE,
        send_lag_p99_ns,
        send_lag_bound_ns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_is_a_tenth_of_the_interval_with_a_floor() {
        // 1 connection at 10 req/s: 100 ms apart, bound 10 ms.
        assert_eq!(send_lag_bound_ns(10.0, 1), 10_000_000);
        // 16 connections at 5000 req/s: 3.2 ms apart, the 1 ms floor.
        assert_eq!(send_lag_bound_ns(5000.0, 16), SEND_LAG_FLOOR_NS);
    }

    #[test]
    fn each_check_fails_on_its_own_and_says_why() {
        let ok = judge(1000.0, 990.0, 1, 200_000);
        assert!(ok.valid && ok.reasons.is_empty(), "{ok:?}");

        let slow = judge(1000.0, 900.0, 1, 200_000);
        assert!(!slow.valid);
        assert_eq!(slow.reasons.len(), 1);
        assert!(slow.reasons[0].contains("off the offered"), "{slow:?}");
        assert!((slow.rate_error + 0.1).abs() < 1e-9);

        let late = judge(1000.0, 1000.0, 1, 5_000_000);
        assert!(!late.valid);
        assert_eq!(late.reasons.len(), 1);
        assert!(late.reasons[0].contains("send lag"), "{late:?}");

        assert_eq!(judge(1000.0, 500.0, 1, 5_000_000).reasons.len(), 2);
    }
}

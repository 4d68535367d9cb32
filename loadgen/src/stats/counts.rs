//! Error arithmetic: the kinds of failure the engine tells apart, and the
//! sums of error and datagram counts across workers and runs.

use crate::report::{LoadErrors, UdpCounts};

/// Kinds of failed request or connection; each maps to one [`LoadErrors`] field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    ConnectRefused,
    ConnectTimeout,
    ConnectOther,
    PortsExhausted,
    Reset,
    ShortResponse,
    Mismatch,
    ServerError,
    Timeout,
    Io,
    DroppedIdle,
}

/// Counts one error of `kind` in `errors` (and in its total).
pub fn count_error(errors: &mut LoadErrors, kind: ErrorKind) {
    let field = match kind {
        ErrorKind::ConnectRefused => &mut errors.connect_refused,
        ErrorKind::ConnectTimeout => &mut errors.connect_timeout,
        ErrorKind::ConnectOther => &mut errors.connect_other,
        ErrorKind::PortsExhausted => &mut errors.ports_exhausted,
        ErrorKind::Reset => &mut errors.reset,
        ErrorKind::ShortResponse => &mut errors.short_response,
        ErrorKind::Mismatch => &mut errors.mismatch,
        ErrorKind::ServerError => &mut errors.server_error,
        ErrorKind::Timeout => &mut errors.timeout,
        ErrorKind::Io => &mut errors.io,
        ErrorKind::DroppedIdle => &mut errors.dropped_idle,
    };
    *field += 1;
    errors.total += 1;
}

/// Adds every count of `b` to `a`.
pub fn add_errors(a: &mut LoadErrors, b: &LoadErrors) {
    a.connect_refused += b.connect_refused;
    a.connect_timeout += b.connect_timeout;
    a.connect_other += b.connect_other;
    a.ports_exhausted += b.ports_exhausted;
    a.reset += b.reset;
    a.short_response += b.short_response;
    a.mismatch += b.mismatch;
    a.server_error += b.server_error;
    a.timeout += b.timeout;
    a.io += b.io;
    a.dropped_idle += b.dropped_idle;
    a.total += b.total;
}

/// Adds every count of `b` to `a`.
pub fn add_udp(a: &mut UdpCounts, b: &UdpCounts) {
    a.sent += b.sent;
    a.answered += b.answered;
    a.lost += b.lost;
    a.late += b.late;
    a.duplicates += b.duplicates;
    a.kernel_rcvbuf_errors += b.kernel_rcvbuf_errors;
    a.kernel_in_errors += b.kernel_in_errors;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_count_by_kind_and_total() {
        let mut e = LoadErrors::default();
        count_error(&mut e, ErrorKind::Mismatch);
        count_error(&mut e, ErrorKind::Reset);
        count_error(&mut e, ErrorKind::Reset);
        assert_eq!((e.mismatch, e.reset, e.total), (1, 2, 3));
        let mut sum = LoadErrors::default();
        add_errors(&mut sum, &e);
        add_errors(&mut sum, &e);
        assert_eq!((sum.reset, sum.total), (4, 6));
    }
}

//! The server's cost, read from /proc (not yet built).

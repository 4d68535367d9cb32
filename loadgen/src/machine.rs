//! The machine and build a result came from (not yet built).

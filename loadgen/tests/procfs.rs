//! The machine a result came from (the server's cost is the `probe` crate's,
//! tested there and end to end in `tests/probe_accuracy.rs`).

use loadgen::machine::machine;

#[test]
fn machine_is_described() {
    let m = machine();
    for (name, value) in [
        ("hostname", &m.hostname),
        ("cpu_model", &m.cpu_model),
        ("kernel", &m.kernel),
        ("rustc", &m.rustc),
        ("git_revision", &m.git_revision),
    ] {
        assert!(!value.is_empty(), "{name} is empty: {m:?}");
    }
    assert!(m.cores >= 1 && m.memory_kb > 0, "{m:?}");
    assert!(m.rustc.starts_with("rustc "), "{m:?}");
}

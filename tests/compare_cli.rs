//! `sockbench compare OLD NEW` on real results folders: a run against
//! itself changes nothing; a copy whose one point is ten times faster in
//! every repeat shows that point, and only that figure of it, as changed.

mod common;

use std::path::Path;

use common::sockbench;

const REFERENCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/results/reference");

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn compare(old: &Path, new: &Path) -> String {
    let out = sockbench()
        .arg("compare")
        .arg(old)
        .arg(new)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn compare_finds_exactly_the_point_that_changed() {
    let reference = Path::new(REFERENCE);
    let same = compare(reference, reference);
    assert!(same.lines().count() > 10, "{same}");
    assert!(same.lines().last().unwrap().starts_with("0 of "), "{same}");

    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("new");
    copy_dir(reference, &new);
    for r in 0..3 {
        let path = new.join(format!("data/backlog/backlog_5__x5__r{r}.json"));
        let mut m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let rate = m["report"]["throughput_rps"].as_f64().unwrap();
        m["report"]["throughput_rps"] = serde_json::json!(rate * 10.0);
        std::fs::write(&path, serde_json::to_string(&m).unwrap()).unwrap();
    }
    let changed = compare(reference, &new);
    let rows: Vec<&str> = changed
        .lines()
        .filter(|l| l.ends_with(" changed"))
        .collect();
    assert_eq!(rows.len(), 1, "{changed}");
    assert!(
        rows[0].starts_with("backlog backlog 5 x=5") && rows[0].contains("throughput_rps"),
        "{}",
        rows[0]
    );
    assert!(rows[0].contains("10.000"), "the ratio: {}", rows[0]);
    assert!(
        changed.lines().last().unwrap().starts_with("1 of "),
        "{changed}"
    );
}

#[test]
fn compare_without_common_points_is_an_error() {
    let empty = tempfile::tempdir().unwrap();
    let out = sockbench()
        .arg("compare")
        .arg(REFERENCE)
        .arg(empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

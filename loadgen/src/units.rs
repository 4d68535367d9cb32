//! Durations in JSON as plain numbers with the unit in the field's name
//! (`warmup_s: 1.0`, `think_time_us: 0`), as the rest of the result is.
//! Reading also accepts serde's `{"secs": …, "nanos": …}`, so results
//! written before the change still load.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// A duration as written by this or an older version.
#[derive(Deserialize)]
#[serde(untagged)]
enum Written {
    Number(f64),
    Struct { secs: u64, nanos: u32 },
}

fn read<'de, D: Deserializer<'de>>(d: D, unit_s: f64) -> Result<Duration, D::Error> {
    match Written::deserialize(d)? {
        Written::Number(v) if v.is_finite() && v >= 0.0 => Ok(Duration::from_secs_f64(v * unit_s)),
        Written::Number(v) => Err(serde::de::Error::custom(format!(
            "{v} is not a duration: give a non-negative number"
        ))),
        Written::Struct { secs, nanos } => Ok(Duration::new(secs, nanos)),
    }
}

/// `Duration` ↔ seconds (`f64`).
pub mod seconds {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        read(d, 1.0)
    }
}

/// `Duration` ↔ microseconds (`f64`).
pub mod micros {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1e6)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        read(d, 1e-6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Both {
        #[serde(with = "seconds")]
        warmup_s: Duration,
        #[serde(with = "micros")]
        think_us: Duration,
    }

    #[test]
    fn numbers_out_numbers_and_old_structs_in() {
        let both = Both {
            warmup_s: Duration::from_millis(1500),
            think_us: Duration::from_micros(250),
        };
        let text = serde_json::to_string(&both).unwrap();
        assert_eq!(text, r#"{"warmup_s":1.5,"think_us":250.0}"#);
        assert_eq!(serde_json::from_str::<Both>(&text).unwrap(), both);
        let old =
            r#"{"warmup_s":{"secs":1,"nanos":500000000},"think_us":{"secs":0,"nanos":250000}}"#;
        assert_eq!(serde_json::from_str::<Both>(old).unwrap(), both);
    }
}

//! Durations as users write them in `tapedeck.toml`: `30s`, `15m`, `6h`, `1h30m`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A whole number of seconds written with units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, ts_rs::TS)]
#[ts(type = "string")]
pub struct Secs(pub u64);

impl Secs {
    pub fn as_duration(self) -> Duration {
        Duration::from_secs(self.0)
    }

    /// Parses `90`, `90s`, `15m`, `6h`, `1h30m` (units s, m, h; a bare number is seconds).
    pub fn parse(text: &str) -> Result<Secs, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("empty duration; write it like \"30s\", \"15m\" or \"6h\"".into());
        }
        if let Ok(n) = t.parse::<u64>() {
            return Ok(Secs(n));
        }
        let mut total: u64 = 0;
        let mut number = String::new();
        for c in t.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                _ => {
                    return Err(format!(
                        "{text:?} is not a duration: unknown unit {c:?} (use s, m or h)"
                    ))
                }
            };
            let n: u64 = number.parse().map_err(|_| {
                format!("{text:?} is not a duration: a number must come before {c:?}")
            })?;
            total = total.saturating_add(n.saturating_mul(unit));
            number.clear();
        }
        if !number.is_empty() {
            return Err(format!(
                "{text:?} is not a duration: {number} has no unit (s, m or h)"
            ));
        }
        Ok(Secs(total))
    }
}

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if s > 0 && s.is_multiple_of(3600) {
            write!(f, "{}h", s / 3600)
        } else if s > 0 && s.is_multiple_of(60) {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(Secs(n)),
            Raw::Text(t) => Secs::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for Secs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        for (text, secs) in [
            ("30s", 30),
            ("15m", 900),
            ("6h", 21600),
            ("1h30m", 5400),
            ("90", 90),
            (" 5s ", 5),
        ] {
            assert_eq!(Secs::parse(text), Ok(Secs(secs)), "{text}");
        }
        for bad in ["", "5x", "h", "1.5h", "-3s", "30 s", "5m3"] {
            assert!(Secs::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Secs(21600).to_string(), "6h");
        assert_eq!(Secs(90).to_string(), "90s");
    }
}

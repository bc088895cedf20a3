//! Sizes, rates and retention rules as users write them in `tapedeck.toml`:
//! `"200GB"`, `"8MiB"`, `"20Mbit/s"`, `"4MB/s"`, `"7d"`, `"until_uploaded"`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A number of bytes: `"200GB"` (decimal units), `"8MiB"` (binary), or a bare number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ts_rs::TS)]
#[ts(type = "string")]
pub struct ByteSize(pub u64);

/// Bytes per second: `"20Mbit/s"`, `"500kbit/s"`, `"4MB/s"`, `"2MiB/s"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ts_rs::TS)]
#[ts(type = "string")]
pub struct ByteRate(pub u64);

fn split_number(text: &str) -> Result<(f64, &str), String> {
    let t = text.trim();
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let number: f64 = t[..end]
        .parse()
        .map_err(|_| format!("{text:?} does not start with a number"))?;
    Ok((number, t[end..].trim()))
}

fn unit_factor(unit: &str) -> Option<f64> {
    Some(match unit {
        "" | "B" => 1.0,
        "kB" | "KB" | "k" | "K" => 1e3,
        "MB" | "M" => 1e6,
        "GB" | "G" => 1e9,
        "TB" | "T" => 1e12,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    })
}

impl ByteSize {
    pub fn parse(text: &str) -> Result<ByteSize, String> {
        let (n, unit) = split_number(text)?;
        let f = unit_factor(unit).ok_or_else(|| {
            format!("{text:?} is not a size: unknown unit {unit:?} (use B, KB, MB, GB, TB, KiB, MiB, GiB)")
        })?;
        Ok(ByteSize((n * f).round() as u64))
    }
}

impl ByteRate {
    pub fn parse(text: &str) -> Result<ByteRate, String> {
        let (n, unit) = split_number(text)?;
        // "8Mbps" is "8Mbit/s".
        let bps = unit.strip_suffix("bps").map(|p| format!("{p}bit"));
        let unit = bps.as_deref().or_else(|| unit.strip_suffix("/s"));
        let bad = || {
            format!(
                "{text:?} is not a rate: write it like \"20Mbit/s\", \"500kbit/s\" or \"4MB/s\""
            )
        };
        let unit = unit.ok_or_else(bad)?;
        let bytes_per_sec = if let Some(prefix) = unit.strip_suffix("bit") {
            let f = match prefix {
                "" => 1.0,
                "k" | "K" => 1e3,
                "M" => 1e6,
                "G" => 1e9,
                _ => return Err(bad()),
            };
            n * f / 8.0
        } else {
            n * unit_factor(unit).ok_or_else(bad)?
        };
        if bytes_per_sec < 1.0 {
            return Err(format!("{text:?} is below one byte per second"));
        }
        Ok(ByteRate(bytes_per_sec.round() as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0 as f64;
        if b >= 1e9 {
            write!(f, "{:.1} GB", b / 1e9)
        } else if b >= 1e6 {
            write!(f, "{:.1} MB", b / 1e6)
        } else if b >= 1e3 {
            write!(f, "{:.1} kB", b / 1e3)
        } else {
            write!(f, "{} B", self.0)
        }
    }
}

impl fmt::Display for ByteRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1} Mbit/s", self.0 as f64 * 8.0 / 1e6)
    }
}

/// How long local copies stay after their upload was confirmed (`keep_local`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, ts_rs::TS)]
#[ts(type = "string")]
pub enum KeepLocal {
    /// Never deleted (the default).
    #[default]
    Forever,
    /// Deleted as soon as the bucket confirmed the upload.
    UntilUploaded,
    /// Deleted once confirmed and this many seconds old.
    For(u64),
}

impl KeepLocal {
    pub fn parse(text: &str) -> Result<KeepLocal, String> {
        match text.trim() {
            "forever" => Ok(KeepLocal::Forever),
            "until_uploaded" => Ok(KeepLocal::UntilUploaded),
            t => {
                let (n, unit) = split_number(t).map_err(|_| keep_error(text))?;
                let secs = match unit {
                    "d" => 86_400.0,
                    "h" => 3_600.0,
                    "m" => 60.0,
                    "s" => 1.0,
                    _ => return Err(keep_error(text)),
                };
                Ok(KeepLocal::For((n * secs) as u64))
            }
        }
    }

    /// The form stored with each queued upload: `forever`, `until_uploaded` or seconds.
    pub fn to_stored(self) -> String {
        match self {
            KeepLocal::Forever => "forever".into(),
            KeepLocal::UntilUploaded => "until_uploaded".into(),
            KeepLocal::For(s) => s.to_string(),
        }
    }

    pub fn from_stored(s: &str) -> KeepLocal {
        match s {
            "until_uploaded" => KeepLocal::UntilUploaded,
            _ => s.parse().map(KeepLocal::For).unwrap_or(KeepLocal::Forever),
        }
    }
}

fn keep_error(text: &str) -> String {
    format!("{text:?} is not a retention: use \"forever\", \"until_uploaded\" or an age like \"7d\" or \"12h\"")
}

impl fmt::Display for KeepLocal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeepLocal::Forever => f.write_str("forever"),
            KeepLocal::UntilUploaded => f.write_str("until_uploaded"),
            KeepLocal::For(s) if s % 86_400 == 0 => write!(f, "{}d", s / 86_400),
            KeepLocal::For(s) if s % 3_600 == 0 => write!(f, "{}h", s / 3_600),
            KeepLocal::For(s) => write!(f, "{s}s"),
        }
    }
}

macro_rules! text_serde {
    ($t:ty, $show:expr) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let show: fn(&$t) -> String = $show;
                s.serialize_str(&show(self))
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$t, D::Error> {
                #[derive(Deserialize)]
                #[serde(untagged)]
                enum Raw {
                    Text(String),
                    Number(u64),
                }
                match Raw::deserialize(d)? {
                    Raw::Text(t) => <$t>::parse(&t).map_err(serde::de::Error::custom),
                    Raw::Number(n) => <$t>::parse(&n.to_string()).map_err(serde::de::Error::custom),
                }
            }
        }
    };
}

text_serde!(ByteSize, |b| b.0.to_string());
text_serde!(ByteRate, |r| format!("{}B/s", r.0));
text_serde!(KeepLocal, |k| k.to_string());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(ByteSize::parse("200GB").unwrap().0, 200_000_000_000);
        assert_eq!(ByteSize::parse("8MiB").unwrap().0, 8 << 20);
        assert_eq!(ByteSize::parse("1.5 GiB").unwrap().0, 3 << 29);
        assert_eq!(ByteSize::parse("4096").unwrap().0, 4096);
        assert!(ByteSize::parse("12 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(ByteSize::parse("lots").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(ByteRate::parse("20Mbit/s").unwrap().0, 2_500_000);
        assert_eq!(ByteRate::parse("500kbit/s").unwrap().0, 62_500);
        assert_eq!(ByteRate::parse("4MB/s").unwrap().0, 4_000_000);
        assert_eq!(ByteRate::parse("2MiB/s").unwrap().0, 2 << 20);
        assert_eq!(ByteRate::parse("8Mbps").unwrap().0, 1_000_000);
        assert!(ByteRate::parse("20Mbit").is_err());
        assert!(ByteRate::parse("fast").is_err());
        // A stored rate reads back as itself.
        let r = ByteRate::parse("20Mbit/s").unwrap();
        let text = format!("{}B/s", r.0);
        assert_eq!(ByteRate::parse(&text).unwrap(), r);
    }

    #[test]
    fn retention() {
        assert_eq!(KeepLocal::parse("forever").unwrap(), KeepLocal::Forever);
        assert_eq!(
            KeepLocal::parse("until_uploaded").unwrap(),
            KeepLocal::UntilUploaded
        );
        assert_eq!(KeepLocal::parse("7d").unwrap(), KeepLocal::For(7 * 86_400));
        assert_eq!(KeepLocal::parse("12h").unwrap(), KeepLocal::For(43_200));
        assert!(KeepLocal::parse("a week").unwrap_err().contains("forever"));
        for k in [
            KeepLocal::Forever,
            KeepLocal::UntilUploaded,
            KeepLocal::For(604_800),
        ] {
            assert_eq!(KeepLocal::from_stored(&k.to_stored()), k);
            assert_eq!(KeepLocal::parse(&k.to_string()).unwrap(), k);
        }
    }
}

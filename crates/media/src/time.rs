//! Media time.
//!
//! Every timestamp inside the engine is a [`MediaTime`]: a signed count of 90 kHz ticks
//! (the MPEG-TS clock). FLV/RTMP milliseconds convert exactly (x90), MP4 tracks use the
//! same 90 kHz timescale for video, and audio sample counts convert with rounding that is
//! corrected by accumulating in the track's own rate.
//!
//! Media time is *not* wall-clock time. A recording session maps media time to the wall
//! clock once, when its first frame arrives (`wall_start`), and names, `PROGRAM-DATE-TIME`
//! tags and time-range queries are all derived from `wall_start + (t - t0)`. After a
//! reconnect the publisher's clock restarts; the session then re-bases the new media time
//! onto the wall clock of the resume, so the gap is kept in the timeline.

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

/// Ticks per second of [`MediaTime`].
pub const TIMESCALE: i64 = 90_000;

/// A point or span of media time in 90 kHz ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MediaTime(pub i64);

impl MediaTime {
    pub const ZERO: MediaTime = MediaTime(0);

    pub const fn from_millis(ms: i64) -> Self {
        MediaTime(ms * 90)
    }

    pub const fn from_secs(s: i64) -> Self {
        MediaTime(s * TIMESCALE)
    }

    /// Converts a count of `units` at `rate` units per second (for example audio samples
    /// at 48 kHz) to media time, rounding to the nearest tick.
    pub fn from_rate(units: i64, rate: u32) -> Self {
        let rate = i64::from(rate.max(1));
        MediaTime((units * TIMESCALE + rate / 2).div_euclid(rate))
    }

    /// This time in units of `rate` per second, rounded to the nearest unit.
    pub fn to_rate(self, rate: u32) -> i64 {
        let rate = i64::from(rate);
        (self.0 * rate + TIMESCALE / 2).div_euclid(TIMESCALE)
    }

    pub fn as_millis(self) -> i64 {
        self.0.div_euclid(90)
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / TIMESCALE as f64
    }

    /// A non-negative span as a [`Duration`]; negative spans clamp to zero.
    pub fn to_duration(self) -> Duration {
        Duration::from_nanos((self.0.max(0) as u64) * 1_000_000_000 / TIMESCALE as u64)
    }

    pub fn from_duration(d: Duration) -> Self {
        MediaTime((d.as_nanos() * TIMESCALE as u128 / 1_000_000_000) as i64)
    }
}

impl Add for MediaTime {
    type Output = MediaTime;
    fn add(self, rhs: MediaTime) -> MediaTime {
        MediaTime(self.0 + rhs.0)
    }
}

impl AddAssign for MediaTime {
    fn add_assign(&mut self, rhs: MediaTime) {
        self.0 += rhs.0;
    }
}

impl Sub for MediaTime {
    type Output = MediaTime;
    fn sub(self, rhs: MediaTime) -> MediaTime {
        MediaTime(self.0 - rhs.0)
    }
}

impl SubAssign for MediaTime {
    fn sub_assign(&mut self, rhs: MediaTime) {
        self.0 -= rhs.0;
    }
}

impl fmt::Display for MediaTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}s", self.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_trip() {
        assert_eq!(MediaTime::from_millis(1000), MediaTime::from_secs(1));
        assert_eq!(MediaTime::from_millis(33).as_millis(), 33);
        assert_eq!(MediaTime::from_rate(1024, 48_000), MediaTime(1920));
        assert_eq!(MediaTime::from_rate(1024, 44_100), MediaTime(2090));
        assert_eq!(MediaTime(1920).to_rate(48_000), 1024);
        assert_eq!(
            MediaTime::from_secs(2).to_duration(),
            Duration::from_secs(2)
        );
        assert_eq!(
            MediaTime::from_duration(Duration::from_millis(1500)),
            MediaTime(135_000)
        );
        assert_eq!(MediaTime(-5).to_duration(), Duration::ZERO);
    }
}

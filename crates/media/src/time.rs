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
//!
//! Times come from hostile input (an RTMP timestamp, a `.part`'s sample durations, a
//! chapter box), so every conversion and every sum here saturates at the ends of `i64`
//! instead of overflowing: a nonsense time stays a (clamped) nonsense time that the
//! caller's own checks refuse, never a panic.

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
        MediaTime(ms.saturating_mul(90))
    }

    pub const fn from_secs(s: i64) -> Self {
        MediaTime(s.saturating_mul(TIMESCALE))
    }

    /// Converts a count of `units` at `rate` units per second (for example audio samples
    /// at 48 kHz) to media time, rounding to the nearest tick.
    pub fn from_rate(units: i64, rate: u32) -> Self {
        let rate = i128::from(rate.max(1));
        MediaTime(clamp(
            (i128::from(units) * i128::from(TIMESCALE) + rate / 2).div_euclid(rate),
        ))
    }

    /// This time in units of `rate` per second, rounded to the nearest unit.
    pub fn to_rate(self, rate: u32) -> i64 {
        let scale = i128::from(TIMESCALE);
        clamp((i128::from(self.0) * i128::from(rate) + scale / 2).div_euclid(scale))
    }

    pub fn as_millis(self) -> i64 {
        self.0.div_euclid(90)
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / TIMESCALE as f64
    }

    /// A non-negative span as a [`Duration`]; negative spans clamp to zero.
    pub fn to_duration(self) -> Duration {
        let nanos = u128::from(self.0.max(0) as u64) * 1_000_000_000 / TIMESCALE as u128;
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    pub fn from_duration(d: Duration) -> Self {
        let ticks = d.as_nanos().saturating_mul(TIMESCALE as u128) / 1_000_000_000;
        MediaTime(i64::try_from(ticks).unwrap_or(i64::MAX))
    }
}

/// `v` clamped into `i64`.
fn clamp(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

impl Add for MediaTime {
    type Output = MediaTime;
    fn add(self, rhs: MediaTime) -> MediaTime {
        MediaTime(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for MediaTime {
    fn add_assign(&mut self, rhs: MediaTime) {
        self.0 = self.0.saturating_add(rhs.0);
    }
}

impl Sub for MediaTime {
    type Output = MediaTime;
    fn sub(self, rhs: MediaTime) -> MediaTime {
        MediaTime(self.0.saturating_sub(rhs.0))
    }
}

impl SubAssign for MediaTime {
    fn sub_assign(&mut self, rhs: MediaTime) {
        self.0 = self.0.saturating_sub(rhs.0);
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

    /// Hostile times (a `.part`'s durations, a chapter box, an RTMP timestamp) clamp at
    /// the ends of i64 instead of overflowing; fuzzing mp4_recover found the overflow in
    /// `from_millis` through a chapter track's end.
    #[test]
    fn extreme_times_saturate() {
        assert_eq!(MediaTime::from_millis(i64::MAX / 2), MediaTime(i64::MAX));
        assert_eq!(MediaTime::from_millis(i64::MIN / 2), MediaTime(i64::MIN));
        assert_eq!(MediaTime::from_secs(i64::MAX), MediaTime(i64::MAX));
        assert_eq!(MediaTime(i64::MAX) + MediaTime(1), MediaTime(i64::MAX));
        assert_eq!(MediaTime(i64::MIN) - MediaTime(1), MediaTime(i64::MIN));
        let mut t = MediaTime(i64::MAX - 1);
        t += MediaTime(5);
        assert_eq!(t, MediaTime(i64::MAX));
        t = MediaTime(i64::MIN + 1);
        t -= MediaTime(5);
        assert_eq!(t, MediaTime(i64::MIN));
        assert_eq!(MediaTime::from_rate(i64::MAX, 1), MediaTime(i64::MAX));
        assert_eq!(MediaTime::from_rate(i64::MIN, 0), MediaTime(i64::MIN));
        assert_eq!(MediaTime(i64::MAX).to_rate(u32::MAX), i64::MAX);
        assert_eq!(MediaTime(i64::MIN).to_rate(u32::MAX), i64::MIN);
        assert_eq!(MediaTime::from_duration(Duration::MAX), MediaTime(i64::MAX));
        assert_eq!(MediaTime(i64::MAX).as_millis(), i64::MAX / 90);
        assert!(MediaTime(i64::MAX).to_duration() > Duration::from_secs(100 * 365 * 86_400));
    }
}

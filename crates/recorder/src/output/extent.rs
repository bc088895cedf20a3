//! How far a file reaches on the timeline.

use tapedeck_media::{Frame, MediaTime, Tracks};

/// Start and end of what a file holds: the end is the last frame's time plus its
/// duration (the previous interval for video, one AAC frame for audio).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Extent {
    pub start: MediaTime,
    pub end: MediaTime,
    last_video: Option<MediaTime>,
    video_step: MediaTime,
}

impl Extent {
    pub fn new(start: MediaTime) -> Self {
        Extent {
            start,
            end: start,
            last_video: None,
            video_step: MediaTime::from_millis(33),
        }
    }

    /// An extent from `start` that measures frames as this one did: the next segment after
    /// a cut keeps the frame interval learned so far, so a segment holding a single video
    /// frame still ends one real interval after it (not a guessed 33 ms).
    pub fn continued(&self, start: MediaTime) -> Self {
        Extent {
            start,
            end: start,
            ..*self
        }
    }

    pub fn add(&mut self, frame: &Frame, tracks: &Tracks) {
        let step = if frame.is_video() {
            if let Some(last) = self.last_video {
                let d = frame.dts - last;
                // A long interval is a gap (a resume), not the frame rate.
                if d > MediaTime::ZERO && d < MediaTime::from_secs(1) {
                    self.video_step = d;
                }
            }
            self.last_video = Some(frame.dts);
            self.video_step
        } else {
            tracks
                .audio
                .as_ref()
                .map_or(MediaTime::from_millis(21), |a| {
                    MediaTime::from_rate(i64::from(a.frame_samples), a.sample_rate)
                })
        };
        self.end = self.end.max(frame.dts + step);
    }
}

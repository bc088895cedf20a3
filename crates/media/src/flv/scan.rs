//! Pass 1 of [`finalize`](super::finalize()): statistics, the key frame table and the
//! final `onMetaData`, gathered one tag at a time.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read};
use std::sync::Arc;

use super::amf0::Amf0Value;
use super::cue::{self, cue_point};
use super::reader::{FlvReadError, FlvReader, FlvTag};
use super::tag::{TagDecoder, TimestampUnwrapper, TAG_AUDIO, TAG_FILLER, TAG_SCRIPT, TAG_VIDEO};
use super::writer::{default_encoder, video_codec_id, FlvError, AUDIO_CODEC_ID_AAC};
use crate::chapter::{self, Chapter, MAX_CHAPTERS, MAX_TITLE_BYTES};
use crate::codec::{AudioConfig, VideoConfig};
use crate::frame::MediaEvent;
use crate::time::MediaTime;

/// Audio running on past the video by more than this is content (the camera stopped, the
/// sound went on) and sets the duration; less is encoder delay, like ffmpeg's AAC ending
/// 87 ms after the video in a 2 s clip, and the video's end is kept.
const AUDIO_TAIL_COUNTS_MS: i64 = 1000;

/// Distinct frame intervals tracked for the median; past this (very variable frame rate)
/// new intervals are not counted, which only coarsens an estimate.
const MAX_INTERVALS: usize = 256;

/// Key frames indexed at most: each costs 18 bytes of `onMetaData` (two AMF0 numbers), so
/// more than this can never fit the 16 MiB metadata tag and the finalize fails with
/// `MetadataTooLarge` anyway (over ten days at one key frame a second). Past it the scan
/// only counts them, so a hostile file of tiny key frames cannot grow the index, or the
/// metadata built from it, without bound.
pub(super) const MAX_KEYFRAMES: usize = super::writer::MAX_TAG_BODY / 18;

/// True for the tags finalize leaves out: every `onMetaData` (the provisional one, and any
/// a source sent), since the final file has exactly one, written first.
pub(super) fn is_metadata(tag: &FlvTag) -> bool {
    tag.kind == TAG_SCRIPT
        && matches!(Amf0Value::decode(&tag.body), Ok((Amf0Value::String(name), _)) if name == "onMetaData")
}

/// True for the tags finalize leaves out: metadata (see [`is_metadata`]) and the filler
/// of a file finalized in place (its body holds the recording's provisional header). A
/// chapter's cue point retyped to the filler's type is kept (see `cue.rs`).
pub(super) fn is_dropped(tag: &FlvTag) -> bool {
    (tag.kind == TAG_FILLER && cue_point(tag).is_none()) || is_metadata(tag)
}

pub(super) fn tag_len(tag: &FlvTag) -> u64 {
    11 + tag.body.len() as u64 + 4
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct VideoStats {
    pub(super) frames: u64,
    pub(super) bytes: u64,
    pub(super) first_dts: Option<i64>,
    pub(super) last_dts: i64,
    pub(super) last_was_key: bool,
    /// Interval (ms) -> count, for the median.
    pub(super) intervals: BTreeMap<i64, u64>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct AudioStats {
    pub(super) frames: u64,
    pub(super) bytes: u64,
    pub(super) last_ts: i64,
}

/// Pass 1: everything the metadata needs, one tag at a time.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Scan {
    pub(super) input_len: u64,
    /// Input offset after the last complete tag.
    pub(super) valid_end: u64,
    pub(super) truncated: bool,
    /// Complete tags in the input (kept or not): pass 2 copies exactly these.
    pub(super) tags: u64,
    /// Bytes of the tags that are copied.
    pub(super) kept_bytes: u64,
    /// (tag time in ms, offset of the tag within the copied tags), at most
    /// [`MAX_KEYFRAMES`] of them.
    pub(super) keyframes: Vec<(i64, u64)>,
    /// Key frames past [`MAX_KEYFRAMES`], counted and not indexed.
    pub(super) keyframes_over: u64,
    pub(super) video_config: Option<Arc<VideoConfig>>,
    pub(super) audio_config: Option<Arc<AudioConfig>>,
    pub(super) encoder: Option<String>,
    pub(super) first_frame_ms: Option<i64>,
    pub(super) last_frame_ms: i64,
    pub(super) video: VideoStats,
    pub(super) audio: AudioStats,
    pub(super) undecodable_tags: u64,
    /// The first tag is an `onMetaData`.
    pub(super) first_is_metadata: bool,
    /// Tags left out (metadata, filler).
    pub(super) dropped_tags: u64,
    /// Where the tag after the first dropped one starts (the first media tag of a
    /// recording: its provisional `onMetaData` comes first).
    pub(super) first_kept: Option<u64>,
    /// Chapters (`onCuePoint` tags, see `cue.rs`): time in ms and title, at most
    /// [`MAX_CHAPTERS`].
    pub(super) cues: Vec<(i64, String)>,
    /// Input offset of each cue point tag, for retyping in place: the first
    /// [`MAX_CHAPTERS`] (a hostile file of millions of cue points must not grow this;
    /// past it an in-place finalize leaves the rest as they are, which only costs ffmpeg's
    /// readers a subtitle stream, see `cue.rs`).
    pub(super) cue_offsets: Vec<u64>,
}

pub(super) struct Timing {
    pub(super) duration_ms: i64,
    pub(super) video_span_ms: i64,
}

impl Scan {
    pub(super) fn run<R: Read>(input: &mut R) -> Result<Scan, FlvError> {
        let mut scan = Scan::default();
        let mut reader = FlvReader::new();
        let mut decoder = TagDecoder::new();
        let mut clock = TimestampUnwrapper::default();
        let mut buf = vec![0u8; 1 << 16];
        let mut tags = Vec::new();
        let mut events = Vec::new();
        loop {
            let n = read_some(input, &mut buf, scan.input_len)?;
            if n == 0 {
                break;
            }
            scan.input_len += n as u64;
            let result = reader.push(&buf[..n], &mut tags);
            for tag in tags.drain(..) {
                scan.tag(&tag, &mut decoder, &mut clock, &mut events);
            }
            match result {
                Ok(()) => {}
                Err(e @ FlvReadError::NotFlv(_)) => return Err(e.into()),
                // Garbage after the header: a disk that lost the end of the file fills it
                // with zeros. Keep what came before, as for a cut tag.
                Err(_) => {
                    scan.truncated = true;
                    // Count what is left, so `discarded_bytes` is the real amount.
                    loop {
                        let n = read_some(input, &mut buf, scan.input_len)?;
                        if n == 0 {
                            break;
                        }
                        scan.input_len += n as u64;
                    }
                    break;
                }
            }
        }
        if reader.position() == 0 {
            return Err(FlvError::NoHeader {
                len: scan.input_len,
            });
        }
        scan.valid_end = reader.position();
        scan.truncated |= scan.valid_end < scan.input_len;
        Ok(scan)
    }

    fn tag(
        &mut self,
        tag: &FlvTag,
        decoder: &mut TagDecoder,
        clock: &mut TimestampUnwrapper,
        events: &mut Vec<MediaEvent>,
    ) {
        self.tags += 1;
        if self.tags == 1 {
            self.first_is_metadata = is_metadata(tag);
        }
        if is_dropped(tag) {
            self.dropped_tags += 1;
            self.first_kept.get_or_insert(tag.offset + tag_len(tag));
            if tag.kind == TAG_FILLER {
                return;
            }
            if self.encoder.is_none() {
                self.encoder = Amf0Value::decode_all(&tag.body).ok().and_then(|v| {
                    v.get(1)
                        .and_then(|m| m.get("encoder"))
                        .and_then(Amf0Value::as_str)
                        .map(str::to_owned)
                });
            }
            return;
        }
        let position = self.kept_bytes;
        self.kept_bytes += tag_len(tag);
        let ts = clock.unwrap(tag.ts_ms);
        if let Some(title) = cue_point(tag) {
            self.cue(tag.offset, ts, title);
            return;
        }
        events.clear();
        let decoded = match tag.kind {
            TAG_VIDEO => decoder.video(tag.ts_ms, tag.body.clone(), events),
            TAG_AUDIO => decoder.audio(tag.ts_ms, tag.body.clone(), events),
            _ => return,
        };
        if decoded.is_err() {
            self.undecodable_tags += 1;
            return;
        }
        for event in events.drain(..) {
            self.event(event, ts, tag.body.len(), position);
        }
    }

    /// What the writer knows of its provisional header: the file header and the
    /// `onMetaData` tag of `meta_len` body bytes, written first.
    pub(super) fn wrote_header(&mut self, meta_len: usize, encoder: &str) {
        let header_and_meta = 13 + 11 + meta_len as u64 + 4;
        self.tags = 1;
        self.first_is_metadata = true;
        self.dropped_tags = 1;
        self.first_kept = Some(header_and_meta);
        self.encoder = Some(encoder.to_owned());
        self.input_len = header_and_meta;
        self.valid_end = header_and_meta;
    }

    /// What the writer knows of a tag it wrote (of `body_len` bytes at time `ts_ms`): the
    /// event it carries. The same as reading the tag back from the file.
    pub(super) fn wrote_tag(
        &mut self,
        clock: &mut TimestampUnwrapper,
        ts_ms: u32,
        body_len: usize,
        event: MediaEvent,
    ) {
        self.tags += 1;
        let position = self.kept_bytes;
        let len = 11 + body_len as u64 + 4;
        self.kept_bytes += len;
        self.input_len += len;
        self.valid_end += len;
        let ts = clock.unwrap(ts_ms);
        self.event(event, ts, body_len, position);
    }

    /// What the writer knows of a cue point tag it wrote at `ts_ms`, `body_len` bytes of
    /// body: the same as reading it back.
    pub(super) fn wrote_cue_point(
        &mut self,
        clock: &mut TimestampUnwrapper,
        ts_ms: u32,
        body_len: usize,
        title: &str,
    ) {
        let offset = self.input_len;
        self.tags += 1;
        let len = 11 + body_len as u64 + 4;
        self.kept_bytes += len;
        self.input_len += len;
        self.valid_end += len;
        let ts = clock.unwrap(ts_ms);
        self.cue(
            offset,
            ts,
            chapter::truncate(title, MAX_TITLE_BYTES).to_owned(),
        );
    }

    fn cue(&mut self, offset: u64, ts: i64, title: String) {
        if self.cues.len() < MAX_CHAPTERS {
            self.cue_offsets.push(offset);
            self.cues.push((ts, title));
        }
    }

    fn event(&mut self, event: MediaEvent, ts: i64, body_len: usize, position: u64) {
        {
            match event {
                MediaEvent::VideoConfig(c) => {
                    self.video_config.get_or_insert(c);
                }
                MediaEvent::AudioConfig(c) => {
                    self.audio_config.get_or_insert(c);
                }
                MediaEvent::Frame(f) => {
                    self.first_frame_ms.get_or_insert(ts);
                    self.last_frame_ms = self.last_frame_ms.max(ts);
                    if f.is_video() {
                        let v = &mut self.video;
                        if v.first_dts.is_some() {
                            let interval = ts - v.last_dts;
                            if let Some(count) = v.intervals.get_mut(&interval) {
                                *count += 1;
                            } else if v.intervals.len() < MAX_INTERVALS {
                                v.intervals.insert(interval, 1);
                            }
                        }
                        v.first_dts.get_or_insert(ts);
                        v.frames += 1;
                        v.bytes += body_len as u64;
                        v.last_dts = ts;
                        v.last_was_key = f.keyframe;
                        if f.keyframe {
                            if self.keyframes.len() < MAX_KEYFRAMES {
                                self.keyframes.push((ts, position));
                            } else {
                                self.keyframes_over += 1;
                            }
                        }
                    } else {
                        self.audio.frames += 1;
                        self.audio.bytes += body_len as u64;
                        self.audio.last_ts = ts;
                    }
                }
            }
        }
    }

    fn median_video_interval(&self) -> i64 {
        let n: u64 = self.video.intervals.values().sum();
        let mut seen = 0;
        for (&interval, &count) in &self.video.intervals {
            seen += count;
            if seen * 2 >= n {
                return interval.max(0);
            }
        }
        0
    }

    /// Every key frame seen, indexed or not.
    pub(super) fn keyframe_count(&self) -> u64 {
        self.keyframes.len() as u64 + self.keyframes_over
    }

    /// The error a finalize returns before building metadata that cannot fit a tag.
    pub(super) fn check_index_fits(&self) -> Result<(), FlvError> {
        if self.keyframes_over > 0 {
            return Err(FlvError::MetadataTooLarge {
                keyframes: self.keyframe_count(),
            });
        }
        Ok(())
    }

    /// The chapters the final file lists: `(time in ms, title)` on the tags' timeline (as
    /// the key frame index's times), sorted, each at most once per millisecond (the one
    /// added last), none at or after the end of the media.
    pub(super) fn chapters(&self) -> Vec<(i64, String)> {
        let end = self.first_frame_ms.unwrap_or(0) + self.timing().duration_ms;
        let marks: Vec<Chapter> = self
            .cues
            .iter()
            .map(|(ms, title)| Chapter {
                start: MediaTime::from_millis(*ms),
                title: title.clone(),
            })
            .collect();
        chapter::with_ends(&marks, MediaTime::from_millis(end))
            .into_iter()
            .map(|(c, _)| (c.start.as_millis(), c.title))
            .collect()
    }

    pub(super) fn timing(&self) -> Timing {
        let Some(first) = self.first_frame_ms else {
            return Timing {
                duration_ms: 0,
                video_span_ms: 0,
            };
        };
        let audio_end = (self.audio.frames > 0).then(|| {
            let frame_ms = self.audio_config.as_ref().map_or(0, |a| {
                MediaTime::from_rate(i64::from(a.frame_samples), a.sample_rate).as_millis()
            });
            self.audio.last_ts + frame_ms
        });
        let video_end = self
            .video
            .first_dts
            .map(|_| self.video.last_dts + self.median_video_interval());
        let end = match (video_end, audio_end) {
            (Some(v), Some(a)) if a > v + AUDIO_TAIL_COUNTS_MS => a,
            (Some(v), _) => v,
            (None, Some(a)) => a,
            (None, None) => first,
        };
        let video_span_ms = match (video_end, self.video.first_dts) {
            (Some(end), Some(start)) => end - start,
            _ => 0,
        };
        Timing {
            duration_ms: (end - first).max(0),
            video_span_ms,
        }
    }

    /// The final `onMetaData`, for media tags starting at `media_start` in a file of
    /// `filesize` bytes. Keys in the order flvmeta writes them; track keys only for tracks
    /// that exist; the caller's `extra` entries after `encoder`, before the `keyframes`
    /// index (which stays last, as flvmeta writes it).
    pub(super) fn metadata(
        &self,
        media_start: u64,
        filesize: u64,
        extra: &[(String, Amf0Value)],
    ) -> Amf0Value {
        let timing = self.timing();
        let secs = |ms: i64| ms as f64 / 1000.0;
        let duration = secs(timing.duration_ms);
        let kbps = |bytes: u64| {
            if duration > 0.0 {
                bytes as f64 * 8.0 / 1000.0 / duration
            } else {
                0.0
            }
        };
        let num = |k: &str, v: f64| (k.to_owned(), Amf0Value::Number(v));
        let boolean = |k: &str, v: bool| (k.to_owned(), Amf0Value::Boolean(v));
        let last_key = self.keyframes.last();

        let mut p = vec![
            boolean("hasMetadata", true),
            boolean("hasVideo", self.video_config.is_some()),
            boolean("hasAudio", self.audio_config.is_some()),
            num("duration", duration),
            num("lasttimestamp", secs(self.last_frame_ms)),
        ];
        if let Some(&(ts, pos)) = last_key {
            p.push(num("lastkeyframetimestamp", secs(ts)));
            p.push(num("lastkeyframelocation", (media_start + pos) as f64));
        }
        if let Some(v) = &self.video_config {
            let framerate = if timing.video_span_ms > 0 {
                self.video.frames as f64 * 1000.0 / timing.video_span_ms as f64
            } else {
                0.0
            };
            p.push(num("width", f64::from(v.width)));
            p.push(num("height", f64::from(v.height)));
            p.push(num("framerate", framerate));
            p.push(num("videocodecid", video_codec_id(v.codec)));
            p.push(num("videodatarate", kbps(self.video.bytes)));
        }
        if let Some(a) = &self.audio_config {
            p.push(num("audiocodecid", AUDIO_CODEC_ID_AAC));
            p.push(num("audiosamplerate", f64::from(a.sample_rate)));
            // AAC decodes to 16-bit in FLV's model (E.4.2.1: AAC is always SoundSize 1).
            p.push(num("audiosamplesize", 16.0));
            p.push(boolean("stereo", a.channels >= 2));
            p.push(num("audiodatarate", kbps(self.audio.bytes)));
        }
        p.push(num("filesize", filesize as f64));
        p.push(boolean("hasKeyframes", !self.keyframes.is_empty()));
        // flvmeta's definition: a player may seek to the very end only when the last video
        // frame is a key frame.
        p.push(boolean(
            "canSeekToEnd",
            self.video.frames > 0 && self.video.last_was_key,
        ));
        p.push((
            "encoder".to_owned(),
            Amf0Value::String(self.encoder.clone().unwrap_or_else(default_encoder)),
        ));
        p.extend(extra.iter().cloned());
        let chapters = self.chapters();
        if !chapters.is_empty() {
            p.push(("chapters".to_owned(), cue::list(&chapters)));
        }
        if !self.keyframes.is_empty() {
            let times = self
                .keyframes
                .iter()
                .map(|&(ts, _)| Amf0Value::Number(secs(ts)))
                .collect();
            let positions = self
                .keyframes
                .iter()
                .map(|&(_, pos)| Amf0Value::Number((media_start + pos) as f64))
                .collect();
            p.push((
                "keyframes".to_owned(),
                Amf0Value::Object(vec![
                    ("times".to_owned(), Amf0Value::StrictArray(times)),
                    (
                        "filepositions".to_owned(),
                        Amf0Value::StrictArray(positions),
                    ),
                ]),
            ));
        }
        Amf0Value::EcmaArray(p)
    }
}

pub(super) fn read_some<R: Read>(
    input: &mut R,
    buf: &mut [u8],
    offset: u64,
) -> Result<usize, FlvError> {
    loop {
        match input.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(source) => return Err(FlvError::Read { offset, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flv::writer::FlvError;

    const AVCC: &[u8] = include_bytes!("../../../../tests/fixtures/h264_320x240.avcc");

    fn tag(kind: u8, ts: u32, body: &[u8], out: &mut Vec<u8>) {
        let size = body.len() as u32;
        out.push(kind);
        out.extend_from_slice(&size.to_be_bytes()[1..]);
        out.extend_from_slice(&ts.to_be_bytes()[1..]);
        out.push((ts >> 24) as u8);
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(body);
        out.extend_from_slice(&(11 + size).to_be_bytes());
    }

    #[test]
    fn the_key_frame_index_stops_growing_where_no_metadata_could_hold_it() {
        // A hostile file: a sequence header, then tiny key frames (25 bytes each), more than
        // a metadata tag can index.
        let mut file = b"FLV\x01\x01\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
        let mut header = vec![0x17, 0, 0, 0, 0];
        header.extend_from_slice(AVCC);
        tag(9, 0, &header, &mut file);
        let extra = 10;
        for i in 0..(MAX_KEYFRAMES + extra) as u32 {
            tag(9, i, &[0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65], &mut file);
        }
        let scan = Scan::run(&mut &file[..]).unwrap();
        assert_eq!(scan.keyframes.len(), MAX_KEYFRAMES);
        assert_eq!(scan.keyframe_count(), (MAX_KEYFRAMES + extra) as u64);
        let err = crate::flv::finalize(std::io::Cursor::new(&file), std::io::sink()).unwrap_err();
        assert!(
            matches!(err, FlvError::MetadataTooLarge { keyframes } if keyframes == (MAX_KEYFRAMES + extra) as u64),
            "{err:?}"
        );
    }

    #[test]
    fn cue_points_of_a_hostile_file_are_bounded() {
        use crate::chapter::{MAX_CHAPTERS, MAX_TITLE_BYTES};
        let mut file = b"FLV\x01\x01\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
        let long = crate::flv::cue::body(0, "a");
        // A title longer than a chapter keeps: written by hand, cut when read.
        let mut body = Vec::new();
        Amf0Value::String("onCuePoint".into()).encode(&mut body);
        Amf0Value::Object(vec![("name".into(), Amf0Value::String("z".repeat(5000)))])
            .encode(&mut body);
        tag(18, 0, &body, &mut file);
        for i in 0..(MAX_CHAPTERS + 10) as u32 {
            tag(18, i, &long, &mut file);
        }
        let scan = Scan::run(&mut &file[..]).unwrap();
        assert_eq!(scan.cues.len(), MAX_CHAPTERS);
        assert_eq!(scan.cue_offsets.len(), MAX_CHAPTERS);
        assert_eq!(scan.cues[0].1.len(), MAX_TITLE_BYTES);
        assert_eq!(scan.cue_offsets[1], 13 + 11 + body.len() as u64 + 4);
    }
}

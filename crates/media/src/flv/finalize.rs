//! Finalizing an FLV recording: the complete `onMetaData` with duration and seek index.
//!
//! Users of other recorders complain of FLV files without duration or `keyframes` table
//! (REFERENCE.md section 3, #6): players then cannot show a seek bar or seek without
//! reading the whole file. [`finalize`] reads the recorder's temp file twice and writes the
//! final file:
//! ```text
//! FLV header (flags from what the file really holds) + PreviousTagSize0
//! tag 18 onMetaData ECMA array { duration, filesize, width, ..., encoder,
//!            the caller's entries (FinalizeOptions::metadata), chapters (see cue.rs),
//!            keyframes: { times: [s, ...], filepositions: [byte offset of each
//!            key frame tag, ...] } }
//! every other tag of the input, unchanged (earlier onMetaData tags dropped; onCuePoint
//! tags retyped 15)
//! ```
//! `keyframes` follows the yamdi/flvmeta convention that ffmpeg, flv.js and Flash read: a
//! position is the offset of the video tag's header in the final file. Those positions
//! depend on the size of the metadata that contains them; AMF0 numbers are fixed-width
//! doubles, so the size depends only on the number of key frames, and a second encoding
//! with the measured size is stable (checked, in a loop, rather than assumed).
//!
//! The input is read alone, so the same call repairs a file left by a crash: it stops at the
//! last complete tag and reports `truncated_tail`. Memory is one key frame table entry per
//! key frame plus one tag at a time, never the media.

use std::io::{Read, Seek, SeekFrom, Write};

use super::amf0::Amf0Value;
use super::cue::cue_point;
use super::reader::FlvReader;
use super::scan::{is_dropped, read_some, Scan};
use super::tag::{TAG_FILLER, TAG_SCRIPT};
use super::writer::{file_header, script_body, tag_header, FlvError, MAX_TAG_BODY};
use crate::codec::VideoCodec;
use crate::time::MediaTime;

/// What [`finalize`] found and wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct FlvSummary {
    /// The `duration` written into the metadata (see [`finalize`] for its definition).
    pub duration: MediaTime,
    pub video_frames: u64,
    pub audio_frames: u64,
    /// Entries of the `keyframes` index.
    pub keyframes: u64,
    /// Size of the final file.
    pub bytes: u64,
    /// The input ended inside a tag, or with bytes that are not a tag (a crash, or a disk
    /// that lost the end of the file): everything from there was left out.
    pub truncated_tail: bool,
    /// Input bytes left out after the last complete tag.
    pub discarded_bytes: u64,
    /// Tags copied although they could not be decoded (counted in no statistic).
    pub undecodable_tags: u64,
    pub width: u32,
    pub height: u32,
    pub video_codec: Option<VideoCodec>,
    pub audio_sample_rate: u32,
    pub audio_channels: u8,
    /// Chapters listed in `onMetaData.chapters` (from the recording's `onCuePoint` tags).
    pub chapters: usize,
}

/// Rewrites the recording `input` as a finished FLV file on `output`.
///
/// `input` must be seekable: it is read twice (once to build the index, once to copy),
/// which is what keeps memory independent of the recording's length. Reading starts at its
/// current position. `output` is written through an internal buffer and flushed; syncing it
/// to disk is the caller's job.
///
/// `duration` is the end of the last video frame (its DTS plus the median frame interval)
/// minus the first frame's DTS, or the end of the audio when there is no video or the audio
/// runs on for more than a second. `framerate` is video frames over that video span.
pub fn finalize<R: Read + Seek, W: Write>(input: R, output: W) -> Result<FlvSummary, FlvError> {
    finalize_with(input, output, &FinalizeOptions::default())
}

/// What the final file says besides what [`finalize`] computes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FinalizeOptions {
    /// Entries added to the final `onMetaData`, after `encoder`. Default: none. Entries
    /// the recording's provisional metadata had (see [`FlvWriter::with_metadata`]) are not
    /// carried over: the caller decides.
    ///
    /// [`FlvWriter::with_metadata`]: super::FlvWriter::with_metadata
    pub metadata: Vec<(String, Amf0Value)>,
}

/// [`finalize`] with entries of the caller's own in the `onMetaData`.
pub fn finalize_with<R: Read + Seek, W: Write>(
    mut input: R,
    output: W,
    options: &FinalizeOptions,
) -> Result<FlvSummary, FlvError> {
    let start = input
        .stream_position()
        .map_err(|source| FlvError::Read { offset: 0, source })?;
    let scan = Scan::run(&mut input)?;
    scan.check_index_fits()?;
    input
        .seek(SeekFrom::Start(start))
        .map_err(|source| FlvError::Read { offset: 0, source })?;

    let has_video = scan.video_config.is_some();
    let has_audio = scan.audio_config.is_some();
    let header = file_header(has_video, has_audio);
    // Media tags start after the header and the metadata tag, whose size depends on the
    // positions it lists only if AMF0 numbers were variable-width (they are not): start from
    // a guess and re-encode until the size the positions assume is the size written.
    let meta_tag_start = header.len() as u64;
    let mut media_start = meta_tag_start;
    let mut attempts = 0;
    let meta = loop {
        let meta = script_body(scan.metadata(
            media_start,
            media_start + scan.kept_bytes,
            &options.metadata,
        ));
        let actual = meta_tag_start + 11 + meta.len() as u64 + 4;
        if actual == media_start {
            break meta;
        }
        attempts += 1;
        if attempts > 4 {
            return Err(FlvError::MetadataUnstable {
                assumed: media_start,
                actual,
            });
        }
        media_start = actual;
    };
    if meta.len() > MAX_TAG_BODY {
        return Err(FlvError::MetadataTooLarge {
            keyframes: scan.keyframe_count(),
        });
    }

    let mut out = Output {
        inner: std::io::BufWriter::with_capacity(1 << 16, output),
        written: 0,
    };
    out.write(&header)?;
    out.write(&tag_header(TAG_SCRIPT, 0, meta.len()))?;
    out.write(&meta)?;
    out.write(&((11 + meta.len()) as u32).to_be_bytes())?;
    copy_tags(&mut input, &scan, &mut out)?;
    out.inner.flush().map_err(|source| FlvError::Write {
        offset: out.written,
        source,
    })?;
    if out.written != media_start + scan.kept_bytes {
        return Err(FlvError::InputChanged {
            detail: format!(
                "wrote {} bytes, the index assumed {}",
                out.written,
                media_start + scan.kept_bytes
            ),
        });
    }

    Ok(scan.summary(out.written))
}

impl Scan {
    /// What a finalize of this scan reports, for a final file of `bytes`.
    pub(super) fn summary(&self, bytes: u64) -> FlvSummary {
        let duration = self.timing().duration_ms;
        FlvSummary {
            duration: MediaTime::from_millis(duration),
            video_frames: self.video.frames,
            audio_frames: self.audio.frames,
            keyframes: self.keyframe_count(),
            bytes,
            truncated_tail: self.truncated,
            discarded_bytes: self.input_len - self.valid_end,
            undecodable_tags: self.undecodable_tags,
            width: self.video_config.as_ref().map_or(0, |v| v.width),
            height: self.video_config.as_ref().map_or(0, |v| v.height),
            video_codec: self.video_config.as_ref().map(|v| v.codec),
            audio_sample_rate: self.audio_config.as_ref().map_or(0, |a| a.sample_rate),
            audio_channels: self.audio_config.as_ref().map_or(0, |a| a.channels),
            chapters: self.chapters().len(),
        }
    }
}

/// Pass 2: copy the same tags pass 1 counted, minus metadata.
fn copy_tags<R: Read, W: Write>(
    input: &mut R,
    scan: &Scan,
    out: &mut Output<W>,
) -> Result<(), FlvError> {
    let mut reader = FlvReader::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut tags = Vec::new();
    let mut seen = 0u64;
    let mut read = 0u64;
    while seen < scan.tags {
        let n = read_some(input, &mut buf, read)?;
        if n == 0 {
            break;
        }
        read += n as u64;
        let result = reader.push(&buf[..n], &mut tags);
        for tag in tags.drain(..) {
            if seen == scan.tags {
                break;
            }
            seen += 1;
            if is_dropped(&tag) {
                continue;
            }
            // A chapter's cue point stays, retyped so players skip it (see `cue.rs`).
            let kind = if cue_point(&tag).is_some() {
                TAG_FILLER
            } else {
                tag.kind
            };
            out.write(&tag_header(kind, tag.ts_ms, tag.body.len()))?;
            out.write(&tag.body)?;
            out.write(&((11 + tag.body.len()) as u32).to_be_bytes())?;
        }
        if result.is_err() {
            break;
        }
    }
    if seen != scan.tags {
        return Err(FlvError::InputChanged {
            detail: format!("{} tags on the first read, {seen} on the second", scan.tags),
        });
    }
    Ok(())
}

struct Output<W: Write> {
    inner: std::io::BufWriter<W>,
    written: u64,
}

impl<W: Write> Output<W> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), FlvError> {
        self.inner
            .write_all(bytes)
            .map_err(|source| FlvError::Write {
                offset: self.written,
                source,
            })?;
        self.written += bytes.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flv::amf0::Amf0Value;
    use crate::flv::scan::{is_metadata, tag_len};
    use crate::flv::tag::TAG_VIDEO;
    use crate::flv::test_support::{events, fixture, frames_of, record, synthetic, tags};
    use crate::frame::{Frame, Tracks};
    use std::io::Cursor;

    fn run(input: &[u8]) -> (FlvSummary, Vec<u8>) {
        let mut out = Vec::new();
        let summary = finalize(Cursor::new(input), &mut out).expect("finalizes");
        (summary, out)
    }

    fn metadata(file: &[u8]) -> Amf0Value {
        let all = tags(file);
        let metas: Vec<_> = all.iter().filter(|t| is_metadata(t)).collect();
        assert_eq!(metas.len(), 1, "exactly one onMetaData");
        assert_eq!(all[0].kind, TAG_SCRIPT, "metadata first");
        let values = Amf0Value::decode_all(&metas[0].body).expect("metadata decodes");
        values.get(1).cloned().expect("metadata has a value")
    }

    fn numbers(v: Option<&Amf0Value>) -> Vec<f64> {
        v.and_then(Amf0Value::as_array).map_or_else(Vec::new, |a| {
            a.iter().filter_map(Amf0Value::as_f64).collect()
        })
    }

    fn num(meta: &Amf0Value, key: &str) -> f64 {
        meta.get(key)
            .and_then(Amf0Value::as_f64)
            .unwrap_or(f64::NAN)
    }

    /// Key frame video tags of `file` as (offset, ts_ms); legacy AVC: FrameType 1, packet 1.
    fn key_frame_tags(file: &[u8]) -> Vec<(u64, u32)> {
        tags(file)
            .iter()
            .filter(|t| {
                t.kind == TAG_VIDEO && t.body.len() > 1 && t.body[0] >> 4 == 1 && t.body[1] == 1
            })
            .map(|t| (t.offset, t.ts_ms))
            .collect()
    }

    #[test]
    fn index_points_at_every_key_frame_tag() {
        for (tracks, frames) in [synthetic(3), fixture()] {
            let (summary, out) = run(&record(&tracks, &frames));
            let meta = metadata(&out);
            let kf = meta.get("keyframes").expect("keyframes object");
            let times = numbers(kf.get("times"));
            let positions = numbers(kf.get("filepositions"));
            let expected = key_frame_tags(&out);
            assert!(expected.len() >= 2);
            assert_eq!(summary.keyframes, expected.len() as u64);
            assert_eq!(positions.len(), expected.len());
            assert_eq!(times.len(), expected.len());
            for ((pos, time), (offset, ts)) in positions.iter().zip(&times).zip(&expected) {
                assert_eq!(*pos, *offset as f64);
                // The byte at the position is the start of a video tag header.
                assert_eq!(out[*offset as usize], TAG_VIDEO);
                assert_eq!(*time, f64::from(*ts) / 1000.0);
            }
            assert_eq!(
                num(&meta, "lastkeyframelocation"),
                *positions.last().expect("a key frame")
            );
            assert_eq!(
                num(&meta, "lastkeyframetimestamp"),
                *times.last().expect("a key frame")
            );
            assert_eq!(
                meta.get("hasKeyframes").and_then(Amf0Value::as_bool),
                Some(true)
            );
        }
    }

    #[test]
    fn metadata_values_and_untouched_media() {
        let (tracks, frames) = fixture();
        let temp = record(&tracks, &frames);
        let (summary, out) = run(&temp);
        let meta = metadata(&out);
        assert_eq!(num(&meta, "filesize"), out.len() as f64);
        assert_eq!(summary.bytes, out.len() as u64);
        // 60 frames at 30 fps: the last DTS is 1967 ms, plus the median interval of 33 ms.
        assert_eq!(num(&meta, "duration"), 2.0);
        assert_eq!(summary.duration, MediaTime::from_secs(2));
        assert_eq!(num(&meta, "framerate"), 30.0);
        assert_eq!((num(&meta, "width"), num(&meta, "height")), (320.0, 240.0));
        assert_eq!((summary.width, summary.height), (320, 240));
        assert_eq!(
            (num(&meta, "videocodecid"), num(&meta, "audiocodecid")),
            (7.0, 10.0)
        );
        assert_eq!(
            (num(&meta, "audiosamplerate"), num(&meta, "audiosamplesize")),
            (44100.0, 16.0)
        );
        assert_eq!(meta.get("stereo").and_then(Amf0Value::as_bool), Some(true));
        assert_eq!(num(&meta, "lasttimestamp"), 2.064);
        assert!(num(&meta, "videodatarate") > 100.0 && num(&meta, "audiodatarate") > 30.0);
        assert_eq!(
            meta.get("encoder").and_then(Amf0Value::as_str),
            Some("Tapedeck test"),
            "carried over"
        );
        assert_eq!(
            (
                summary.video_frames,
                summary.audio_frames,
                summary.truncated_tail
            ),
            (60, 88, false)
        );
        assert_eq!(
            &out[..13],
            &[b'F', b'L', b'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]
        );
        // Everything after the metadata is the temp file's tags, byte for byte.
        let temp_tags = tags(&temp);
        let skip_temp = temp_tags[1].offset as usize;
        let skip_out = tags(&out)[1].offset as usize;
        assert_eq!(&out[skip_out..], &temp[skip_temp..]);
        assert_eq!(frames_of(&events(&out)), frames);
        // Finalizing a final file again changes nothing.
        assert_eq!(run(&out).1, out);
    }

    #[test]
    fn duration_follows_the_video_unless_the_audio_runs_on() {
        let (tracks, frames) = synthetic(3);
        let video_end =
            |f: &Frame| !f.is_video() || f.dts < frames[0].dts + MediaTime::from_secs(1);
        // Video for 1 s (30 frames, last DTS 966 ms + 33 ms), audio for 3 s: the audio counts.
        let cut: Vec<_> = frames.iter().filter(|f| video_end(f)).cloned().collect();
        let (summary, out) = run(&record(&tracks, &cut));
        assert!(
            summary.duration > MediaTime::from_millis(2900),
            "{}",
            summary.duration
        );
        assert_eq!(num(&metadata(&out), "framerate"), 30_000.0 / 999.0);
        // Audio ending 100 ms after the video is encoder delay: the video's end counts.
        let limit = frames[0].dts + MediaTime::from_millis(1100);
        let short: Vec<_> = cut.iter().filter(|f| f.dts < limit).cloned().collect();
        assert_eq!(
            run(&record(&tracks, &short)).0.duration,
            MediaTime::from_millis(999)
        );
    }

    #[test]
    fn audio_only_and_empty_recordings() {
        let (tracks, frames) = synthetic(2);
        let audio: Vec<_> = frames.into_iter().filter(|f| !f.is_video()).collect();
        let (summary, out) = run(&record(
            &Tracks {
                video: None,
                ..tracks.clone()
            },
            &audio,
        ));
        let meta = metadata(&out);
        assert_eq!(out[4], 0x04);
        assert!(meta.get("keyframes").is_none() && meta.get("width").is_none());
        assert_eq!(
            meta.get("hasVideo").and_then(Amf0Value::as_bool),
            Some(false)
        );
        // 86 frames of 1024 samples: the last starts at 85 * 23.22 ms, plus one frame.
        assert_eq!(summary.duration.as_millis(), 1973 + 23);
        assert_eq!(num(&meta, "filesize"), out.len() as f64);

        // Killed right after the header: a valid file with no frames.
        let (summary, out) = run(&record(&tracks, &[]));
        assert_eq!(
            (summary.duration, summary.keyframes, summary.truncated_tail),
            (MediaTime::ZERO, 0, false)
        );
        assert_eq!(num(&metadata(&out), "duration"), 0.0);

        assert!(matches!(
            finalize(Cursor::new(b"FLV\x01"), &mut Vec::new()),
            Err(FlvError::NoHeader { len: 4 })
        ));
        assert!(matches!(
            finalize(Cursor::new(b""), &mut Vec::new()),
            Err(FlvError::NoHeader { len: 0 })
        ));
        assert!(matches!(
            finalize(Cursor::new(b"RIFF...."), &mut Vec::new()),
            Err(FlvError::NotFlv(_))
        ));
    }

    #[test]
    fn truncated_recordings_finalize_to_their_complete_tags() {
        let (tracks, frames) = synthetic(2);
        let temp = record(&tracks, &frames);
        let all = tags(&temp);
        let mut cuts: Vec<usize> = vec![14, 24, temp.len() - 1, temp.len() - 4, temp.len() - 5];
        for t in all.iter().step_by(7) {
            let at = t.offset as usize;
            cuts.extend([
                at + 1,
                at + 11,
                at + 11 + t.body.len() / 2,
                at + 11 + t.body.len() + 2,
            ]);
        }
        for cut in cuts {
            let input = &temp[..cut];
            let mut out = Vec::new();
            let summary = finalize(Cursor::new(input), &mut out)
                .unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
            assert!(summary.truncated_tail, "cut at {cut}");
            let complete = all
                .iter()
                .filter(|t| t.offset + 11 + t.body.len() as u64 + 4 <= cut as u64)
                .last();
            let valid_end = complete.map_or(13, |t| t.offset + 11 + t.body.len() as u64 + 4);
            assert_eq!(
                summary.discarded_bytes,
                cut as u64 - valid_end,
                "cut at {cut}"
            );
            assert_eq!(summary.bytes, out.len() as u64);
            let meta = metadata(&out);
            assert_eq!(num(&meta, "filesize"), out.len() as f64);
            let positions = numbers(meta.get("keyframes").and_then(|k| k.get("filepositions")));
            let expected: Vec<f64> = key_frame_tags(&out)
                .iter()
                .map(|&(o, _)| o as f64)
                .collect();
            assert_eq!(positions, expected, "cut at {cut}");
        }
        // A tail of zeros (a disk that lost the last blocks) is cut off the same way.
        let mut zeros = temp.clone();
        zeros.extend_from_slice(&[0; 4096]);
        let (summary, out) = run(&zeros);
        assert!(summary.truncated_tail);
        assert_eq!(summary.discarded_bytes, 4096);
        assert_eq!(run(&temp).1, out);
    }

    #[test]
    fn every_prefix_finalizes_or_fails_cleanly() {
        // Small enough to try every cut: header, metadata, sequence headers, a few frames.
        let (tracks, frames) = synthetic(1);
        let temp = record(&tracks, &frames[..6]);
        let ends: Vec<u64> = std::iter::once(13)
            .chain(tags(&temp).iter().map(|t| t.offset + tag_len(t)))
            .collect();
        for cut in 0..temp.len() {
            match finalize(Cursor::new(&temp[..cut]), &mut Vec::new()) {
                Ok(s) => assert_eq!(
                    s.truncated_tail,
                    !ends.contains(&(cut as u64)),
                    "cut at {cut}"
                ),
                Err(e) => assert!(
                    cut < 13 && matches!(e, FlvError::NoHeader { .. }),
                    "cut at {cut}: {e}"
                ),
            }
        }
    }

    #[test]
    fn chapters_become_cue_points_of_the_metadata() {
        use crate::flv::cue::cue_point;
        use crate::flv::test_support::record_with_chapters;
        let (tracks, frames) = synthetic(3);
        let t0 = frames[0].dts;
        let ms = |ms: i64| t0 + MediaTime::from_millis(ms);
        let marks = [
            (ms(500), "one"),
            (ms(1500), "two é"),
            (ms(60_000), "after the end"),
        ];
        let (part, _) = record_with_chapters(&tracks, &frames, &marks);
        // The .part: an onCuePoint tag per chapter, at its time.
        let cues = |file: &[u8], kind: u8| -> Vec<(u32, String)> {
            tags(file)
                .iter()
                .filter(|t| t.kind == kind)
                .filter_map(|t| Some((t.ts_ms, cue_point(t)?)))
                .collect()
        };
        let written = vec![
            (500, "one".to_owned()),
            (1500, "two é".to_owned()),
            (60_000, "after the end".to_owned()),
        ];
        assert_eq!(cues(&part, TAG_SCRIPT), written);

        let (summary, out) = run(&part);
        assert_eq!(summary.chapters, 2, "none at or after the end");
        let meta = metadata(&out);
        assert_eq!(
            crate::flv::test_support::chapters_of(&meta),
            [(0.5, "one".to_owned()), (1.5, "two é".to_owned())]
        );
        // The tags stay where they were, retyped so players skip them.
        assert_eq!(cues(&out, TAG_FILLER), written);
        assert!(cues(&out, TAG_SCRIPT).is_empty());
        // The media and its index are those of a recording without chapters.
        let (plain_summary, plain) = run(&record(&tracks, &frames));
        assert_eq!(frames_of(&events(&out)), frames_of(&events(&plain)));
        assert_eq!(
            FlvSummary {
                chapters: 2,
                bytes: summary.bytes,
                ..plain_summary
            },
            summary
        );
        let positions = numbers(meta.get("keyframes").and_then(|k| k.get("filepositions")));
        let expected: Vec<f64> = key_frame_tags(&out)
            .iter()
            .map(|&(o, _)| o as f64)
            .collect();
        assert_eq!(positions, expected);
        assert_eq!(num(&meta, "filesize"), out.len() as f64);
        // Finalizing the final file again changes nothing: retyped, they are still chapters.
        assert_eq!(run(&out).1, out);

        // Killed after "two" was marked (in a later tag): both chapters are kept. Killed
        // inside the tag of "two": "one" is.
        let all = tags(&part);
        let two = all
            .iter()
            .position(|t| t.ts_ms == 1500 && t.kind == TAG_SCRIPT)
            .unwrap();
        let later = &all[two + 20];
        let (s, _) = run(&part[..later.offset as usize + 15]);
        assert_eq!((s.truncated_tail, s.chapters), (true, 2));
        let (s, out) = run(&part[..all[two].offset as usize + 20]);
        assert_eq!((s.truncated_tail, s.chapters), (true, 1));
        assert_eq!(cues(&out, TAG_FILLER), written[..1]);
    }
}

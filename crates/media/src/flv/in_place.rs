//! Finalizing an FLV recording where it lies: the final header goes into room inserted at
//! the start of the file, and the media tags stay where they were written.
//!
//! ```text
//! before (the recording's .part)        after (the same file)
//!                                       FLV header, PreviousTagSize0
//!                                       onMetaData   the final one (see finalize.rs):
//!                                                    keyframes.filepositions = where
//!                                                    the tags already lie
//!                                       filler tag   type 15 (reserved: players skip it)
//!                                         ┊ zeros      its body: the rest of the room,
//! FLV header, PreviousTagSize0            ┊            then the recording's provisional
//! onMetaData (provisional) ─────────────  ┊            header, unchanged
//! PreviousTagSize ─────────────────────>  PreviousTagSize  the filler's (4 bytes written)
//! audio/video tags                      audio/video tags   untouched
//! onCuePoint (type 18) ───────────────> the same, type 15 (1 byte written)
//! ...                                   ...
//! a cut tag ✂                           (truncated)
//! ```
//!
//! The room comes from [`InPlaceFile::insert_front`]; without it the file is left alone
//! and the caller copies with [`super::finalize_with`]. A recording with more than its
//! provisional `onMetaData` (a source's own, mid-stream) is copied too: the copy drops
//! them.
//!
//! Steps, and what a crash between them leaves (finished by the next call):
//! 1. room inserted: zeros, then the untouched recording;
//! 2. the header and the filler's tag header written, all but the signature `FLV`;
//! 3. the filler's PreviousTagSize written over the provisional metadata's, each chapter's
//!    `onCuePoint` tag retyped 15 (`cue.rs`: still read as a chapter), a cut tail
//!    truncated; synced;
//! 4. `FLV` written; synced. Only now does the file start as an FLV.
//!
//! Until step 4 the file starts with zeros and the recording's own header is intact at a
//! block boundary (steps 2-3 write only inside the room, over one PreviousTagSize, which
//! readers do not check, and over the type of cue point tags, which read as chapters
//! either way): the next call starts over from there, in the same room.

use std::io::SeekFrom;

use super::finalize::FinalizeOptions;
use super::reader::FlvReader;
use super::scan::Scan;
use super::tag::{TAG_FILLER, TAG_SCRIPT};
use super::writer::{file_header, script_body, tag_header, FlvError, FlvIndex, MAX_TAG_BODY};
use super::FlvSummary;
use crate::in_place::{read_at, recording_start, InPlace, InPlaceFile, Shifted};

/// Finalizes the FLV recording `file` where it lies (see the module documentation).
pub fn finalize_in_place<F: InPlaceFile>(
    file: F,
    options: &FinalizeOptions,
) -> Result<InPlace<FlvSummary>, FlvError> {
    finalize_in_place_known(file, options, None)
}

/// [`finalize_in_place`] of the file an [`FlvWriter`](super::FlvWriter) wrote, with what
/// it knows of it (its [`FlvIndex`]): the file is then not read at all. The index is used
/// only when the file is the length it says and untouched by an earlier call.
pub fn finalize_in_place_known<F: InPlaceFile>(
    mut file: F,
    options: &FinalizeOptions,
    known: Option<&FlvIndex>,
) -> Result<InPlace<FlvSummary>, FlvError> {
    let io = |offset: u64| move |source| FlvError::Read { offset, source };
    let len = file.seek(SeekFrom::End(0)).map_err(io(0))?;
    let block = file.block_size().max(16);
    let mut head = [0u8; 3];
    read_at(&mut file, 0, &mut head).map_err(io(0))?;
    let room = if &head == b"FLV" {
        if already_final(&mut file)? {
            let scan = scan_from(&mut file, 0)?;
            return Ok(InPlace::Done(scan.summary(scan.valid_end)));
        }
        0
    } else if head == [0; 3] {
        // An interrupted call: the recording lies intact at a block boundary further in.
        match recording_start(&mut file, b"FLV", 0).map_err(io(0))? {
            0 => return Err(FlvError::NoHeader { len }),
            at => at,
        }
    } else {
        return Err(FlvError::NoHeader { len });
    };

    let scan = match known {
        Some(index) if room == 0 && index.len() == len => index.0.clone(),
        _ => scan_from(&mut file, room)?,
    };
    scan.check_index_fits()?;
    // The media tags must follow the provisional onMetaData directly, with no other
    // metadata later (a copy drops those).
    let (true, 1, Some(media)) = (scan.first_is_metadata, scan.dropped_tags, scan.first_kept)
    else {
        return if room == 0 {
            Ok(InPlace::Unsupported(std::io::Error::other(
                "the recording holds metadata tags besides its first",
            )))
        } else {
            Err(FlvError::InputChanged {
                detail: "an interrupted in-place finalize left a recording it cannot finish".into(),
            })
        };
    };

    let header = file_header(scan.video_config.is_some(), scan.audio_config.is_some());
    // The metadata's size does not depend on the positions it lists (AMF0 numbers are
    // fixed-width), so it is built once for a room, and again if the room has to grow.
    let build = |room: u64| {
        let media_start = room + media;
        let meta = script_body(scan.metadata(
            media_start,
            media_start + scan.kept_bytes,
            &options.metadata,
        ));
        let mut out = Vec::with_capacity(header.len() + 11 + meta.len() + 4 + 11);
        out.extend_from_slice(&header);
        out.extend_from_slice(&tag_header(TAG_SCRIPT, 0, meta.len()));
        out.extend_from_slice(&meta);
        out.extend_from_slice(&((11 + meta.len()) as u32).to_be_bytes());
        (out, meta.len())
    };
    let (mut out, meta_len) = build(room);
    if meta_len > MAX_TAG_BODY {
        return Err(FlvError::MetadataTooLarge {
            keyframes: scan.keyframe_count(),
        });
    }
    // The header and the filler's tag header fit in the room.
    let need = out.len() as u64 + 11;
    let new_room = if need <= room {
        room
    } else {
        room + (need - room).div_ceil(block) * block
    };
    if new_room > room {
        if let Err(e) = file.insert_front(new_room - room) {
            if room == 0 {
                return Ok(InPlace::Unsupported(e));
            }
            return Err(FlvError::Write {
                offset: 0,
                source: e,
            });
        }
        (out, _) = build(new_room);
    }
    let write = |offset: u64| move |source| FlvError::Write { offset, source };
    // Step 2: the filler runs from the end of the header to the recording's first media
    // tag, less its own PreviousTagSize.
    let filler_start = out.len() as u64;
    let filler_body = new_room + media - 4 - filler_start - 11;
    if filler_body > MAX_TAG_BODY as u64 {
        return Err(FlvError::InputChanged {
            detail: format!("a filler of {filler_body} bytes does not fit a tag"),
        });
    }
    out.extend_from_slice(&tag_header(TAG_FILLER, 0, filler_body as usize));
    write_at(&mut file, 3, &out[3..]).map_err(write(3))?;
    // Step 3.
    let pts_at = new_room + media - 4;
    write_at(
        &mut file,
        pts_at,
        &((11 + filler_body) as u32).to_be_bytes(),
    )
    .map_err(write(pts_at))?;
    // Chapters' cue points: retyped where they lie (see `cue.rs`), one byte each.
    for &at in &scan.cue_offsets {
        let at = new_room + at;
        write_at(&mut file, at, &[TAG_FILLER]).map_err(write(at))?;
    }
    let end = new_room + scan.valid_end;
    if new_room + (len - room) > end {
        file.set_len(end).map_err(write(end))?;
    }
    file.sync().map_err(write(0))?;
    // Step 4.
    write_at(&mut file, 0, b"FLV").map_err(write(0))?;
    file.sync().map_err(write(0))?;
    Ok(InPlace::Done(scan.summary(end)))
}

/// Reads the recording that starts `at` bytes into the file.
fn scan_from<F: InPlaceFile>(file: &mut F, at: u64) -> Result<Scan, FlvError> {
    let reader = file
        .try_clone()
        .map_err(|source| FlvError::Read { offset: at, source })?;
    let mut shifted = Shifted::new(std::io::BufReader::with_capacity(1 << 16, reader), at)
        .map_err(|source| FlvError::Read { offset: at, source })?;
    Scan::run(&mut shifted)
}

/// True when the file already is finalized in place: its second tag is the filler.
fn already_final<F: InPlaceFile>(file: &mut F) -> Result<bool, FlvError> {
    let mut buf = vec![0u8; 64 * 1024];
    let n = read_at(file, 0, &mut buf).map_err(|source| FlvError::Read { offset: 0, source })?;
    let mut reader = FlvReader::new();
    let mut tags = Vec::new();
    // A partial first read is fine: only the first two tag headers matter, and the
    // metadata of a long recording can be larger than the buffer.
    let _ = reader.push(&buf[..n], &mut tags);
    if let Some(meta) = tags.first() {
        let next = meta.offset + 11 + meta.body.len() as u64 + 4;
        let mut kind = [0u8; 1];
        read_at(file, next, &mut kind).map_err(|source| FlvError::Read {
            offset: next,
            source,
        })?;
        return Ok(kind[0] & 0x1f == TAG_FILLER);
    }
    // The metadata did not fit the buffer: find its size from its tag header.
    let size = u64::from(u32::from_be_bytes([0, buf[14], buf[15], buf[16]]));
    let next = 13 + 11 + size + 4;
    let mut kind = [0u8; 1];
    read_at(file, next, &mut kind).map_err(|source| FlvError::Read {
        offset: next,
        source,
    })?;
    Ok(kind[0] & 0x1f == TAG_FILLER)
}

fn write_at<F: InPlaceFile>(file: &mut F, pos: u64, bytes: &[u8]) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(pos))?;
    file.write_all(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::flv::amf0::Amf0Value;
    use crate::flv::finalize::finalize_with;
    use crate::flv::test_support::{record, synthetic, tags};
    use crate::mp4::testkit::{finalize_in_memory, MemFile};

    fn options() -> FinalizeOptions {
        FinalizeOptions {
            metadata: vec![(
                "tapedeck".into(),
                Amf0Value::String(r#"{"recording":"live/cam1/1"}"#.into()),
            )],
        }
    }

    fn in_place(input: &[u8], block: u64) -> (Vec<u8>, FlvSummary) {
        let (out, s) = finalize_in_memory(input, block, |f| finalize_in_place(f, &options()));
        assert_eq!(s.bytes, out.len() as u64);
        (out, s)
    }

    fn copied(input: &[u8]) -> (Vec<u8>, FlvSummary) {
        let mut out = Vec::new();
        let s = finalize_with(std::io::Cursor::new(input), &mut out, &options()).unwrap();
        (out, s)
    }

    /// The final onMetaData's entries, with `filepositions` and `filesize` made relative to
    /// the first media tag (the one thing that differs between the two layouts).
    fn metadata(file: &[u8]) -> (Vec<(String, Amf0Value)>, Vec<f64>) {
        let all = tags(file);
        let first_media = all
            .iter()
            .find(|t| t.kind == 8 || t.kind == 9)
            .unwrap()
            .offset;
        let values = Amf0Value::decode_all(&all[0].body).unwrap();
        let Amf0Value::EcmaArray(entries) = &values[1] else {
            panic!("onMetaData is not an ECMA array: {:?}", values[1]);
        };
        let mut positions = Vec::new();
        let mut rest = Vec::new();
        for (k, v) in entries {
            match (k.as_str(), v) {
                ("keyframes", Amf0Value::Object(kf)) => {
                    for (name, list) in kf {
                        if name == "filepositions" {
                            if let Amf0Value::StrictArray(l) = list {
                                positions = l
                                    .iter()
                                    .map(|p| p.as_f64().unwrap() - first_media as f64)
                                    .collect();
                            }
                        }
                    }
                }
                ("filesize" | "lastkeyframelocation", Amf0Value::Number(n)) => {
                    rest.push((k.clone(), Amf0Value::Number(n - first_media as f64)))
                }
                _ => rest.push((k.clone(), v.clone())),
            }
        }
        (rest, positions)
    }

    /// The media tags, in order.
    fn media(file: &[u8]) -> Vec<(u8, u32, bytes::Bytes)> {
        tags(file)
            .into_iter()
            .filter(|t| t.kind == 8 || t.kind == 9)
            .map(|t| (t.kind, t.ts_ms, t.body))
            .collect()
    }

    #[test]
    fn the_header_goes_in_front_and_the_tags_stay() {
        let (tracks, frames) = synthetic(5);
        let part = record(&tracks, &frames);
        let (reference, expected) = copied(&part);
        for block in [512, 4096] {
            let (file, summary) = in_place(&part, block);
            assert_eq!(
                FlvSummary {
                    bytes: 0,
                    ..summary.clone()
                },
                FlvSummary {
                    bytes: 0,
                    ..expected.clone()
                }
            );
            assert_eq!(media(&file), media(&reference));
            assert_eq!(metadata(&file), metadata(&reference));
            assert!(!metadata(&file).1.is_empty(), "key frames are indexed");
            let all = tags(&file);
            assert_eq!(all[1].kind, TAG_FILLER, "the filler follows the metadata");
            let room = all[1].offset + 11 + all[1].body.len() as u64 + 4 - part_media_start(&part);
            assert_eq!(room % block, 0, "the room is whole blocks");
            assert_eq!(
                &file[(room + part_media_start(&part)) as usize..],
                &part[part_media_start(&part) as usize..],
                "media tags untouched"
            );
            // Every listed position is a video key frame tag of the file.
            let (_, positions) = metadata(&file);
            let first_media = all.iter().find(|t| t.kind == 9).unwrap().offset;
            for p in positions {
                let at = (p + first_media as f64) as u64;
                let t = all.iter().find(|t| t.offset == at).unwrap();
                assert_eq!((t.kind, t.body[0] >> 4), (9, 1), "key frame at {at}");
            }
        }
    }

    fn part_media_start(part: &[u8]) -> u64 {
        tags(part).iter().find(|t| t.kind != 18).unwrap().offset
    }

    /// The writer's index is what reading the file back finds, so finalizing with it (the
    /// file never read) gives the same file.
    #[test]
    fn the_writers_index_is_what_a_scan_reads() {
        let (tracks, frames) = synthetic(5);
        let mut writer = crate::flv::FlvWriter::new(&tracks).with_encoder("Tapedeck test");
        let mut part = Vec::new();
        writer.header(&mut part);
        for (i, f) in frames.iter().enumerate() {
            if i == frames.len() / 2 {
                // An encoder restart mid-stream: a new sequence header.
                let mut v = (**tracks.video.as_ref().unwrap()).clone();
                v.width += 16;
                writer.write_config(&crate::frame::MediaEvent::VideoConfig(v.into()), &mut part);
            }
            writer.write_frame(f, &mut part).unwrap();
        }
        let index = writer.index();
        let read = Scan::run(&mut std::io::Cursor::new(&part)).unwrap();
        assert_eq!(index.0, read);
        let plain = in_place(&part, 4096);
        let file = MemFile::new(part.clone(), 4096);
        let InPlace::Done(s) =
            finalize_in_place_known(file.clone(), &options(), Some(&index)).unwrap()
        else {
            panic!("unsupported");
        };
        assert_eq!((file.contents(), s), plain);
    }

    #[test]
    fn a_cut_tail_is_dropped() {
        let (tracks, frames) = synthetic(3);
        let part = record(&tracks, &frames);
        for cut in [part.len() - 1, part.len() - 200, part.len() / 2] {
            let (file, summary) = in_place(&part[..cut], 4096);
            let (reference, expected) = copied(&part[..cut]);
            assert!(summary.truncated_tail);
            assert_eq!(summary.discarded_bytes, expected.discarded_bytes);
            assert_eq!(media(&file), media(&reference));
            let last = tags(&file).last().cloned().unwrap();
            assert_eq!(
                last.offset + 11 + last.body.len() as u64 + 4,
                file.len() as u64,
                "the file ends after its last whole tag"
            );
        }
    }

    #[test]
    fn without_room_or_with_more_metadata_the_file_is_left_alone() {
        let (tracks, frames) = synthetic(2);
        let part = record(&tracks, &frames);
        let mut file = MemFile::new(part.clone(), 4096);
        file.no_insert = true;
        let r = finalize_in_place(file.clone(), &options()).unwrap();
        assert!(matches!(r, InPlace::Unsupported(_)), "{r:?}");
        assert_eq!(file.contents(), part);

        // A source's own onMetaData in the middle: only a copy drops it.
        let meta = tags(&part)[0].clone();
        let whole = 11 + meta.body.len() + 4;
        let at = part_media_start(&part) as usize + 2000;
        let at = tags(&part)
            .iter()
            .find(|t| t.offset as usize >= at)
            .unwrap()
            .offset as usize;
        let mut twice = part[..at].to_vec();
        twice.extend_from_slice(&part[meta.offset as usize..meta.offset as usize + whole]);
        twice.extend_from_slice(&part[at..]);
        let file = MemFile::new(twice.clone(), 4096);
        let r = finalize_in_place(file.clone(), &options()).unwrap();
        assert!(matches!(r, InPlace::Unsupported(_)), "{r:?}");
        assert_eq!(file.contents(), twice);
    }

    /// Every state a crash can leave finishes into the file an uninterrupted call makes.
    #[test]
    fn an_interrupted_finalize_finishes_on_the_next_call() {
        let (tracks, frames) = synthetic(4);
        let mut part = record(&tracks, &frames);
        part.extend_from_slice(&[9, 0, 1, 0, 0, 0]); // a cut tag
        let (done, summary) = in_place(&part, 4096);
        let filler = tags(&done)[1].clone();
        let media_start = part_media_start(&part[..part.len() - 6]);
        let room = (filler.offset + 11 + filler.body.len() as u64 + 4 - media_start) as usize;
        let header_end = filler.offset as usize + 11;
        let mut header = done[..header_end].to_vec();
        header[..3].fill(0);
        let pts_at = media_start as usize - 4;
        let patched = {
            let mut p = part.clone();
            p[pts_at..pts_at + 4].copy_from_slice(&done[room + pts_at..room + pts_at + 4]);
            p
        };
        let with_room = |head: &[u8], rest: &[u8]| {
            let mut f = head.to_vec();
            f.resize(room, 0);
            f.extend_from_slice(rest);
            f
        };
        let states = [
            ("room only", with_room(&[], &part)),
            (
                "header half written",
                with_room(&header[..header.len() / 2], &part),
            ),
            ("header written", with_room(&header, &part)),
            ("size patched", with_room(&header, &patched)),
            (
                "tail dropped",
                with_room(&header, &patched[..patched.len() - 6]),
            ),
            ("finished", done.clone()),
        ];
        for (name, state) in states {
            let file = MemFile::new(state, 4096);
            let InPlace::Done(s) = finalize_in_place(file.clone(), &options()).unwrap() else {
                panic!("{name}: unsupported");
            };
            assert_eq!(file.contents(), done, "{name}");
            assert_eq!(s.bytes, done.len() as u64, "{name}");
            assert_eq!(s.duration, summary.duration, "{name}");
            assert_eq!(s.keyframes, summary.keyframes, "{name}");
        }
    }

    /// Chapters: the writer's index knows its cue points as a scan reads them, the
    /// in-place file lists them as the copy does, with the tags retyped where they lie,
    /// and a crash after retyping some finishes with all of them.
    #[test]
    fn chapters_in_place_are_those_of_a_copy() {
        use crate::flv::cue::cue_point;
        use crate::flv::test_support::record_with_chapters;
        use crate::time::MediaTime;
        let (tracks, frames) = synthetic(4);
        let t0 = frames[0].dts;
        let marks = [
            (t0, "start"),
            (t0 + MediaTime::from_millis(1234), "one"),
            (t0 + MediaTime::from_millis(3000), "two"),
        ];
        let (part, index) = record_with_chapters(&tracks, &frames, &marks);
        assert_eq!(
            index.0,
            Scan::run(&mut std::io::Cursor::new(&part)).unwrap()
        );
        let (reference, expected) = copied(&part);
        let (done, summary) = in_place(&part, 4096);
        assert_eq!(summary.chapters, 3);
        assert_eq!(
            FlvSummary {
                bytes: 0,
                ..summary.clone()
            },
            FlvSummary {
                bytes: 0,
                ..expected
            }
        );
        assert_eq!(metadata(&done), metadata(&reference));
        assert_eq!(media(&done), media(&reference));
        let file = MemFile::new(part.clone(), 4096);
        let InPlace::Done(s) =
            finalize_in_place_known(file.clone(), &options(), Some(&index)).unwrap()
        else {
            panic!("unsupported");
        };
        assert_eq!((file.contents(), s), (done.clone(), summary.clone()));
        // Every cue point tag retyped, nothing else touched past the room.
        let cue_tags: Vec<u64> = tags(&part)
            .iter()
            .filter(|t| cue_point(t).is_some())
            .map(|t| t.offset)
            .collect();
        assert_eq!(cue_tags.len(), 3);
        let room = done.len() - part.len();
        let mut expect = part.clone();
        for &at in &cue_tags {
            assert_eq!(done[room + at as usize], TAG_FILLER);
            expect[at as usize] = TAG_FILLER;
        }
        let media_start = part_media_start(&part) as usize;
        assert_eq!(&done[room + media_start..], &expect[media_start..]);

        // A crash after step 3 (sizes patched, cue points retyped, `FLV` not written).
        let mut crashed = done.clone();
        crashed[..3].fill(0);
        let file = MemFile::new(crashed, 4096);
        let InPlace::Done(s) = finalize_in_place(file.clone(), &options()).unwrap() else {
            panic!("unsupported");
        };
        assert_eq!(file.contents(), done);
        assert_eq!(s.chapters, 3);
        // Halfway through retyping: the same.
        let mut half = done.clone();
        half[..3].fill(0);
        half[room + cue_tags[2] as usize] = TAG_SCRIPT;
        let file = MemFile::new(half, 4096);
        finalize_in_place(file.clone(), &options()).unwrap();
        assert_eq!(file.contents(), done);
    }
}

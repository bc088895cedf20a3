//! Finalizing where the file lies: the `moov` goes into room inserted at the start of the
//! fragmented file, and the fragments' sample data stays where it was written.
//!
//! ```text
//! before (the recording's .part)           after (the same file)
//!                                          ftyp      as finalize writes it
//!                                          moov      chunk offsets = where each trun's data
//!                                                    already lies, plus the room
//!                                          mdat      the chapter samples, when the
//!                                                    recording has chapters (`emsg`)
//!                                          free      pads the room to a block multiple
//! ftyp  ─────────────────────────────────> free      (renamed: 4 bytes written)
//! moov (init)  ──────────────────────────> free
//! moof ──────────────────────────────────> free
//! mdat                                     mdat      untouched
//! emsg (a chapter) ──────────────────────> free
//! ...                                      ...
//! moo… ✂ cut by a crash                    (truncated)
//! ```
//!
//! Several `mdat` boxes, and `free` boxes between them, are plain ISO BMFF: every player
//! reads the sample tables and follows the chunk offsets. The cost is one `moov` and a few
//! bytes per fragment, instead of reading and writing the whole recording again.
//!
//! The room comes from the file system (Linux `fallocate(FALLOC_FL_INSERT_RANGE)` on ext4
//! and XFS; see [`InPlaceFile`]). Where there is none, [`finalize_in_place`] says so before
//! touching the file and the caller copies with [`super::finalize_with`] instead.
//!
//! A crash at any step leaves a file this function finishes on its next call:
//! 1. room inserted: the file starts with zeros, then the untouched recording;
//! 2. the header written, all but its first 8 bytes (the `ftyp` box header), ending with
//!    the `free` box that reaches the recording; synced;
//! 3. the recording's top-level boxes renamed to `free`, a cut tail truncated; synced;
//! 4. the first 8 bytes written; synced. Only now does the file start with a box.
//!
//! A file that starts with zeros is therefore one of 1-3: when a `free` box right after a
//! finalized `moov` (and its chapters' `mdat`) reaches a block-aligned `ftyp` (or renamed
//! box) the header is complete
//! (steps 3-4 are redone: renames are idempotent); otherwise the recording starts at the
//! first block-aligned `ftyp` and the room is reused.

use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom};

use super::super::boxes;
use super::super::read::{self, Cursor, HeaderRead};
use super::super::Mp4Error;
use super::{
    ftyp_for, needs_co64, ChunkBase, Counting, FinalizeOptions, FinalizeSummary, Movie, Source,
};
use crate::in_place::{InPlace, InPlaceFile, Shifted};

/// How far into a file the recording may have been moved by an earlier, interrupted call.
const MAX_ROOM: u64 = 1 << 30;

/// Finalizes the fragmented MP4 `file` where it lies (see the module documentation).
pub fn finalize_in_place<F: InPlaceFile>(
    mut file: F,
    options: &FinalizeOptions,
) -> Result<InPlace<FinalizeSummary>, Mp4Error> {
    let block = file.block_size().max(8);
    let (room, header_done) = earlier_room(&mut file, block)?;
    if room == 0 && already_final(&mut file)? {
        let len = read::stream_len(&mut file)?;
        return summary_of_final(&mut file, len).map(InPlace::Done);
    }
    if header_done {
        let len = read::stream_len(&mut file)?;
        return finish(file, room, len - room, None);
    }
    let reader = BufReader::new(file.try_clone().map_err(Mp4Error::io("opening the MP4"))?);
    let mut src =
        Source::survey(Shifted::new(reader, room).map_err(Mp4Error::io("reading the MP4"))?)?;
    let plans = std::mem::take(&mut src.plans);
    let plans: Vec<_> = plans.into_iter().filter(|p| p.samples > 0).collect();
    let ftyp = ftyp_for(&plans);
    let chapters = std::mem::take(&mut src.chapters);
    let mut movie = Movie::lay_out(&plans, options, &chapters, false);
    // The chapter samples get an mdat of their own right after the moov.
    let chapter_mdat = match movie.chapter_samples().len() as u64 {
        0 => 0,
        n => 8 + n,
    };
    // The room holds ftyp + moov (+ chapter mdat) + a free box of at least a header; chunk
    // offsets grow with the room, so co64 is decided for the room it needs.
    let room_for = |moov_size: u64| {
        let need = ftyp.len() as u64 + moov_size + chapter_mdat + 8;
        if need <= room {
            room
        } else {
            room + (need - room).div_ceil(block) * block
        }
    };
    if needs_co64(room_for(movie.moov_size) + src.last_run_offset) {
        movie = Movie::lay_out(&plans, options, &chapters, true);
    }
    let new_room = room_for(movie.moov_size);
    if new_room > room {
        if let Err(e) = file.insert_front(new_room - room) {
            if room == 0 {
                return Ok(InPlace::Unsupported(e));
            }
            return Err(Mp4Error::io("making room for the moov")(e));
        }
    }
    src.r
        .set_shift(new_room)
        .map_err(Mp4Error::io("reading the MP4"))?;
    src.check_fragments_in_place()?;

    // Step 2: the header, its first 8 bytes left zero.
    let mut out = Counting {
        inner: BufWriter::with_capacity(
            1 << 16,
            file.try_clone().map_err(Mp4Error::io("opening the MP4"))?,
        ),
        written: 0,
    };
    out.inner
        .seek(SeekFrom::Start(0))
        .map_err(Mp4Error::io("seeking to the MP4's start"))?;
    let mut first = ftyp.clone();
    first[..8].fill(0);
    out.put(&first)?;
    let chapter_data = ftyp.len() as u64 + movie.moov_size + 8;
    movie.write(
        &plans,
        &mut src,
        &mut out,
        ChunkBase::InPlace(new_room),
        chapter_data,
    )?;
    if chapter_mdat > 0 {
        out.put(&boxes::box_header(b"mdat", chapter_mdat))?;
        out.put(movie.chapter_samples())?;
    }
    out.put(&boxes::box_header(b"free", new_room - out.written))?;
    let mut writer = out
        .inner
        .into_inner()
        .map_err(|e| Mp4Error::io("writing the moov")(e.into_error()))?;
    writer.sync().map_err(Mp4Error::io("syncing the moov"))?;
    let kept = src.scan_end;
    let summary = movie.summary(&plans, &mut src, new_room + kept);
    drop(src);
    finish(writer, new_room, kept, Some(summary))
}

/// Steps 3 and 4: renames the recording's boxes (from `room` on, `kept` bytes of them),
/// drops what follows, writes the first 8 bytes. `summary` is `None` when finishing an
/// interrupted call, which then reads it back from the `moov`.
fn finish<F: InPlaceFile>(
    mut file: F,
    room: u64,
    kept: u64,
    summary: Option<FinalizeSummary>,
) -> Result<InPlace<FinalizeSummary>, Mp4Error> {
    let len = read::stream_len(&mut file)?;
    let mut pos = room;
    let mut end = room + kept;
    while pos < end {
        // A box cut short (a tail an interrupted call had not dropped yet) ends the file.
        let h = match read::read_header(&mut file, pos, len)? {
            HeaderRead::Box(h) if h.end() <= end => h,
            _ => {
                end = pos;
                break;
            }
        };
        // emsg: the recording's chapters, now in the moov.
        if matches!(
            &h.kind,
            b"ftyp" | b"moov" | b"moof" | b"styp" | b"sidx" | b"mfra" | b"emsg"
        ) {
            file.seek(SeekFrom::Start(pos + 4))
                .and_then(|_| file.write_all(b"free"))
                .map_err(Mp4Error::io("renaming a fragment's box"))?;
        }
        pos = h.end();
    }
    if len > end {
        file.set_len(end)
            .map_err(Mp4Error::io("dropping the cut tail"))?;
    }
    file.sync().map_err(Mp4Error::io("syncing the MP4"))?;
    // Step 4: the ftyp's header (its size and type: the same for every file we write).
    let mut r = BufReader::new(file.try_clone().map_err(Mp4Error::io("opening the MP4"))?);
    r.seek(SeekFrom::Start(8))
        .map_err(Mp4Error::io("reading the ftyp"))?;
    let mut major = [0u8; 4];
    r.read_exact(&mut major)
        .map_err(Mp4Error::io("reading the ftyp"))?;
    let ftyp_size = first_box_size(&mut r, room)?;
    let mut head = Vec::with_capacity(8);
    head.extend_from_slice(&(ftyp_size as u32).to_be_bytes());
    head.extend_from_slice(b"ftyp");
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.write_all(&head))
        .and_then(|_| file.sync())
        .map_err(Mp4Error::io("writing the ftyp"))?;
    let summary = match summary {
        Some(s) => s,
        None => summary_of_final(&mut file, end)?,
    };
    Ok(InPlace::Done(summary))
}

/// The size of the `ftyp` whose header is still zeros: the `moov` follows it.
fn first_box_size<R: Read + Seek>(r: &mut R, room: u64) -> Result<u64, Mp4Error> {
    // The ftyp body is a major brand, a version and up to a few compatible brands: the
    // moov header is at the first 4-aligned offset after 16 that names a moov.
    let mut buf = [0u8; 64];
    r.seek(SeekFrom::Start(0))
        .map_err(Mp4Error::io("reading the ftyp"))?;
    let n = r.read(&mut buf).map_err(Mp4Error::io("reading the ftyp"))?;
    (16..n.saturating_sub(8))
        .step_by(4)
        .find(|&i| &buf[i + 4..i + 8] == b"moov")
        .map(|i| i as u64)
        .filter(|&i| i < room)
        .ok_or_else(|| Mp4Error::malformed(0, "no moov after the ftyp of a file being finalized"))
}

/// Where an earlier, interrupted call left the recording, and whether it had written the
/// whole header: `(0, false)` for a file it never touched.
fn earlier_room<F: InPlaceFile>(file: &mut F, block: u64) -> Result<(u64, bool), Mp4Error> {
    let len = read::stream_len(file)?;
    let mut head = [0u8; 8];
    let n = read_at(file, 0, &mut head)?;
    if n < 8 || head != [0u8; 8] {
        return Ok((0, false));
    }
    // The recording starts at a block boundary with its ftyp, or with a box already
    // renamed (then the header was complete).
    let mut pos = block;
    while pos < len.min(MAX_ROOM) {
        let mut h = [0u8; 8];
        read_at(file, pos, &mut h)?;
        if matches!(&h[4..8], b"ftyp" | b"free") {
            if header_reaches(file, pos)? {
                return Ok((pos, true));
            }
            if &h[4..8] == b"ftyp" {
                return Ok((pos, false));
            }
        }
        pos += block;
    }
    Err(Mp4Error::malformed(
        0,
        "the file starts with zeros and no MP4 follows them",
    ))
}

/// True when the room before `room` holds a complete header: a moov right after the ftyp,
/// the chapters' mdat if the movie has chapters, then a free box ending exactly at `room`.
fn header_reaches<F: InPlaceFile>(file: &mut F, room: u64) -> Result<bool, Mp4Error> {
    let mut r = BufReader::new(file.try_clone().map_err(Mp4Error::io("opening the MP4"))?);
    let Ok(moov) = first_box_size(&mut r, room) else {
        return Ok(false);
    };
    let mut h = match read::read_header(&mut r, moov, room)? {
        HeaderRead::Box(h) if &h.kind == b"moov" && h.end() < room => h,
        _ => return Ok(false),
    };
    if let HeaderRead::Box(m) = read::read_header(&mut r, h.end(), room)? {
        if &m.kind == b"mdat" && m.end() < room {
            h = m;
        }
    }
    Ok(matches!(
        read::read_header(&mut r, h.end(), room)?,
        HeaderRead::Box(f) if &f.kind == b"free" && f.end() == room
    ))
}

/// The body of the first `moov` (after an `ftyp`), when the file starts that way.
fn first_moov<R: Read + Seek>(r: &mut R, len: u64) -> Result<Option<(u64, Vec<u8>)>, Mp4Error> {
    let mut pos = 0;
    loop {
        match read::read_header(r, pos, len)? {
            HeaderRead::Box(h) if &h.kind == b"moov" && h.end() <= len => {
                return Ok(Some((h.body_start(), read::read_body(r, &h, 1 << 30)?)))
            }
            HeaderRead::Box(h) if &h.kind == b"ftyp" => pos = h.end(),
            _ => return Ok(None),
        }
    }
}

/// True when the file already is a finalized MP4 (an interrupted call got as far as its
/// last step): its first moov is not an init segment.
fn already_final<F: InPlaceFile>(file: &mut F) -> Result<bool, Mp4Error> {
    let len = read::stream_len(file)?;
    let mut r = BufReader::new(file.try_clone().map_err(Mp4Error::io("opening the MP4"))?);
    match first_moov(&mut r, len)? {
        Some((at, body)) => Ok(Cursor::new(&body, at).find(b"mvex")?.is_none()),
        None => Ok(false),
    }
}

fn read_at<F: Read + Seek>(file: &mut F, pos: u64, buf: &mut [u8]) -> Result<usize, Mp4Error> {
    crate::in_place::read_at(file, pos, buf).map_err(Mp4Error::io("reading the MP4"))
}

/// The summary of a file finished by an interrupted call: its duration and size (the
/// rest is what a fresh call would have counted, which is not known any more).
fn summary_of_final<F: Read + Seek>(file: &mut F, len: u64) -> Result<FinalizeSummary, Mp4Error> {
    let mut r = BufReader::new(file);
    let Some((at, body)) = first_moov(&mut r, len)? else {
        return Err(Mp4Error::malformed(0, "no moov in a finalized MP4"));
    };
    let Some((_, mut mvhd)) = Cursor::new(&body, at).find(b"mvhd")? else {
        return Err(Mp4Error::malformed(at, "finalized moov without mvhd"));
    };
    let (version, _) = mvhd.version_flags("mvhd")?;
    let (timescale, duration) = if version == 1 {
        mvhd.skip(16, "mvhd times")?;
        (mvhd.u32("mvhd timescale")?, mvhd.u64("mvhd duration")?)
    } else {
        mvhd.skip(8, "mvhd times")?;
        (
            mvhd.u32("mvhd timescale")?,
            u64::from(mvhd.u32("mvhd duration")?),
        )
    };
    let ticks = u128::from(duration) * 90_000 / u128::from(timescale.max(1));
    Ok(FinalizeSummary {
        duration: crate::time::MediaTime(i64::try_from(ticks).unwrap_or(i64::MAX)),
        start_offset: crate::time::MediaTime(0),
        video_frames: 0,
        audio_frames: 0,
        bytes: len,
        truncated_tail: false,
        ignored_tail_bytes: 0,
        tail_detail: None,
        fragments: 0,
        co64: false,
        chapters: 0,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Cursor as IoCursor;

    use super::*;
    use crate::mp4::finalize::finalize_with;
    use crate::mp4::testkit::{
        finalize_in_memory, read_chapters, read_progressive, synthetic, top_level_boxes, user_data,
        write_fragmented, write_fragmented_with_chapters, MemFile,
    };
    use crate::time::MediaTime;

    fn options() -> FinalizeOptions {
        FinalizeOptions {
            user_data: user_data(),
            ..FinalizeOptions::default()
        }
    }

    fn in_place(input: &[u8], block: u64) -> (Vec<u8>, FinalizeSummary) {
        let (out, s) = finalize_in_memory(input, block, |f| finalize_in_place(f, &options()));
        assert_eq!(s.bytes, out.len() as u64);
        (out, s)
    }

    fn packed(input: &[u8]) -> (Vec<u8>, FinalizeSummary) {
        let mut out = Vec::new();
        let s = finalize_with(IoCursor::new(input), &mut out, &options()).unwrap();
        (out, s)
    }

    /// Same tracks, same samples (times, flags and bytes, read through the chunk offsets).
    fn assert_same_media(a: &[u8], b: &[u8]) {
        let (ta, ra) = read_progressive(a);
        let (tb, rb) = read_progressive(b);
        assert_eq!(ta, tb);
        assert_eq!(ra.len(), rb.len());
        for (x, y) in ra.iter().zip(&rb) {
            assert_eq!(x.kind, y.kind);
            assert_eq!(x.edits, y.edits);
            assert_eq!(x.samples, y.samples, "{:?} samples", x.kind);
        }
    }

    #[test]
    fn the_moov_goes_in_front_and_the_data_stays() {
        let (tracks, frames) = synthetic(3, MediaTime::from_millis(250));
        let (frag, ends) = write_fragmented(&tracks, &frames).unwrap();
        let (reference, expected) = packed(&frag);
        for block in [512, 4096] {
            let (file, summary) = in_place(&frag, block);
            assert_same_media(&file, &reference);
            assert_eq!(
                FinalizeSummary {
                    bytes: 0,
                    ..summary.clone()
                },
                FinalizeSummary {
                    bytes: 0,
                    ..expected.clone()
                }
            );
            let top = top_level_boxes(&file);
            let kinds: Vec<&str> = top.iter().map(|b| b.0.as_str()).collect();
            assert_eq!(&kinds[..3], ["ftyp", "moov", "free"]);
            let room: u64 = top[..3].iter().map(|b| b.1).sum();
            assert_eq!(room % block, 0, "room is whole blocks");
            assert_eq!(
                &file[room as usize..],
                &renamed(&frag)[..],
                "data untouched"
            );
            assert_eq!(kinds.iter().filter(|k| **k == "mdat").count(), ends.len());
            assert!(!kinds[1..].contains(&"ftyp") && !kinds.contains(&"moof"));
            assert_eq!(kinds.iter().filter(|k| **k == "moov").count(), 1);
            assert_eq!(read_user_data(&file), user_data());
        }
    }

    fn read_user_data(file: &[u8]) -> Vec<crate::mp4::UserBox> {
        crate::mp4::read_user_data(IoCursor::new(file)).unwrap()
    }

    /// The recording with its top-level boxes other than mdat renamed to `free`.
    fn renamed(frag: &[u8]) -> Vec<u8> {
        let mut out = frag.to_vec();
        let mut pos = 0usize;
        for (kind, size) in top_level_boxes(frag) {
            if kind != "mdat" {
                out[pos + 4..pos + 8].copy_from_slice(b"free");
            }
            pos += size as usize;
        }
        out
    }

    #[test]
    fn a_cut_tail_is_dropped() {
        let (tracks, frames) = synthetic(4, MediaTime::ZERO);
        let (frag, ends) = write_fragmented(&tracks, &frames).unwrap();
        for cut in [ends[1] + 3, ends[2] - 1, ends[2] + 40] {
            let (file, summary) = in_place(&frag[..cut], 4096);
            let (reference, expected) = packed(&frag[..cut]);
            assert!(summary.truncated_tail);
            assert_eq!(summary.ignored_tail_bytes, expected.ignored_tail_bytes);
            assert_same_media(&file, &reference);
            let kept = top_level_boxes(&file).iter().map(|b| b.1).sum::<u64>();
            assert_eq!(kept, file.len() as u64, "no partial box at the end");
        }
    }

    #[test]
    fn without_room_the_file_is_left_alone() {
        let (tracks, frames) = synthetic(2, MediaTime::ZERO);
        let (frag, _) = write_fragmented(&tracks, &frames).unwrap();
        let mut file = MemFile::new(frag.clone(), 4096);
        file.no_insert = true;
        let r = finalize_in_place(file.clone(), &options()).unwrap();
        assert!(matches!(r, InPlace::Unsupported(_)), "{r:?}");
        assert_eq!(file.contents(), frag);
    }

    /// Every state a crash can leave (see the module documentation) finishes into the file
    /// an uninterrupted call makes.
    #[test]
    fn an_interrupted_finalize_finishes_on_the_next_call() {
        let (tracks, frames) = synthetic(4, MediaTime::from_millis(100));
        let (frag, ends) = write_fragmented(&tracks, &frames).unwrap();
        interrupted_states_finish(frag, &ends);
        // With chapters, whose samples sit in an mdat of their own between the moov and
        // the free box: the header is still recognized as complete.
        let t0 = frames[0].dts;
        let marks = [
            (t0 + MediaTime::from_millis(500), "one"),
            (t0 + MediaTime::from_millis(2500), "two"),
        ];
        let (frag, ends) = write_fragmented_with_chapters(&tracks, &frames, &marks).unwrap();
        let done = interrupted_states_finish(frag, &ends);
        let (chapters, _) = read_chapters(&done);
        assert_eq!(chapters.len(), 2);
        let kinds: Vec<String> = top_level_boxes(&done).into_iter().map(|b| b.0).collect();
        assert_eq!(&kinds[..4], ["ftyp", "moov", "mdat", "free"]);
    }

    /// Every state a crash can leave while finalizing `frag` in place (plus a cut tail)
    /// finishes into the file an uninterrupted call makes, which is returned.
    fn interrupted_states_finish(mut frag: Vec<u8>, ends: &[usize]) -> Vec<u8> {
        frag.extend_from_slice(&[0, 0, 1, 0, b'm', b'o', b'o', b'f', 1, 2]); // a cut tail
        let (done, summary) = in_place(&frag, 4096);
        let top = top_level_boxes(&done);
        // ftyp, moov, (the chapters' mdat,) free.
        let free = top.iter().position(|b| b.0 == "free").unwrap();
        let room = top[..=free].iter().map(|b| b.1).sum::<u64>() as usize;
        let header = {
            let mut h = done[..room].to_vec();
            h[..8].fill(0);
            h
        };
        let cut_at = ends[ends.len() - 1];
        let mut states: Vec<(&str, Vec<u8>)> = Vec::new();
        // 1: room made, nothing written.
        states.push(("room only", [vec![0; room], frag.clone()].concat()));
        // 1b: the header partly written.
        let mut partial = [vec![0; room], frag.clone()].concat();
        partial[8..room / 2].copy_from_slice(&header[8..room / 2]);
        states.push(("header half written", partial));
        // 2: the header written.
        states.push(("header written", [header.clone(), frag.clone()].concat()));
        // 3: some boxes renamed, the tail not yet dropped; then all renamed and dropped.
        let mut half = renamed(&frag[..cut_at]);
        half[ends[1]..].copy_from_slice(&frag[ends[1]..cut_at]);
        half.extend_from_slice(&frag[cut_at..]);
        states.push(("half renamed", [header.clone(), half].concat()));
        states.push((
            "all renamed",
            [header.clone(), renamed(&frag[..cut_at])].concat(),
        ));
        // 4: finished, not yet renamed by the caller.
        states.push(("finished", done.clone()));
        for (name, state) in states {
            let file = MemFile::new(state, 4096);
            let InPlace::Done(s) = finalize_in_place(file.clone(), &options()).unwrap() else {
                panic!("{name}: unsupported");
            };
            assert_eq!(file.contents(), done, "{name}");
            assert_eq!(s.bytes, done.len() as u64, "{name}");
            assert_eq!(s.duration, summary.duration, "{name}");
        }
        done
    }

    /// Chapters come out the same whichever way the file is finalized; the `emsg` boxes
    /// that carried them are renamed with the fragments' other boxes.
    #[test]
    fn chapters_in_place_are_those_of_a_copy() {
        let (tracks, frames) = synthetic(3, MediaTime::from_millis(250));
        let t0 = frames[0].dts;
        let marks = [
            (t0, "start"),
            (t0 + MediaTime::from_millis(1200), "middle"),
            (t0 + MediaTime::from_millis(2900), "late"),
        ];
        let (frag, _) = write_fragmented_with_chapters(&tracks, &frames, &marks).unwrap();
        let (reference, expected) = packed(&frag);
        let (file, summary) = in_place(&frag, 4096);
        assert_eq!((summary.chapters, expected.chapters), (3, 3));
        assert_eq!(read_chapters(&file), read_chapters(&reference));
        assert_same_media(&file, &reference);
        let kinds: Vec<String> = top_level_boxes(&file).into_iter().map(|b| b.0).collect();
        assert!(!kinds.contains(&"emsg".to_string()), "{kinds:?}");
        assert_eq!(read_user_data(&file)[0], user_data()[0]);
        assert_eq!(read_user_data(&file)[1].kind, *b"chpl");
    }
}

//! Box writing, by hand.
//!
//! Why not the `mp4-atom` crate (checked at 0.17): it models every box as an owned struct,
//! so its `stts`/`stsz`/`stco` hold a `Vec` with one entry per sample. The finalizer must
//! stream those tables straight to the output so memory does not grow with the recording
//! (650k entries for a 6 h recording at 30 fps), which means writing box headers with
//! precomputed sizes and entries one at a time: exactly what a struct-per-box encoder cannot
//! do. It also requires Rust 1.88 (the workspace targets 1.80) and brings five crates. The
//! boxes we need are few and fixed, so a closure that reserves the 4-byte size and patches
//! it afterwards (for the small in-memory boxes) plus size formulas for the streamed tables
//! are enough.

use bytes::BufMut;

/// `sample_flags` of a sync sample: sample_depends_on = 2 (depends on no other sample).
pub(crate) const FLAGS_SYNC: u32 = 0x0200_0000;
/// `sample_flags` of a non-sync sample: sample_depends_on = 1, sample_is_non_sync_sample.
pub(crate) const FLAGS_NON_SYNC: u32 = 0x0101_0000;
/// The `sample_is_non_sync_sample` bit of `sample_flags`.
pub(crate) const FLAG_IS_NON_SYNC: u32 = 0x0001_0000;

/// Size of a full box header (size, type, version, flags).
pub(crate) const FULL_HEADER: u64 = 12;

/// Writes a box whose body `body` appends, patching its 32-bit size afterwards.
///
/// Only for boxes built in memory (init segment, moof, small moov children): these are far
/// below 4 GiB, so the 32-bit size always fits.
pub(crate) fn write_box(out: &mut Vec<u8>, kind: &[u8; 4], body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.put_u32(0);
    out.put_slice(kind);
    body(out);
    let size = u32::try_from(out.len() - start).unwrap_or(u32::MAX);
    out[start..start + 4].copy_from_slice(&size.to_be_bytes());
}

/// Writes a full box (version and flags after the header).
pub(crate) fn write_full_box(
    out: &mut Vec<u8>,
    kind: &[u8; 4],
    version: u8,
    flags: u32,
    body: impl FnOnce(&mut Vec<u8>),
) {
    write_box(out, kind, |out| {
        out.put_u32((u32::from(version) << 24) | (flags & 0x00ff_ffff));
        body(out);
    });
}

/// The header of a box of known total `size`, using the 64-bit `largesize` form when the
/// size does not fit 32 bits (ISO/IEC 14496-12 4.2).
pub(crate) fn box_header(kind: &[u8; 4], size: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    match u32::try_from(size) {
        Ok(size) => {
            out.put_u32(size);
            out.put_slice(kind);
        }
        Err(_) => {
            out.put_u32(1);
            out.put_slice(kind);
            out.put_u64(size);
        }
    }
    out
}

/// Header length needed for a box whose payload is `payload` bytes.
pub(crate) fn header_len_for(payload: u64) -> u64 {
    if payload + 8 > u64::from(u32::MAX) {
        16
    } else {
        8
    }
}

/// The header of a full box of known total `size` (tables are far below 4 GiB).
pub(crate) fn full_box_header(kind: &[u8; 4], size: u64, version: u8, flags: u32) -> Vec<u8> {
    let mut out = box_header(kind, size);
    out.put_u32((u32::from(version) << 24) | (flags & 0x00ff_ffff));
    out
}

/// The unity transformation matrix of `mvhd` and `tkhd`.
fn put_matrix(out: &mut Vec<u8>) {
    for v in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
        out.put_u32(v);
    }
}

/// `ftyp` with `major` and the compatible brands.
pub(crate) fn ftyp(out: &mut Vec<u8>, major: &[u8; 4], compatible: &[&[u8; 4]]) {
    write_box(out, b"ftyp", |out| {
        out.put_slice(major);
        out.put_u32(0x200);
        for brand in compatible {
            out.put_slice(*brand);
        }
    });
}

/// `mvhd` in [`super::MOVIE_TIMESCALE`]; version 1 only when the duration needs 64 bits.
pub(crate) fn mvhd(out: &mut Vec<u8>, duration: u64, next_track_id: u32) {
    let v1 = duration > u64::from(u32::MAX);
    write_full_box(out, b"mvhd", u8::from(v1), 0, |out| {
        put_times(out, v1, Some(super::MOVIE_TIMESCALE), duration);
        out.put_u32(0x0001_0000); // rate 1.0
        out.put_u16(0x0100); // volume 1.0
        out.put_slice(&[0; 10]);
        put_matrix(out);
        out.put_slice(&[0; 24]); // pre_defined
        out.put_u32(next_track_id);
    });
}

/// Creation and modification times (zero: the wall clock lives in the catalog, and a
/// deterministic file keeps the golden digests stable), then an optional timescale and the
/// duration, in the width the version asks for.
fn put_times(out: &mut Vec<u8>, v1: bool, timescale: Option<u32>, duration: u64) {
    if v1 {
        out.put_u64(0);
        out.put_u64(0);
    } else {
        out.put_u32(0);
        out.put_u32(0);
    }
    if let Some(ts) = timescale {
        out.put_u32(ts);
    }
    if v1 {
        out.put_u64(duration);
    } else {
        out.put_u32(duration as u32);
    }
}

/// What `tkhd` says about a track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TrackHeader {
    pub id: u32,
    pub audio: bool,
    pub width: u32,
    pub height: u32,
}

/// `tkhd` (enabled, in movie); `duration` in the movie timescale.
pub(crate) fn tkhd(out: &mut Vec<u8>, t: &TrackHeader, duration: u64) {
    tkhd_with_flags(out, t, duration, TKHD_ENABLED | TKHD_IN_MOVIE);
}

/// `tkhd` flag: the track is enabled (played).
pub(crate) const TKHD_ENABLED: u32 = 1;
/// `tkhd` flag: the track is used in the presentation.
pub(crate) const TKHD_IN_MOVIE: u32 = 2;

/// `tkhd` with the given flags (a chapter track is in the movie but not enabled).
pub(crate) fn tkhd_with_flags(out: &mut Vec<u8>, t: &TrackHeader, duration: u64, flags: u32) {
    let v1 = duration > u64::from(u32::MAX);
    write_full_box(out, b"tkhd", u8::from(v1), flags, |out| {
        if v1 {
            out.put_u64(0);
            out.put_u64(0);
        } else {
            out.put_u32(0);
            out.put_u32(0);
        }
        out.put_u32(t.id);
        out.put_u32(0);
        if v1 {
            out.put_u64(duration);
        } else {
            out.put_u32(duration as u32);
        }
        out.put_u64(0);
        out.put_u16(0); // layer
        out.put_u16(if t.audio { 1 } else { 0 }); // alternate_group
        out.put_u16(if t.audio { 0x0100 } else { 0 }); // volume
        out.put_u16(0);
        put_matrix(out);
        out.put_u32(t.width << 16);
        out.put_u32(t.height << 16);
    });
}

/// `mdhd` with language `und`.
pub(crate) fn mdhd(out: &mut Vec<u8>, timescale: u32, duration: u64) {
    let v1 = duration > u64::from(u32::MAX);
    write_full_box(out, b"mdhd", u8::from(v1), 0, |out| {
        put_times(out, v1, Some(timescale), duration);
        out.put_u16(0x55c4); // ISO-639-2 "und", packed 5 bits per letter
        out.put_u16(0);
    });
}

/// `hdlr` for a `vide` or `soun` track.
pub(crate) fn hdlr(out: &mut Vec<u8>, audio: bool) {
    write_full_box(out, b"hdlr", 0, 0, |out| {
        out.put_u32(0);
        out.put_slice(if audio { b"soun" } else { b"vide" });
        out.put_slice(&[0; 12]);
        out.put_slice(if audio {
            b"SoundHandler\0"
        } else {
            b"VideoHandler\0"
        });
    });
}

/// `vmhd` or `smhd`, then `dinf` with a self-contained `url ` reference.
pub(crate) fn media_header_and_dinf(out: &mut Vec<u8>, audio: bool) {
    if audio {
        write_full_box(out, b"smhd", 0, 0, |out| out.put_u32(0));
    } else {
        write_full_box(out, b"vmhd", 0, 1, |out| out.put_u64(0));
    }
    dinf(out);
}

/// `dinf` with a self-contained `url ` reference: the samples are in this file.
pub(crate) fn dinf(out: &mut Vec<u8>) {
    write_box(out, b"dinf", |out| {
        write_full_box(out, b"dref", 0, 0, |out| {
            out.put_u32(1);
            write_full_box(out, b"url ", 0, 1, |_| {});
        });
    });
}

/// Appends one run-length entry source value at a time and yields `(count, value)` runs,
/// the shape of `stts`, `ctts` and `stsc`.
#[derive(Debug, Default)]
pub(crate) struct RunLength<T: PartialEq + Copy> {
    current: Option<(u32, T)>,
}

impl<T: PartialEq + Copy> RunLength<T> {
    pub fn new() -> Self {
        RunLength { current: None }
    }

    /// Adds a value; returns the run it closed, if any.
    pub fn push(&mut self, value: T) -> Option<(u32, T)> {
        match &mut self.current {
            Some((count, v)) if *v == value && *count < u32::MAX => {
                *count += 1;
                None
            }
            _ => self.current.replace((1, value)),
        }
    }

    /// The last open run.
    pub fn finish(&mut self) -> Option<(u32, T)> {
        self.current.take()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn box_sizes_are_patched_and_nest() {
        let mut out = Vec::new();
        write_box(&mut out, b"outr", |out| {
            write_full_box(out, b"innr", 1, 0x20000, |out| out.put_u32(7));
            out.put_u8(9);
        });
        assert_eq!(out.len(), 8 + 16 + 1);
        assert_eq!(&out[0..8], &[0, 0, 0, 25, b'o', b'u', b't', b'r']);
        assert_eq!(
            &out[8..20],
            &[0, 0, 0, 16, b'i', b'n', b'n', b'r', 1, 2, 0, 0]
        );
    }

    #[test]
    fn large_headers_use_largesize() {
        assert_eq!(
            box_header(b"mdat", 100),
            vec![0, 0, 0, 100, b'm', b'd', b'a', b't']
        );
        let big = box_header(b"mdat", 5 << 30);
        assert_eq!(big.len(), 16);
        assert_eq!(&big[0..4], &[0, 0, 0, 1]);
        assert_eq!(u64::from_be_bytes(big[8..16].try_into().unwrap()), 5 << 30);
        assert_eq!(header_len_for(u64::from(u32::MAX) - 8), 8);
        assert_eq!(header_len_for(u64::from(u32::MAX) - 7), 16);
    }

    #[test]
    fn run_length_merges_equal_values() {
        let mut rl = RunLength::new();
        let mut runs: Vec<_> = [1, 1, 2, 2, 2, 1]
            .iter()
            .filter_map(|&v| rl.push(v))
            .collect();
        runs.extend(rl.finish());
        assert_eq!(runs, vec![(2, 1), (3, 2), (1, 1)]);
    }
}

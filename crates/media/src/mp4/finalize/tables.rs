//! The sample tables (`stbl`): `stts`, `ctts`, `stss`, `stsz`, `stsc` and `stco`/`co64`,
//! counted by the survey and streamed to the output one pass over the fragments each.

use std::io::{self, Read, Seek, Write};

use super::super::boxes::{self, RunLength};
use super::super::read;
use super::super::Mp4Error;
use super::plan::ChunkBase;
use super::survey::{Source, TrackPlan};
use super::Counting;

/// The run-length encoders behind the tables, shared by the survey (which counts entries)
/// and the writers (which emit them), so both always agree.
pub(super) struct TableStats {
    audio: bool,
    stts: RunLength<u32>,
    ctts: RunLength<i64>,
    stsc: RunLength<u32>,
}

/// One table entry as the encoders emit it.
pub(super) enum Entry {
    Stts(u32, u32),
    Ctts(u32, i64),
    /// `(first_chunk, samples_per_chunk)`.
    Stsc(u32, u32),
}

impl TableStats {
    pub(super) fn new(audio: bool) -> Self {
        TableStats {
            audio,
            stts: RunLength::new(),
            ctts: RunLength::new(),
            stsc: RunLength::new(),
        }
    }

    pub(super) fn add_run(
        &mut self,
        plan: &mut TrackPlan,
        run: &read::Run,
        mut emit: impl FnMut(Entry),
    ) {
        plan.chunks += 1;
        if let Some((n, v)) = self.stsc.push(run.samples.len() as u32) {
            plan.stsc_entries += 1;
            // The first chunk of the closed run: this chunk minus the run's length.
            emit(Entry::Stsc((plan.chunks - u64::from(n)) as u32, v));
        }
        for s in &run.samples {
            plan.samples += 1;
            plan.duration = plan.duration.saturating_add(u64::from(s.duration));
            plan.sync_samples += u64::from(s.sync);
            plan.first_cto.get_or_insert(s.cto);
            if let Some((n, v)) = self.stts.push(s.duration) {
                plan.stts_entries += 1;
                emit(Entry::Stts(n, v));
            }
            if !self.audio {
                plan.has_cto |= s.cto != 0;
                plan.negative_cto |= s.cto < 0;
                if let Some((n, v)) = self.ctts.push(s.cto) {
                    plan.ctts_entries += 1;
                    emit(Entry::Ctts(n, v));
                }
            }
        }
    }

    pub(super) fn finish(&mut self, plan: &mut TrackPlan, mut emit: impl FnMut(Entry)) {
        if let Some((n, v)) = self.stsc.finish() {
            plan.stsc_entries += 1;
            emit(Entry::Stsc((plan.chunks + 1 - u64::from(n)) as u32, v));
        }
        if let Some((n, v)) = self.stts.finish() {
            plan.stts_entries += 1;
            emit(Entry::Stts(n, v));
        }
        if let Some((n, v)) = self.ctts.finish() {
            plan.ctts_entries += 1;
            emit(Entry::Ctts(n, v));
        }
    }
}

/// Which sample table a streaming pass writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Table {
    Stts,
    Ctts,
    Stss,
    Stsz,
    Stsc,
    Chunks,
}

/// Streams one sample table: header with the planned size and count, then one pass over the
/// fragments emitting entries. The caller checks the byte count against the plan.
pub(super) fn write_table<R: Read + Seek, W: Write>(
    table: Table,
    size: u64,
    p: &TrackPlan,
    co64: bool,
    src: &mut Source<R>,
    out: &mut Counting<W>,
    chunks: ChunkBase,
) -> Result<(), Mp4Error> {
    let id = p.init.id;
    let (kind, version, count): (&[u8; 4], u8, u64) = match table {
        Table::Stts => (b"stts", 0, p.stts_entries),
        Table::Ctts => (b"ctts", u8::from(p.negative_cto), p.ctts_entries),
        Table::Stss => (b"stss", 0, p.sync_samples),
        Table::Stsz => (b"stsz", 0, p.samples),
        Table::Stsc => (b"stsc", 0, p.stsc_entries),
        Table::Chunks => (if co64 { b"co64" } else { b"stco" }, 0, p.chunks),
    };
    out.put(&boxes::full_box_header(kind, size, version, 0))?;
    if table == Table::Stsz {
        out.put(&0u32.to_be_bytes())?; // sample_size 0: sizes follow per sample
    }
    out.put(&(count as u32).to_be_bytes())?;
    // Writes are collected into `err` because the scan callbacks cannot fail with an
    // io::Error of their own; the first failure is reported.
    let mut err: Option<io::Error> = None;
    let mut put = |out: &mut Counting<W>, bytes: &[u8]| {
        if err.is_none() {
            if let Err(e) = out.inner.write_all(bytes) {
                err = Some(e);
            }
            out.written += bytes.len() as u64;
        }
    };
    match table {
        Table::Stts | Table::Ctts | Table::Stsc => {
            let mut stats = TableStats::new(p.init.audio);
            let mut scratch = TrackPlan::new(p.init.clone());
            let mut emit = |e: Entry| match (table, e) {
                (Table::Stts, Entry::Stts(n, d)) => {
                    put(out, &n.to_be_bytes());
                    put(out, &d.to_be_bytes());
                }
                (Table::Ctts, Entry::Ctts(n, c)) => {
                    put(out, &n.to_be_bytes());
                    // Version 0 is unsigned and version 1 signed; both are the same 32 bits.
                    put(out, &(c as i32).to_be_bytes());
                }
                (Table::Stsc, Entry::Stsc(first, per_chunk)) => {
                    put(out, &first.to_be_bytes());
                    put(out, &per_chunk.to_be_bytes());
                    put(out, &1u32.to_be_bytes()); // sample description index
                }
                _ => {}
            };
            src.scan_track(id, |run| stats.add_run(&mut scratch, run, &mut emit))?;
            stats.finish(&mut scratch, &mut emit);
        }
        Table::Stss => {
            let mut n = 0u32;
            src.scan_track(id, |run| {
                for s in &run.samples {
                    n += 1;
                    if s.sync {
                        put(out, &n.to_be_bytes());
                    }
                }
            })?;
        }
        Table::Stsz => {
            src.scan_track(id, |run| {
                for s in &run.samples {
                    put(out, &s.size.to_be_bytes());
                }
            })?;
        }
        Table::Chunks => {
            // Chunk offsets depend on every track's runs before them, in file order.
            let mut pos = match chunks {
                ChunkBase::Packed(data_start) => data_start,
                ChunkBase::InPlace(_) => 0,
            };
            src.scan(|_, trafs| {
                for traf in trafs {
                    for run in &traf.runs {
                        if let ChunkBase::InPlace(shift) = chunks {
                            pos = shift + run.offset;
                        }
                        if traf.track_id == id {
                            if co64 {
                                put(out, &pos.to_be_bytes());
                            } else {
                                put(out, &(pos as u32).to_be_bytes());
                            }
                        }
                        pos += run.bytes;
                    }
                }
                Ok(())
            })?;
        }
    }
    match err {
        Some(e) => Err(Mp4Error::Io {
            context: "writing the finalized MP4's moov",
            source: e,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::tests::{assert_holds, finalize_bytes};
    use crate::frame::Frame;
    use crate::mp4::testkit::{synthetic, write_fragmented};
    use crate::time::MediaTime;

    #[test]
    fn ctts_version_follows_negative_offsets() {
        let (tracks, mut frames) = synthetic(1, MediaTime::ZERO);
        for f in frames.iter_mut().filter(|f| f.is_video() && !f.keyframe) {
            f.pts = f.dts - MediaTime(1500);
        }
        let (frag, _) = write_fragmented(&tracks, &frames).unwrap();
        let (file, _) = finalize_bytes(&frag).unwrap();
        let ctts = file.windows(4).position(|w| w == b"ctts").unwrap();
        assert_eq!(file[ctts + 4], 1, "negative offsets need ctts version 1");
        let refs: Vec<&Frame> = frames.iter().collect();
        assert_holds(&file, &refs, frames[0].dts, 0);
        let (tracks, frames) = synthetic(1, MediaTime::ZERO);
        let (frag, _) = write_fragmented(&tracks, &frames).unwrap();
        let (file, _) = finalize_bytes(&frag).unwrap();
        let ctts = file.windows(4).position(|w| w == b"ctts").unwrap();
        assert_eq!(file[ctts + 4], 0);
    }
}

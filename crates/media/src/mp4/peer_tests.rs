//! Peer tests: what we write, read by the real ffprobe/ffmpeg (which must be installed:
//! these fail, never skip, without them), and the golden digests.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use super::testkit::{
    decode_errors, fixture, fnv1a64, frames_from_mp4, probe_packets, probe_sections, remux_to_mp4,
    scratch, synthetic, top_level_boxes, user_data, write_fragmented, MemFile,
};
use super::{
    finalize_in_place, finalize_with, read_user_data, FinalizeOptions, InPlace, FORMAT_VERSION,
};
use crate::frame::{Frame, TrackKind, Tracks};
use crate::time::MediaTime;

/// ffprobe's view of a stream.
fn stream<'a>(
    sections: &'a [HashMap<String, String>],
    kind: &str,
) -> Option<&'a HashMap<String, String>> {
    sections
        .iter()
        .find(|s| s.get("codec_type").map(String::as_str) == Some(kind))
}

fn format_duration(path: &Path) -> f64 {
    let sections = probe_sections(path);
    let f = sections
        .iter()
        .find(|s| s.get("section").map(String::as_str) == Some("FORMAT"))
        .unwrap();
    f["duration"].parse().unwrap()
}

/// Everything ffprobe and ffmpeg must agree on for a file holding `frames` (times relative
/// to `base`): codecs, dimensions, audio format, packet counts, every packet's pts/dts and
/// key flag, a clean decode.
fn check_with_ffprobe(
    path: &Path,
    tracks: &Tracks,
    frames: &[&Frame],
    base: MediaTime,
    video_codec: &str,
) {
    let sections = probe_sections(path);
    let (packets, probe_err) = probe_packets(path);
    let mut index_of = HashMap::new();
    if let Some(v) = &tracks.video {
        let s = stream(&sections, "video").expect("a video stream");
        assert_eq!(s["codec_name"], video_codec, "{path:?}");
        assert_eq!((s["width"].as_str(), s["height"].as_str()), ("320", "240"));
        assert_eq!(v.width, 320);
        assert_eq!(s["time_base"], "1/90000");
        index_of.insert(
            TrackKind::Video,
            (s["index"].parse::<usize>().unwrap(), 90_000u32),
        );
    }
    if let Some(a) = &tracks.audio {
        let s = stream(&sections, "audio").expect("an audio stream");
        assert_eq!(s["codec_name"], "aac");
        assert_eq!(s["sample_rate"], a.sample_rate.to_string());
        assert_eq!(s["channels"], a.channels.to_string());
        assert_eq!(s["time_base"], format!("1/{}", a.sample_rate));
        index_of.insert(
            TrackKind::Audio,
            (s["index"].parse::<usize>().unwrap(), a.sample_rate),
        );
    }
    for (kind, (index, rate)) in &index_of {
        let got: Vec<_> = packets.iter().filter(|p| p.stream == *index).collect();
        let want: Vec<_> = frames.iter().filter(|f| f.kind == *kind).collect();
        assert_eq!(
            got.len(),
            want.len(),
            "{kind:?} packet count in {path:?} ({probe_err})"
        );
        for (i, (p, f)) in got.iter().zip(&want).enumerate() {
            let dts = (f.dts - base).to_rate(*rate);
            let pts = (f.pts - base).to_rate(*rate);
            assert_eq!(
                (p.dts, p.pts),
                (dts, pts),
                "{kind:?} packet {i} dts/pts in {path:?}"
            );
            // The same in milliseconds, the unit the spec talks about.
            assert_eq!(
                p.pts * 1000 / i64::from(*rate),
                pts * 1000 / i64::from(*rate)
            );
            assert_eq!(p.size, f.data.len(), "{kind:?} packet {i} size");
            if *kind == TrackKind::Video {
                assert_eq!(p.key, f.keyframe, "{kind:?} packet {i} key flag");
            }
        }
    }
    assert_eq!(probe_err, "", "ffprobe complained about {path:?}");
    // Decoded (not just demuxed) frames: an edit list that cuts the end shows here.
    let sections = probe_sections_counted(path);
    for (kind, name) in [(TrackKind::Video, "video"), (TrackKind::Audio, "audio")] {
        if let Some(s) = stream(&sections, name) {
            let want = frames.iter().filter(|f| f.kind == kind).count();
            assert_eq!(
                s["nb_read_frames"],
                want.to_string(),
                "{name} frames decoded from {path:?}"
            );
        }
    }
    assert_eq!(
        decode_errors(path),
        "",
        "ffmpeg failed to decode {path:?} cleanly"
    );
}

/// ffprobe's stream sections with `-count_frames` (frames actually decoded).
fn probe_sections_counted(path: &Path) -> Vec<HashMap<String, String>> {
    let out = super::testkit::run(
        super::testkit::FFPROBE,
        &[
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_type,nb_read_frames",
            path.to_str().unwrap(),
        ],
    );
    let mut sections = Vec::new();
    let mut cur = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if line.starts_with("[/") {
            sections.push(std::mem::take(&mut cur));
        } else if let Some((k, v)) = line.split_once('=') {
            cur.insert(k.to_string(), v.to_string());
        }
    }
    sections
}

fn write_file(path: &Path, data: &[u8]) {
    std::fs::write(path, data).unwrap();
}

/// Finalizes with user data, as the recorder does.
fn finalize_file(input: &Path, output: &Path) -> super::FinalizeSummary {
    let options = FinalizeOptions {
        user_data: user_data(),
        ..FinalizeOptions::default()
    };
    finalize_with(
        File::open(input).unwrap(),
        File::create(output).unwrap(),
        &options,
    )
    .unwrap()
}

/// The fixture's frames, the fragmented and finalized files, checked against the input.
fn round_trip(name: &str, input: &Path, video_codec: &str, min_fragments: usize) {
    let dir = scratch(name);
    let (tracks, frames) = frames_from_mp4(input);
    assert!(frames.len() > 20, "fixture has frames");
    let base = frames[0].dts;
    let refs: Vec<&Frame> = frames.iter().collect();
    let input_duration = format_duration(input);

    let (frag, ends) = write_fragmented(&tracks, &frames).unwrap();
    assert!(ends.len() >= min_fragments, "{} fragments", ends.len());
    let frag_path = dir.join("frag.mp4");
    write_file(&frag_path, &frag);
    check_with_ffprobe(&frag_path, &tracks, &refs, base, video_codec);
    let frame = 1.0 / 30.0;
    let d = format_duration(&frag_path);
    assert!(
        (d - input_duration).abs() <= frame,
        "fragmented duration {d} vs input {input_duration}"
    );

    // The finalized movie starts at the first presented frame of any track (ffmpeg's
    // convention), so its timestamps are shifted by that much.
    let first_pts = |kind| frames.iter().find(|f| f.kind == kind).map(|f| f.pts - base);
    let lead = [first_pts(TrackKind::Video), first_pts(TrackKind::Audio)]
        .into_iter()
        .flatten()
        .min()
        .unwrap()
        .max(MediaTime::ZERO);
    let final_path = dir.join("final.mp4");
    let summary = finalize_file(&frag_path, &final_path);
    assert!(!summary.truncated_tail);
    let final_bytes = std::fs::read(&final_path).unwrap();
    let order: Vec<String> = top_level_boxes(&final_bytes)
        .into_iter()
        .map(|b| b.0)
        .collect();
    assert_eq!(order, ["ftyp", "moov", "mdat"], "moov before mdat");
    // ffprobe reads both files cleanly with the user data in them (checked below), and
    // the user data reads back from both.
    for path in [&frag_path, &final_path] {
        assert_eq!(
            read_user_data(File::open(path).unwrap()).unwrap(),
            user_data(),
            "{path:?}"
        );
    }
    check_with_ffprobe(&final_path, &tracks, &refs, base + lead, video_codec);
    assert_eq!(summary.start_offset, lead);
    let d = format_duration(&final_path);
    assert!(
        (d - input_duration).abs() <= frame,
        "finalized duration {d} vs input {input_duration}"
    );
    assert!((summary.duration.as_secs_f64() - input_duration).abs() <= frame);

    // Finalized in place (the moov in room inserted before the recording, every mdat left
    // where it was written, the fragments' boxes renamed `free`): the same media.
    let mem = MemFile::new(frag.clone(), 4096);
    let InPlace::Done(in_place) = finalize_in_place(
        mem.clone(),
        &FinalizeOptions {
            user_data: user_data(),
            ..FinalizeOptions::default()
        },
    )
    .unwrap() else {
        panic!("in-place finalize unsupported in memory");
    };
    let in_place_path = dir.join("in-place.mp4");
    write_file(&in_place_path, &mem.contents());
    assert_eq!(
        read_user_data(File::open(&in_place_path).unwrap()).unwrap(),
        user_data()
    );
    check_with_ffprobe(&in_place_path, &tracks, &refs, base + lead, video_codec);
    assert_eq!(in_place.duration, summary.duration);
    let d = format_duration(&in_place_path);
    assert!(
        (d - input_duration).abs() <= frame,
        "in-place finalized duration {d} vs input {input_duration}"
    );
    if std::env::var_os("TAPEDECK_KEEP_MP4").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn ffprobe_reads_h264_aac_fragmented_and_finalized() {
    let dir = scratch("h264-remux");
    let remuxed = dir.join("input.mp4");
    remux_to_mp4(&fixture("h264_aac_2s.flv"), &remuxed);
    round_trip("h264", &remuxed, "h264", 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ffprobe_reads_hevc_fragmented_and_finalized() {
    round_trip("hevc", &fixture("hevc_1s.mp4"), "hevc", 1);
}

#[test]
fn killed_recording_plays_to_the_last_complete_fragment() {
    let dir = scratch("kill");
    let remuxed = dir.join("input.mp4");
    remux_to_mp4(&fixture("h264_aac_2s.flv"), &remuxed);
    let (tracks, frames) = frames_from_mp4(&remuxed);
    let (frag, ends) = write_fragmented(&tracks, &frames).unwrap();
    assert!(ends.len() >= 3);
    // kill -9 in the middle of the second-to-last fragment's mdat, and inside a moof.
    for (label, cut) in [("mdat", ends[ends.len() - 2] - 500), ("moof", ends[0] + 50)] {
        let complete = ends.iter().filter(|&&e| e <= cut).count();
        let killed = dir.join(format!("killed-{label}.mp4"));
        write_file(&killed, &frag[..cut]);
        // Frames in the complete fragments: write them alone and count.
        let (whole, _) = write_fragmented(&tracks, &frames).unwrap();
        let prefix = dir.join(format!("prefix-{label}.mp4"));
        write_file(&prefix, &whole[..ends[complete - 1]]);
        let (prefix_packets, _) = probe_packets(&prefix);
        let (packets, _) = probe_packets(&killed);
        assert!(!prefix_packets.is_empty());
        assert!(
            packets.len() >= prefix_packets.len(),
            "{label}: ffprobe reads the complete fragments of the killed file ({} < {})",
            packets.len(),
            prefix_packets.len()
        );
        assert_eq!(
            &packets[..prefix_packets.len()],
            &prefix_packets[..],
            "{label}"
        );

        let repaired = dir.join(format!("repaired-{label}.mp4"));
        let summary = finalize_file(&killed, &repaired);
        assert!(summary.truncated_tail, "{label}");
        assert!(summary.video_frames + summary.audio_frames < frames.len() as u64);
        assert_eq!(
            (summary.video_frames + summary.audio_frames) as usize,
            prefix_packets.len(),
            "{label}"
        );
        let (repaired_packets, err) = probe_packets(&repaired);
        assert_eq!(err, "", "{label}");
        assert_eq!(
            repaired_packets, prefix_packets,
            "{label}: same packets as the complete fragments"
        );
        assert_eq!(
            decode_errors(&repaired),
            "",
            "{label}: the repaired file plays"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Golden digests of a synthetic recording, with user data as the recorder writes it.
/// Brittle on purpose: when the output changes on purpose, bump [`FORMAT_VERSION`] and
/// these digests together.
///
/// Version 2 added `moov/udta` (in the init segment and the finalized movie); version 3
/// cuts fragments after half a second. The second check pins the bytes without user data.
/// The third pins a recording with chapters (optional, added in version 3 without changing
/// the bytes of a recording without them): `emsg` boxes, chapter track, `chpl`.
#[test]
fn golden_digests() {
    let (tracks, frames) = synthetic(3, MediaTime::from_millis(20));
    let (frag, _) = write_fragmented(&tracks, &frames).unwrap();
    let mut finalized = Vec::new();
    let options = FinalizeOptions {
        user_data: user_data(),
        ..FinalizeOptions::default()
    };
    finalize_with(std::io::Cursor::new(&frag), &mut finalized, &options).unwrap();
    let got = (
        FORMAT_VERSION,
        fnv1a64(&frag),
        fnv1a64(&finalized),
        frag.len(),
        finalized.len(),
    );
    assert_eq!(
        got,
        (3, 13514910246736931821, 8855878603406267674, 101849, 99205),
        "output changed: if on purpose, bump FORMAT_VERSION and these digests"
    );

    let mut plain = Vec::new();
    let mut w = super::Fmp4Writer::new(&tracks).unwrap();
    w.init_segment(&mut plain);
    for f in &frames {
        w.push(f.clone()).unwrap();
        if w.ready_for_fragment() {
            w.take_fragment(&mut plain);
        }
    }
    w.finish(&mut plain);
    let mut plain_finalized = Vec::new();
    super::finalize(std::io::Cursor::new(&plain), &mut plain_finalized).unwrap();
    assert_eq!(
        (
            fnv1a64(&plain),
            fnv1a64(&plain_finalized),
            plain.len(),
            plain_finalized.len()
        ),
        (10264594742065823392, 4752430005454878066, 101769, 99125),
        "without user data"
    );

    let t0 = frames[0].dts;
    let marks = [
        (t0 + MediaTime::from_millis(500), "One"),
        (t0 + MediaTime::from_millis(1750), "Two é"),
    ];
    let (frag, _) =
        super::testkit::write_fragmented_with_chapters(&tracks, &frames, &marks).unwrap();
    let mut finalized = Vec::new();
    let s = finalize_with(std::io::Cursor::new(&frag), &mut finalized, &options).unwrap();
    assert_eq!(s.chapters, 2);
    assert_eq!(
        (
            FORMAT_VERSION,
            fnv1a64(&frag),
            fnv1a64(&finalized),
            frag.len(),
            finalized.len()
        ),
        (3, 16167915443633820070, 10964701375556317336, 101806, 99823),
        "with chapters"
    );
}

/// Which tools read the chapters we write: ffprobe (asserted) and MediaInfo (asserted when
/// it is installed; it is not a required peer). Chapters are added the way the recorder
/// adds them, at the live edge, and land in the `.part` at once.
mod chapters {
    use super::*;
    use crate::mp4::testkit::{probe_chapters, read_chapters, write_fragmented_with_chapters};

    const MEDIAINFO: &str = "/usr/bin/mediainfo";

    /// The recording's chapters: `(ms after its first frame, title)`.
    const MARKS: [(i64, &str); 3] = [(0, "Intro"), (700, "Main part é"), (1500, "Outro \"live\"")];

    fn marks(base: MediaTime, marks: &[(i64, &'static str)]) -> Vec<(MediaTime, &'static str)> {
        marks
            .iter()
            .map(|&(ms, t)| (base + MediaTime::from_millis(ms), t))
            .collect()
    }

    /// ffprobe's chapters match `want` (`(start ms on the movie's timeline, title)`), each
    /// within one frame, the last ending at the end of the movie.
    fn assert_chapters(path: &Path, want: &[(i64, &str)], movie_end: f64) {
        let got = probe_chapters(path);
        let frame = 1.0 / 30.0;
        assert_eq!(got.len(), want.len(), "{path:?}: {got:?}");
        for (i, ((start, end, title), (ms, t))) in got.iter().zip(want).enumerate() {
            assert_eq!(title, t, "{path:?} chapter {i}");
            let want_start = *ms as f64 / 1000.0;
            assert!(
                (start - want_start).abs() <= frame,
                "{path:?} chapter {i} starts at {start}, not {want_start}"
            );
            let want_end = want.get(i + 1).map_or(movie_end, |n| n.0 as f64 / 1000.0);
            assert!(
                (end - want_end).abs() <= frame,
                "{path:?} chapter {i} ends at {end}, not {want_end}"
            );
        }
    }

    #[test]
    fn ffprobe_lists_chapters_of_finalized_recovered_and_in_place_files() {
        let dir = scratch("chapters");
        let remuxed = dir.join("input.mp4");
        remux_to_mp4(&fixture("h264_aac_2s.flv"), &remuxed);
        let (tracks, frames) = frames_from_mp4(&remuxed);
        let base = frames[0].dts;
        let refs: Vec<&Frame> = frames.iter().collect();
        let (part, ends) =
            write_fragmented_with_chapters(&tracks, &frames, &marks(base, &MARKS)).unwrap();

        // The .part: ffprobe reads it as it reads one without chapters (every packet, no
        // complaint), and lists no chapters (emsg is not its business).
        let part_path = dir.join("rec.mp4.part");
        write_file(&part_path, &part);
        let plain = dir.join("plain.mp4.part");
        write_file(&plain, &write_fragmented(&tracks, &frames).unwrap().0);
        assert_eq!(probe_packets(&part_path), probe_packets(&plain));
        check_with_ffprobe(&part_path, &tracks, &refs, base, "h264");
        let kinds: Vec<String> = top_level_boxes(&part).into_iter().map(|b| b.0).collect();
        assert_eq!(
            kinds.iter().filter(|k| *k == "emsg").count(),
            3,
            "{kinds:?}"
        );

        // Finalized by copying: the movie starts `lead` after the first frame.
        let final_path = dir.join("final.mp4");
        let summary = finalize_file(&part_path, &final_path);
        assert_eq!(summary.chapters, 3);
        let lead = summary.start_offset.as_millis();
        let end = summary.duration.as_secs_f64();
        let on_movie: Vec<(i64, &str)> = MARKS
            .iter()
            .map(|&(ms, t)| ((ms - lead).max(0), t))
            .collect();
        assert_chapters(&final_path, &on_movie, end);
        check_with_ffprobe(
            &final_path,
            &tracks,
            &refs,
            base + summary.start_offset,
            "h264",
        );
        let (track, chpl) = read_chapters(&std::fs::read(&final_path).unwrap());
        assert_eq!(track.len(), 3);
        assert_eq!(chpl.len(), 3);
        assert_eq!(
            chpl[1],
            (((700 - lead) * 10_000) as u64, "Main part é".into())
        );

        // Finalized in place: the same chapters.
        let mem = MemFile::new(part.clone(), 4096);
        let options = FinalizeOptions {
            user_data: user_data(),
            ..FinalizeOptions::default()
        };
        let InPlace::Done(s) = finalize_in_place(mem.clone(), &options).unwrap() else {
            panic!("in-place finalize unsupported in memory");
        };
        assert_eq!((s.chapters, s.duration), (3, summary.duration));
        let in_place = dir.join("in-place.mp4");
        write_file(&in_place, &mem.contents());
        assert_chapters(&in_place, &on_movie, end);
        check_with_ffprobe(
            &in_place,
            &tracks,
            &refs,
            base + summary.start_offset,
            "h264",
        );
        let kinds: Vec<String> = top_level_boxes(&mem.contents())
            .into_iter()
            .map(|b| b.0)
            .collect();
        assert_eq!(&kinds[..4], ["ftyp", "moov", "mdat", "free"], "{kinds:?}");
        assert!(!kinds.contains(&"emsg".to_string()), "renamed: {kinds:?}");

        // Recovered: killed in the middle of the last fragment, after every chapter was
        // marked; the chapters inside what is kept survive.
        let cut = ends[ends.len() - 1] - 300;
        let killed = dir.join("killed.mp4.part");
        write_file(&killed, &part[..cut]);
        let repaired = dir.join("repaired.mp4");
        let s = finalize_file(&killed, &repaired);
        assert!(s.truncated_tail);
        assert_chapters(&repaired, &on_movie, s.duration.as_secs_f64());

        // Video only (the movie starts on the first shown frame, 67 ms after the first
        // decoded one), the first chapter later than the start: the chapter track opens
        // with an empty edit, which ffprobe honours.
        let video: Vec<Frame> = frames.iter().filter(|f| f.is_video()).cloned().collect();
        let video_tracks = Tracks {
            audio: None,
            ..tracks.clone()
        };
        let late = [(300, "Late start"), (1200, "Second")];
        let (part, _) =
            write_fragmented_with_chapters(&video_tracks, &video, &marks(base, &late)).unwrap();
        let part_path = dir.join("video.mp4.part");
        write_file(&part_path, &part);
        let video_path = dir.join("video.mp4");
        let s = finalize_file(&part_path, &video_path);
        let lead = s.start_offset.as_millis();
        assert!(
            lead > 30,
            "B-frames: the movie starts after the first DTS ({lead} ms)"
        );
        let on_movie_late: Vec<(i64, &str)> = late.iter().map(|&(ms, t)| (ms - lead, t)).collect();
        assert_chapters(&video_path, &on_movie_late, s.duration.as_secs_f64());
        let (track, _) = read_chapters(&std::fs::read(&video_path).unwrap());
        assert_eq!(track[0].0, ((300 - lead) * 90) as u64, "the empty edit");

        // MediaInfo, when installed: it shows the chapter track and chpl as two menus,
        // each chapter at its time ("00:00:00.700 : Main part é").
        if Path::new(MEDIAINFO).exists() {
            for (path, marks) in [(&final_path, &on_movie), (&video_path, &on_movie_late)] {
                let out = super::super::testkit::run(MEDIAINFO, &[path.to_str().unwrap()]);
                let text = String::from_utf8_lossy(&out.stdout);
                assert_eq!(text.matches("\nMenu #").count(), 2, "{text}");
                for (ms, title) in marks {
                    let line = format!("00:00:0{}.{:03}", ms / 1000, ms % 1000);
                    let listed = text
                        .lines()
                        .filter(|l| l.starts_with(&line) && l.ends_with(&format!(": {title}")))
                        .count();
                    assert_eq!(listed, 2, "MediaInfo lists {line} {title} twice: {text}");
                }
            }
        }
        if std::env::var_os("TAPEDECK_KEEP_MP4").is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

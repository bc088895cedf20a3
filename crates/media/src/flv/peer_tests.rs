//! Peer tests: what Tapedeck writes, read by the real ffmpeg/ffprobe. They fail, not skip,
//! when the tools are missing: a recorder whose files are never checked by a real player
//! proves nothing.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::amf0::Amf0Value;
use super::finalize::{finalize_with, FinalizeOptions, FlvSummary};
use super::finalize_in_place;
use super::reader::FlvReader;
use super::tag::TagDecoder;
use super::test_support::{tags, temp_path, FIXTURE};
use super::writer::FlvWriter;
use crate::frame::{MediaEvent, Tracks};
use crate::in_place::InPlace;
use crate::mp4::testkit::MemFile;

fn tool(name: &str) -> PathBuf {
    let path = Path::new("/usr/bin").join(name);
    assert!(
        path.exists(),
        "{} is required by the FLV peer tests (apt-get install ffmpeg)",
        path.display()
    );
    path
}

/// Output of a tool run that must succeed; (stdout, stderr).
fn run(cmd: &mut Command) -> (String, String) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        text(&out.stderr)
    );
    (text(&out.stdout), text(&out.stderr))
}

/// Removes its files when the test ends, passed or not.
struct TempFiles(Vec<PathBuf>);

impl Drop for TempFiles {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// An `onMetaData` entry of the caller's own, as the recorder adds its tag.
fn extra() -> Vec<(String, Amf0Value)> {
    vec![(
        "tapedeck".to_owned(),
        Amf0Value::String(r#"{"recording":"live/cam1/1"}"#.to_owned()),
    )]
}

/// The recorder's path, as the recorder does it: the fixture streamed through FlvReader ->
/// TagDecoder -> FlvWriter, appended to a temp file, then finalize -> final.flv.
fn record_fixture() -> (TempFiles, PathBuf, PathBuf, FlvSummary) {
    let temp = temp_path("recording.flv.part");
    let fin = temp_path("final.flv");
    let files = TempFiles(vec![temp.clone(), fin.clone(), in_place_path(&fin)]);
    let mut file = File::create(&temp).expect("create temp recording");
    let mut reader = FlvReader::new();
    let mut decoder = TagDecoder::new();
    let mut tracks = Tracks::default();
    let mut writer: Option<FlvWriter> = None;
    let (mut tags, mut events, mut out) = (Vec::new(), Vec::new(), Vec::new());
    for chunk in FIXTURE.chunks(1000) {
        reader.push(chunk, &mut tags).expect("fixture parses");
        for t in tags.drain(..) {
            match t.kind {
                8 => decoder
                    .audio(t.ts_ms, t.body, &mut events)
                    .expect("audio tag"),
                9 => decoder
                    .video(t.ts_ms, t.body, &mut events)
                    .expect("video tag"),
                _ => {}
            }
        }
        for e in events.drain(..) {
            match (&e, writer.as_mut()) {
                (MediaEvent::VideoConfig(c), None) => tracks.video = Some(c.clone()),
                (MediaEvent::AudioConfig(c), None) => tracks.audio = Some(c.clone()),
                (MediaEvent::Frame(f), _) => {
                    let w = writer.get_or_insert_with(|| {
                        let mut w = FlvWriter::new(&tracks).with_metadata(extra());
                        w.header(&mut out);
                        w
                    });
                    w.write_frame(f, &mut out).expect("frame writes");
                }
                (_, Some(w)) => w.write_config(&e, &mut out),
            }
        }
        file.write_all(&out).expect("append to temp recording");
        out.clear();
    }
    drop(file);
    let input = File::open(&temp).expect("open temp recording");
    let mut output = File::create(&fin).expect("create final file");
    let options = FinalizeOptions { metadata: extra() };
    let summary = finalize_with(input, &mut output, &options).expect("finalizes");
    output.sync_all().expect("sync final file");

    // The same recording finalized in place (header in room inserted at the start, a
    // filler tag over the provisional header, media tags where they were written), next
    // to `fin`: every test here reads both.
    let file = MemFile::new(std::fs::read(&temp).expect("read temp recording"), 4096);
    let InPlace::Done(in_place) = finalize_in_place(file.clone(), &options).expect("finalizes")
    else {
        panic!("in-place finalize unsupported in memory");
    };
    assert_eq!(
        FlvSummary {
            bytes: 0,
            ..in_place
        },
        FlvSummary {
            bytes: 0,
            ..summary.clone()
        }
    );
    std::fs::write(in_place_path(&fin), file.contents()).expect("write in-place file");
    (files, temp, fin, summary)
}

/// Where [`record_fixture`] puts the in-place finalized file of `fin`.
fn in_place_path(fin: &Path) -> PathBuf {
    fin.with_extension("in-place.flv")
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split('|')
        .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
}

fn ffprobe_duration_from_pipe(file: &Path) -> String {
    // Through a pipe ffprobe cannot seek to the last tag to measure the file: the duration
    // it reports can only come from onMetaData.
    let input = File::open(file).expect("open for ffprobe");
    let out = Command::new(tool("ffprobe"))
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
            "-i",
            "pipe:0",
        ])
        .stdin(input)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn ffprobe_reads_streams_duration_and_metadata() {
    let (_files, temp, fin, summary) = record_fixture();
    for fin in [fin.clone(), in_place_path(&fin)] {
        ffprobe_reads(&fin, &summary);
    }
    // The unfinalized recording has no duration to read: the checks can fail.
    assert_eq!(ffprobe_duration_from_pipe(&temp), "N/A");
}

fn ffprobe_reads(fin: &Path, summary: &FlvSummary) {
    assert_eq!(
        (
            summary.video_frames,
            summary.keyframes,
            summary.truncated_tail
        ),
        (60, 2, false)
    );
    let (stdout, _) = run(Command::new(tool("ffprobe"))
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration:format_tags",
            "-show_streams",
            "-count_packets",
            "-of",
            "compact",
        ])
        .arg(fin));
    let lines: Vec<&str> = stdout.lines().collect();
    let stream = |kind: &str| {
        *lines
            .iter()
            .find(|l| l.starts_with("stream|") && field(l, "codec_type") == Some(kind))
            .unwrap_or_else(|| panic!("no {kind} stream in:\n{stdout}"))
    };
    let v = stream("video");
    assert_eq!(
        [
            field(v, "codec_name"),
            field(v, "width"),
            field(v, "height"),
            field(v, "nb_read_packets")
        ],
        [Some("h264"), Some("320"), Some("240"), Some("60")],
        "{v}"
    );
    let a = stream("audio");
    assert_eq!(
        [
            field(a, "codec_name"),
            field(a, "sample_rate"),
            field(a, "channels")
        ],
        [Some("aac"), Some("44100"), Some("2")],
        "{a}"
    );
    let format = *lines
        .iter()
        .find(|l| l.starts_with("format|"))
        .expect("format line");
    let duration: f64 = field(format, "duration")
        .and_then(|d| d.parse().ok())
        .unwrap_or(f64::NAN);
    assert!(
        (duration - 2.0).abs() <= 1.0 / 30.0,
        "duration {duration} in {format}"
    );
    // ffmpeg's FLV demuxer consumes the standard keys (duration, width...) and lists the
    // others as format tags: those prove it read our onMetaData.
    assert_eq!(field(format, "tag:hasKeyframes"), Some("true"), "{format}");
    assert_eq!(field(format, "tag:lasttimestamp"), Some("2"), "{format}");
    assert!(
        field(format, "tag:encoder").is_some_and(|e| e.starts_with("Tapedeck ")),
        "{format}"
    );
    assert_eq!(
        field(format, "tag:tapedeck"),
        Some(r#"{"recording":"live/cam1/1"}"#),
        "our own entry reads as a plain tag: {format}"
    );

    let piped = ffprobe_duration_from_pipe(fin);
    let piped_secs: f64 = piped.parse().unwrap_or(f64::NAN);
    assert!(
        (piped_secs - 2.0).abs() <= 1.0 / 30.0,
        "duration from onMetaData: {piped}"
    );
}

#[test]
fn ffmpeg_decodes_without_errors() {
    let (_files, _, fin, _) = record_fixture();
    for fin in [fin.clone(), in_place_path(&fin)] {
        let (stdout, stderr) = run(Command::new(tool("ffmpeg"))
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(&fin)
            .args(["-f", "null", "-"]));
        assert_eq!((stdout.as_str(), stderr.as_str()), ("", ""), "{fin:?}");
    }
}

#[test]
fn ffmpeg_accepts_the_index_and_seeks() {
    let (_files, _, fin, _) = record_fixture();
    for fin in [fin.clone(), in_place_path(&fin)] {
        seeks(&fin);
    }
}

fn seeks(fin: &Path) {
    // ffmpeg checks the first index entries against the tags it reads and warns "Found
    // invalid index entries, clearing the index" when they do not match: at warning level
    // nothing must be printed either.
    let (stdout, stderr) = run(Command::new(tool("ffmpeg"))
        .args(["-nostdin", "-v", "warning", "-i"])
        .arg(fin)
        .args(["-f", "null", "-"]));
    assert_eq!((stdout.as_str(), stderr.as_str()), ("", ""), "{fin:?}");
    let (stdout, stderr) = run(Command::new(tool("ffmpeg"))
        .args(["-nostdin", "-v", "error", "-ss", "1.0", "-i"])
        .arg(fin)
        .args(["-frames:v", "1", "-f", "null", "-"]));
    assert_eq!((stdout.as_str(), stderr.as_str()), ("", ""));

    // A seek to 1.0 s lands exactly on the key frame tag at 1.0 s: the first packet ffprobe
    // reads after seeking is at the position the index gives for it.
    let file = std::fs::read(fin).expect("read final file");
    let key_at_1s = tags(&file)
        .iter()
        .find(|t| t.kind == 9 && t.ts_ms == 1000 && t.body.first() == Some(&0x17))
        .map(|t| t.offset)
        .expect("a key frame tag at 1000 ms");
    let (stdout, _) = run(Command::new(tool("ffprobe"))
        .args([
            "-v",
            "error",
            "-read_intervals",
            "1.0%+#1",
            "-select_streams",
            "v",
        ])
        .args([
            "-show_entries",
            "packet=pos,flags,dts_time",
            "-of",
            "compact",
        ])
        .arg(fin));
    let first = stdout.lines().next().unwrap_or_default();
    assert_eq!(
        field(first, "pos"),
        Some(key_at_1s.to_string().as_str()),
        "{stdout}"
    );
    assert!(
        field(first, "flags").is_some_and(|f| f.starts_with('K')),
        "{first}"
    );
}

/// Chapters: ffmpeg lists none for FLV, so what is checked is that the finalized files
/// read exactly as they would without chapters (no extra stream, no stray format tags,
/// the index and seeks intact), and that the `chapters` index our reader gives back holds
/// them. See `cue.rs`.
#[test]
fn chapters_leave_the_streams_alone_and_read_back_from_the_metadata() {
    use super::read_metadata;
    use super::test_support::{chapters_of, fixture, record_with_chapters};
    use crate::time::MediaTime;

    let (tracks, frames) = fixture();
    let t0 = frames[0].dts;
    let marks = [
        (t0, "Intro"),
        (t0 + MediaTime::from_millis(700), "Main part é"),
        (t0 + MediaTime::from_millis(1500), "Outro"),
    ];
    let (part, _) = record_with_chapters(&tracks, &frames, &marks);
    let temp = temp_path("chapters.flv.part");
    let fin = temp_path("chapters.flv");
    let placed = in_place_path(&fin);
    let _files = TempFiles(vec![temp.clone(), fin.clone(), placed.clone()]);
    std::fs::write(&temp, &part).expect("write the recording");
    let options = FinalizeOptions { metadata: extra() };
    let mut output = File::create(&fin).expect("create final file");
    let summary =
        finalize_with(std::io::Cursor::new(&part), &mut output, &options).expect("finalizes");
    assert_eq!(summary.chapters, 3);
    let file = MemFile::new(part.clone(), 4096);
    let InPlace::Done(s) = finalize_in_place(file.clone(), &options).expect("finalizes") else {
        panic!("in-place finalize unsupported in memory");
    };
    assert_eq!(s.chapters, 3);
    std::fs::write(&placed, file.contents()).expect("write in-place file");

    for fin in [&fin, &placed] {
        ffprobe_reads(fin, &summary);
        seeks(fin);
        let (stdout, _) = run(Command::new(tool("ffprobe"))
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_type:format_tags",
            ])
            .args(["-of", "compact"])
            .arg(fin));
        let streams: Vec<&str> = stdout
            .lines()
            .filter_map(|l| field(l, "codec_type"))
            .collect();
        assert_eq!(streams, ["video", "audio"], "{fin:?}: {stdout}");
        assert!(!stdout.contains("tag:name="), "{fin:?}: {stdout}");
        let meta = read_metadata(File::open(fin).expect("open"))
            .expect("reads")
            .expect("has onMetaData");
        let cues = chapters_of(&meta);
        assert_eq!(
            cues,
            [
                (0.0, "Intro".to_owned()),
                (0.7, "Main part é".to_owned()),
                (1.5, "Outro".to_owned())
            ],
            "{fin:?}"
        );
    }
    // The .part plays: every video frame is read, nothing is reported.
    let (stdout, stderr) = run(Command::new(tool("ffprobe"))
        .args(["-v", "warning", "-count_packets", "-select_streams", "v"])
        .args(["-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"])
        .arg(&temp));
    assert_eq!((stdout.trim(), stderr.as_str()), ("60", ""));
}

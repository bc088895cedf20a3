//! Writes small seed corpora into `fuzz/corpus/<target>/` from `tests/fixtures`.
//!
//! `cargo run --example seeds` (from `fuzz/`, any toolchain). The corpora are not
//! committed (`/fuzz/corpus` is ignored): they are a few KB and cheap to regenerate, and
//! the fuzzer grows them anyway.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use tapedeck_fuzz::Publisher;
use tapedeck_media::flv::amf0::Amf0Value;
use tapedeck_media::flv::reader::{FlvReader, FlvTag};
use tapedeck_media::flv::tag::{TagDecoder, TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO};
use tapedeck_media::hls::{DateRange, MediaPlaylist, PlaylistSegment};
use tapedeck_media::mp4::{self, Fmp4Writer, UserBox};
use tapedeck_media::ts::TsMuxer;
use tapedeck_media::{MediaEvent, Tracks};

/// Tags taken from the fixture: the script tag, both sequence headers and a few frames.
/// Frames are cut to keep each seed to a few KB; the fuzzer needs shapes, not pictures.
const TAGS: usize = 12;
const MAX_BODY: usize = 600;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let fixtures = root.join("../tests/fixtures");
    let flv = std::fs::read(fixtures.join("h264_aac_2s.flv"))?;
    let corpus = root.join("corpus");

    let mut tags = Vec::new();
    FlvReader::new().push(&flv, &mut tags)?;
    let tags: Vec<FlvTag> = tags.into_iter().take(TAGS).collect();

    // amf0: the onMetaData script body, and one command as rml_rtmp would carry it.
    let script = tags
        .iter()
        .find(|t| t.kind == TAG_SCRIPT)
        .ok_or("fixture has onMetaData")?;
    write(&corpus, "amf0", "onmetadata", &script.body)?;
    let mut cmd = Vec::new();
    for v in [
        Amf0Value::String("FCPublish".into()),
        Amf0Value::Number(3.0),
        Amf0Value::Null,
        Amf0Value::String("cam1".into()),
    ] {
        v.encode(&mut cmd);
    }
    write(&corpus, "amf0", "fcpublish", &cmd)?;

    // flv_tags: a short FLV (header + the first tags, frames cut), read whole and in 7s.
    let mut short = flv[..13].to_vec();
    for t in &tags {
        let body = cut(t);
        let size = body.len() as u32;
        short.push(t.kind);
        short.extend_from_slice(&size.to_be_bytes()[1..]);
        short.extend_from_slice(&t.ts_ms.to_be_bytes()[1..]);
        short.push((t.ts_ms >> 24) as u8);
        short.extend_from_slice(&[0, 0, 0]);
        short.extend_from_slice(&body);
        short.extend_from_slice(&(size + 11).to_be_bytes());
    }
    write(
        &corpus,
        "flv_tags",
        "short-whole",
        &[[0u8].as_slice(), &short].concat(),
    )?;
    write(
        &corpus,
        "flv_tags",
        "short-by-7",
        &[[7u8].as_slice(), &short].concat(),
    )?;
    write(&corpus, "flv_tags", "hvcc", &hevc_flv(&fixtures)?)?;

    // rtmp_chunks: the publish sequence and the fixture's first tags as RTMP messages,
    // in each of the three starting states.
    let mut publisher = Publisher::new()?;
    let mut media = Vec::new();
    for t in tags
        .iter()
        .filter(|t| t.kind == TAG_VIDEO || t.kind == TAG_AUDIO)
    {
        media.extend(publisher.media(t.kind == TAG_VIDEO, t.ts_ms, Bytes::from(cut(t)))?);
    }
    write(
        &corpus,
        "rtmp_chunks",
        "publishing-media",
        &[[2u8, 0].as_slice(), &media].concat(),
    )?;
    write(
        &corpus,
        "rtmp_chunks",
        "publishing-media-by-100",
        &[[2u8, 100].as_slice(), &media].concat(),
    )?;
    write(
        &corpus,
        "rtmp_chunks",
        "from-scratch",
        &[[0u8, 0].as_slice(), &publisher.sent].concat(),
    )?;

    // ts_demux: the same frames muxed by our TS muxer.
    let mut decoder = TagDecoder::new();
    let mut events = Vec::new();
    for t in &tags {
        let _ = match t.kind {
            TAG_VIDEO => decoder.video(t.ts_ms, t.body.clone(), &mut events),
            TAG_AUDIO => decoder.audio(t.ts_ms, t.body.clone(), &mut events),
            _ => Ok(()),
        };
    }
    let tracks = Tracks {
        video: decoder.video_config().map(Arc::clone),
        audio: decoder.audio_config().map(Arc::clone),
    };
    let mut mux = TsMuxer::new(&tracks);
    let mut ts = Vec::new();
    mux.write_tables(&mut ts);
    for ev in events.iter().take(6) {
        if let MediaEvent::Frame(f) = ev {
            mux.write_frame(f, &mut ts)?;
        }
    }
    write(
        &corpus,
        "ts_demux",
        "h264-aac",
        &[[0u8].as_slice(), &ts].concat(),
    )?;
    write(
        &corpus,
        "ts_demux",
        "h264-aac-by-7",
        &[[1u8].as_slice(), &ts].concat(),
    )?;

    // Deeply nested AMF0 (strict arrays, objects, ECMA arrays, 100 and 100,000 deep): the
    // depth limit must stop them before the stack does.
    for depth in [100, 100_000] {
        for (name, open, close) in [
            ("strict", &[0x0a, 0, 0, 0, 1][..], &[][..]),
            ("object", &[0x03, 0, 1, b'k'][..], &[0, 0, 9][..]),
            ("ecma", &[0x08, 0, 0, 0, 1, 0, 1, b'k'][..], &[0, 0, 9][..]),
        ] {
            let mut nested = open.repeat(depth);
            nested.push(0x05);
            nested.extend(close.repeat(depth));
            write(&corpus, "amf0", &format!("nested-{name}-{depth}"), &nested)?;
            let mut body = Vec::new();
            Amf0Value::String("onMetaData".into()).encode(&mut body);
            body.extend_from_slice(&nested);
            let mut flv_nested = vec![0u8];
            flv_nested.extend_from_slice(&flv[..13]);
            push_tag(&mut flv_nested, TAG_SCRIPT, 0, &body);
            write(
                &corpus,
                "flv_tags",
                &format!("nested-{name}-{depth}"),
                &flv_nested,
            )?;
            // rtmp_chunks: a `connect` whose command object nests it, after the handshake
            // (mode 0), as one message in 128-byte chunks on chunk stream 3.
            let mut command = Vec::new();
            Amf0Value::String("connect".into()).encode(&mut command);
            Amf0Value::Number(1.0).encode(&mut command);
            command.extend_from_slice(&nested);
            let mut chunks = vec![0u8, 0, 0x03, 0, 0, 0];
            chunks.extend_from_slice(&(command.len() as u32).to_be_bytes()[1..]);
            chunks.extend_from_slice(&[20, 0, 0, 0, 0]);
            for (k, piece) in command.chunks(128).enumerate() {
                if k > 0 {
                    chunks.push(0xc3);
                }
                chunks.extend_from_slice(piece);
            }
            write(
                &corpus,
                "rtmp_chunks",
                &format!("connect-nested-{name}-{depth}"),
                &chunks,
            )?;
        }
    }

    // flv_reader: the short FLV whole, in 1- and 7-byte reads, with a long header, with a
    // hostile DataOffset, and cut inside a tag.
    write(
        &corpus,
        "flv_reader",
        "whole",
        &[[0u8].as_slice(), &short].concat(),
    )?;
    write(
        &corpus,
        "flv_reader",
        "by-1-and-7",
        &[[2u8, 1, 7].as_slice(), &short].concat(),
    )?;
    let mut long_header = short[..9].to_vec();
    long_header[5..9].copy_from_slice(&100u32.to_be_bytes());
    long_header.resize(100, 0xee);
    long_header.extend_from_slice(&short[9..]);
    write(
        &corpus,
        "flv_reader",
        "long-header",
        &[[1u8, 3].as_slice(), &long_header].concat(),
    )?;
    let mut hostile = short.clone();
    hostile[5..9].copy_from_slice(&u32::MAX.to_be_bytes());
    write(
        &corpus,
        "flv_reader",
        "data-offset-4g",
        &[[0u8].as_slice(), &hostile].concat(),
    )?;
    write(
        &corpus,
        "flv_reader",
        "cut",
        &[[0u8].as_slice(), &short[..short.len() / 2]].concat(),
    )?;

    // mp4_recover / mp4_read: the same frames as a fragmented recording (with the
    // recorder's user data), cut by a crash, and finalized.
    let mut writer = Fmp4Writer::new(&tracks)?.with_user_data(vec![UserBox {
        kind: *b"tpdk",
        payload: br#"{"recording":"live/fuzz/1"}"#.to_vec(),
    }]);
    let mut frag = Vec::new();
    writer.init_segment(&mut frag);
    for ev in &events {
        if let MediaEvent::Frame(f) = ev {
            writer.push(f.clone())?;
            if writer.ready_for_fragment() {
                writer.take_fragment(&mut frag);
            }
        }
    }
    writer.finish(&mut frag);
    let mut finalized = Vec::new();
    mp4::finalize(std::io::Cursor::new(&frag), &mut finalized)?;
    write(
        &corpus,
        "mp4_recover",
        "fragmented",
        &[[9u8].as_slice(), &frag].concat(),
    )?;
    write(
        &corpus,
        "mp4_recover",
        "cut",
        &[[0u8].as_slice(), &frag[..frag.len() - frag.len() / 3]].concat(),
    )?;
    write(&corpus, "mp4_read", "fragmented", &frag)?;
    write(&corpus, "mp4_read", "finalized", &finalized)?;

    // hls_playlist: a live join, a reload, a reconnect after fetching, a master playlist,
    // an ended one, and numbers at the top of u64.
    let live = |seq: u64, n: u64| {
        let mut p = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{seq}\n"
        );
        for i in seq..seq.saturating_add(n) {
            p.push_str(&format!("#EXTINF:2.000,\nseg{i}.ts\n"));
        }
        p.into_bytes()
    };
    let mut session = Vec::new();
    for (control, body) in [
        (0u8, live(10, 5)),
        (2, live(11, 5)),
        (3, live(12, 6)),
        (
            1,
            b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nhigh/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=100000\nlow.m3u8\n".to_vec(),
        ),
        (0, live(0, 3)),
        (2, [live(5, 2), b"#EXT-X-ENDLIST\n".to_vec()].concat()),
    ] {
        session.push(control);
        session.extend_from_slice(&body);
        session.push(0);
    }
    write(&corpus, "hls_playlist", "session", &session)?;
    let top = [
        [0u8].as_slice(),
        &live(u64::MAX - 2, 3),
        &[0, 0],
        &live(0, 3),
    ]
    .concat();
    write(&corpus, "hls_playlist", "sequence-top", &top)?;

    // bucket_playlist: a recording's playlist with a chapter and a gap, and a custom index
    // (as the recorder renders them), and one cut mid-line.
    let t0 = chrono::DateTime::from_timestamp_millis(1_795_515_330_123).unwrap_or_default();
    let segment = |i: i64, gap_ms: i64, discontinuity: bool| PlaylistSegment {
        uri: format!("{}_{i}.ts", 1_795_515_330 + i * 6),
        duration: 6.006,
        program_date_time: Some(t0 + chrono::Duration::milliseconds(i * 6006 + gap_ms)),
        discontinuity,
    };
    let recording = MediaPlaylist {
        segments: vec![
            segment(0, 0, false),
            segment(1, 0, false),
            segment(2, 90_000, true),
        ],
        ended: true,
        media_sequence: 0,
        recording: Some("live/cam/2026-11-24T18-15-30Z".into()),
        index: None,
        date_ranges: vec![DateRange::chapter(
            "chapter-1",
            t0 + chrono::Duration::milliseconds(7_000),
            "Boss fight \"round 2\" ✓",
        )],
    }
    .render();
    write(
        &corpus,
        "bucket_playlist",
        "recording",
        recording.as_bytes(),
    )?;
    write(
        &corpus,
        "bucket_playlist",
        "recording-cut",
        &recording.as_bytes()[..recording.len() * 2 / 3],
    )?;
    let index = MediaPlaylist {
        segments: vec![segment(0, 0, false), segment(1, 0, false)],
        ended: true,
        media_sequence: 0,
        recording: None,
        index: Some(
            r#"{"id":7,"app":"live","stream":"cam","start_ms":1795515330123,"end_ms":1795515348141,"duration":18.018,"width":1280,"height":720,"created_ms":1795515400000}"#
                .into(),
        ),
        date_ranges: Vec::new(),
    }
    .render();
    write(&corpus, "bucket_playlist", "index", index.as_bytes())?;
    Ok(())
}

/// Appends one FLV tag.
fn push_tag(out: &mut Vec<u8>, kind: u8, ts_ms: u32, body: &[u8]) {
    let size = body.len() as u32;
    out.push(kind);
    out.extend_from_slice(&size.to_be_bytes()[1..]);
    out.extend_from_slice(&ts_ms.to_be_bytes()[1..]);
    out.push((ts_ms >> 24) as u8);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(body);
    out.extend_from_slice(&(size + 11).to_be_bytes());
}

/// A tag body cut to about `MAX_BODY` bytes, except sequence headers (kept whole: a cut
/// record would only teach the fuzzer the error path). A video frame keeps its first NAL
/// unit, shortened, with its length prefix fixed so the seed decodes cleanly.
fn cut(t: &FlvTag) -> Vec<u8> {
    let body = &t.body;
    if t.kind == TAG_SCRIPT || body.get(1) == Some(&0) || body.len() <= MAX_BODY {
        return body.to_vec();
    }
    if t.kind != TAG_VIDEO {
        return body[..MAX_BODY].to_vec();
    }
    // Legacy AVC frame: 5 header bytes, then 4-byte length-prefixed NAL units.
    let Some(prefix) = body.get(5..9) else {
        return body.to_vec();
    };
    let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    let keep = len.min(MAX_BODY).min(body.len() - 9);
    let mut out = body[..5].to_vec();
    out.extend_from_slice(&(keep as u32).to_be_bytes());
    out.extend_from_slice(&body[9..9 + keep]);
    out
}

/// An FLV of one Enhanced RTMP `hvc1` SequenceStart carrying the HEVC fixture record.
fn hevc_flv(fixtures: &Path) -> Result<Vec<u8>, std::io::Error> {
    let hvcc = std::fs::read(fixtures.join("hevc_320x240.hvcc"))?;
    let mut body = vec![0x80 | 0x10];
    body.extend_from_slice(b"hvc1");
    body.extend_from_slice(&hvcc);
    let mut out = vec![0u8];
    out.extend_from_slice(b"FLV\x01\x01\x00\x00\x00\x09\x00\x00\x00\x00");
    out.push(TAG_VIDEO);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&[0; 7]);
    out.extend_from_slice(&body);
    out.extend_from_slice(&(body.len() as u32 + 11).to_be_bytes());
    Ok(out)
}

fn write(corpus: &Path, target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let dir = corpus.join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(format!("seed-{name}")), bytes)?;
    println!("{target}/seed-{name}: {} bytes", bytes.len());
    Ok(())
}

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
    Ok(())
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

//! Key frames handed to a decoder elsewhere (the app's WebCodecs, for H.265): the engine
//! finds the key frame at or before a time in an H.265 segment ffmpeg wrote, gives its
//! RFC 6381 codec string and size, and the Annex B bytes decode on their own (ffmpeg reads
//! them as a raw HEVC stream). The JPEG path says plainly that it makes H.264 only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

use std::path::PathBuf;
use std::process::Command;

use chrono::DateTime;
use tapedeck_catalog::{Catalog, Segment};
use tapedeck_engine::thumbnail::{key_frame, thumbnail, ThumbnailError};

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg is a test peer (scripts/setup installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_h265_key_frame_is_handed_over_whole_and_decodes_on_its_own() {
    let dir = std::env::temp_dir().join(format!("tapedeck-keyframes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("rec")).unwrap();
    let seg_path = dir.join("rec/seg0.ts");
    // 4 s of 640x360 at 25 fps, a key frame every second.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=25",
        "-t",
        "4",
        "-c:v",
        "libx265",
        "-x265-params",
        "keyint=25:min-keyint=25:scenecut=0:log-level=error",
        "-f",
        "mpegts",
        seg_path.to_str().unwrap(),
    ]);
    let catalog = Catalog::in_memory().unwrap();
    let start_ms = 1_796_000_000_000;
    catalog
        .add_segment(&Segment {
            recording: format!("live/hevc/{start_ms}"),
            app: "live".into(),
            stream: "hevc".into(),
            key: "rec/seg0.ts".into(),
            start_ms,
            duration_ms: 4_000,
            bytes: std::fs::metadata(&seg_path).unwrap().len(),
            codecs: "hvc1.1.6.L90.B0".into(),
            width: 640,
            height: 360,
            keyframes: 4,
            discontinuity: false,
        })
        .unwrap();
    let files = PathBuf::from(&dir);
    let at = DateTime::from_timestamp_millis(start_ms + 2_500).unwrap();
    let k = key_frame(&catalog, &files, "live", "hevc", at).unwrap();
    assert!(
        k.codec.starts_with("hvc1.") || k.codec.starts_with("hev1."),
        "{}",
        k.codec
    );
    assert_eq!((k.width, k.height), (640, 360));
    // The key frame at 2 s, not the one at 3 s after `at`, nor the first.
    assert_eq!(k.at.timestamp_millis(), start_ms + 2_000);
    assert_eq!(&k.annex_b[..4], &[0, 0, 0, 1]);
    // VPS (type 32) first: the parameter sets travel with the picture.
    assert_eq!((k.annex_b[4] >> 1) & 0x3f, 32);

    // ffmpeg decodes the bytes alone: one 640x360 picture.
    let raw = dir.join("key.hevc");
    std::fs::write(&raw, &k.annex_b).unwrap();
    let png = dir.join("key.png");
    ffmpeg(&[
        "-f",
        "hevc",
        "-i",
        raw.to_str().unwrap(),
        "-frames:v",
        "1",
        png.to_str().unwrap(),
    ]);
    let png_bytes = std::fs::read(&png).unwrap();
    assert_eq!(&png_bytes[1..4], b"PNG");
    assert_eq!(
        u32::from_be_bytes(png_bytes[16..20].try_into().unwrap()),
        640
    );
    assert_eq!(
        u32::from_be_bytes(png_bytes[20..24].try_into().unwrap()),
        360
    );

    // The JPEG path names the codec instead of failing obscurely.
    let err = thumbnail(
        &catalog,
        &files,
        &dir.join("thumbs"),
        "live",
        "hevc",
        at,
        320,
    )
    .unwrap_err();
    assert!(matches!(err, ThumbnailError::Codec("H.265")), "{err}");
    assert_eq!(
        err.to_string(),
        "this recording is H.265; thumbnails are made from H.264 only"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

use std::collections::HashMap;

use super::*;
use crate::codec::VideoCodec;
use crate::ts::psi::{crc32_mpeg2, parse_pat, parse_pmt};
use crate::ts::test_util::*;

fn av_tracks() -> Tracks {
    tracks(Some(h264_config()), Some(aac_config()))
}

/// The PES payload bytes of each PES on `pid`, reassembled from packets.
fn pes_on(ts: &[u8], pid: u16) -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = Vec::new();
    for p in packets(ts)
        .into_iter()
        .filter(|p| p.pid == pid && p.has_payload)
    {
        if p.pusi {
            all.push(Vec::new());
        }
        if let Some(last) = all.last_mut() {
            last.extend_from_slice(p.payload);
        }
    }
    all
}

#[test]
fn packets_are_188_bytes_with_continuous_counters_across_segments() {
    let frames = synthetic_frames(Some(VideoCodec::H264), true, 3);
    let ts = mux(&av_tracks(), &frames, 40);
    let mut next: HashMap<u16, u8> = HashMap::new();
    let mut counts: HashMap<u16, usize> = HashMap::new();
    for p in packets(&ts) {
        *counts.entry(p.pid).or_default() += 1;
        if !p.has_payload {
            // PCR-only packets repeat the last counter (13818-1 2.4.3.3).
            assert_eq!(p.pid, PID_VIDEO);
            continue;
        }
        if let Some(&expected) = next.get(&p.pid) {
            assert_eq!(p.cc, expected, "continuity on PID {:#x}", p.pid);
        }
        next.insert(p.pid, (p.cc + 1) & 0x0f);
    }
    let tables = frames.len().div_ceil(40);
    assert_eq!(counts[&PID_PAT], tables);
    assert_eq!(counts[&PID_PMT], tables);
    assert!(
        counts[&PID_VIDEO] > 16 && counts[&PID_AUDIO] > 16,
        "counters wrapped at least once"
    );
}

#[test]
fn tables_have_valid_crc_stream_types_and_pcr_pid() {
    let cases = [
        (
            tracks(Some(h264_config()), Some(aac_config())),
            PID_VIDEO,
            vec![(0x1b, PID_VIDEO), (0x0f, PID_AUDIO)],
        ),
        (
            tracks(Some(hevc_config()), None),
            PID_VIDEO,
            vec![(0x24, PID_VIDEO)],
        ),
        (
            tracks(None, Some(aac_config())),
            PID_AUDIO,
            vec![(0x0f, PID_AUDIO)],
        ),
    ];
    for (tracks, pcr_pid, streams) in cases {
        let mut out = Vec::new();
        TsMuxer::new(&tracks).write_tables(&mut out);
        let pk = packets(&out);
        assert_eq!(pk.len(), 2);
        assert!(pk[0].pusi && pk[0].pid == PID_PAT && pk[1].pid == PID_PMT);
        let section = |p: &Packet| {
            let body = &p.payload[1..]; // pointer_field 0
            body[..3 + (usize::from(body[1] & 0x0f) << 8 | usize::from(body[2]))].to_vec()
        };
        let (pat, pmt) = (section(&pk[0]), section(&pk[1]));
        assert_eq!(crc32_mpeg2(&pat), 0);
        assert_eq!(crc32_mpeg2(&pmt), 0);
        assert_eq!(parse_pat(&pat), Ok(Some(PID_PMT)));
        assert_eq!(u16::from_be_bytes([pmt[8], pmt[9]]) & 0x1fff, pcr_pid);
        let got: Vec<(u8, u16)> = parse_pmt(PID_PMT, &pmt)
            .expect("PMT")
            .iter()
            .map(|s| (s.stream_type, s.pid))
            .collect();
        assert_eq!(got, streams);
    }
}

#[test]
fn key_frames_carry_pcr_rai_aud_and_parameter_sets() {
    let config = h264_config();
    let mut m = TsMuxer::new(&tracks(Some(config.clone()), None));
    let mut out = Vec::new();
    let idr = Frame {
        kind: TrackKind::Video,
        dts: MediaTime(0),
        pts: MediaTime(3000),
        keyframe: true,
        data: nal(&[0x65], &[0x88; 300]).into(),
    };
    let p = Frame {
        dts: MediaTime(3000),
        pts: MediaTime(3000),
        keyframe: false,
        data: nal(&[0x41], &[0x9a; 50]).into(),
        ..idr.clone()
    };
    m.write_frame(&idr, &mut out).expect("mux");
    let first_p = out.len() / PACKET_SIZE;
    m.write_frame(&p, &mut out).expect("mux");
    let pk = packets(&out);
    assert!(
        pk[0].rai() && pk[0].pcr().is_some(),
        "key frame: RAI and PCR"
    );
    assert_eq!(
        pk[0].pcr(),
        Some(126_000 - 63_000),
        "PCR = DTS + 1.4 s - 0.7 s"
    );
    assert!(!pk[first_p].rai());

    let pes = pes_on(&out, PID_VIDEO);
    // PTS 1.4333 s and DTS 1.4 s: flags '11', header length 10.
    assert_eq!(pes[0][..9], [0, 0, 1, 0xe0, 0, 0, 0x84, 0xc0, 10]);
    assert_eq!(
        pes[0][9..19],
        [0x31, 0x00, 0x07, 0xef, 0xd1, 0x11, 0x00, 0x07, 0xd8, 0x61]
    );
    let mut expected = vec![0, 0, 0, 1, 0x09, 0xf0];
    for ps in &config.parameter_sets {
        expected.extend_from_slice(&[0, 0, 0, 1]);
        expected.extend_from_slice(ps);
    }
    expected.extend_from_slice(&[0, 0, 0, 1, 0x65]);
    assert_eq!(pes[0][19..19 + expected.len()], expected[..]);
    assert_eq!(
        pes[0].len(),
        19 + expected.len() + 300,
        "no padding inside the PES"
    );
    // P frame: PTS == DTS so PTS only, AUD, no parameter sets.
    assert_eq!(pes[1][7..9], [0x80, 5]);
    assert_eq!(pes[1][14..21], [0, 0, 0, 1, 0x09, 0xf0, 0]);
    assert_eq!(pes[1][21..25], [0, 0, 1, 0x41]);
}

#[test]
fn in_band_aud_and_parameter_sets_are_not_duplicated() {
    let config = hevc_config();
    let mut m = TsMuxer::new(&tracks(Some(config.clone()), None));
    let mut data = nal(&[0x46, 0x01], &[0x50]);
    for ps in &config.parameter_sets {
        data.extend(nal(ps, &[]));
    }
    data.extend(nal(&[0x26, 0x01], &[0xaa; 40]));
    let f = Frame {
        kind: TrackKind::Video,
        dts: MediaTime(0),
        pts: MediaTime(0),
        keyframe: true,
        data: data.into(),
    };
    let mut out = Vec::new();
    m.write_frame(&f, &mut out).expect("mux");
    let pes = &pes_on(&out, PID_VIDEO)[0];
    let es = &pes[14..];
    let aud_count = es
        .windows(6)
        .filter(|w| w == &[0, 0, 0, 1, 0x46, 0x01])
        .count();
    let vps_count = es.windows(5).filter(|w| w == &[0, 0, 0, 1, 0x40]).count();
    assert_eq!((aud_count, vps_count), (1, 1));
    assert_eq!(
        es[..7],
        [0, 0, 0, 1, 0x46, 0x01, 0x50],
        "the frame's own AUD stays first"
    );
}

#[test]
fn pcr_is_monotonic_and_at_most_100ms_apart_even_with_sparse_video() {
    // 5 fps video (200 ms apart) with audio: PCR-only packets fill the gaps.
    let frames: Vec<Frame> = synthetic_frames(Some(VideoCodec::H264), true, 3)
        .into_iter()
        .filter(|f| !f.is_video() || (f.dts.0 + 3000) % 18_000 == 0)
        .collect();
    for (tracks, frames) in [
        (av_tracks(), frames),
        (
            tracks(None, Some(aac_config())),
            synthetic_frames(None, true, 2),
        ),
        (
            av_tracks(),
            synthetic_frames(Some(VideoCodec::H264), true, 2),
        ),
    ] {
        let ts = mux(&tracks, &frames, 50);
        let pcrs: Vec<u64> = packets(&ts).iter().filter_map(|p| p.pcr()).collect();
        assert!(pcrs.len() > 10);
        for w in pcrs.windows(2) {
            assert!(w[1] >= w[0], "PCR runs forward");
            assert!(w[1] - w[0] <= 9000, "PCR gap {} ticks", w[1] - w[0]);
        }
    }
}

#[test]
fn audio_frames_get_adts_headers() {
    let audio = aac_config();
    let mut m = TsMuxer::new(&tracks(None, Some(audio.clone())));
    let f = Frame {
        kind: TrackKind::Audio,
        dts: MediaTime(900),
        pts: MediaTime(900),
        keyframe: true,
        data: vec![7u8; 10].into(),
    };
    let mut out = Vec::new();
    m.write_frame(&f, &mut out).expect("mux");
    let pes = &pes_on(&out, PID_AUDIO)[0];
    assert_eq!(pes[..9], [0, 0, 1, 0xc0, 0, 8 + 7 + 10, 0x84, 0x80, 5]);
    assert_eq!(pes[14..21], audio.adts_header(10));
    assert_eq!(pes[21..], [7u8; 10]);
}

#[test]
fn rejects_frames_it_cannot_mux() {
    let mut m = TsMuxer::new(&tracks(Some(h264_config()), None));
    let mut out = Vec::new();
    let audio = Frame {
        kind: TrackKind::Audio,
        dts: MediaTime(0),
        pts: MediaTime(0),
        keyframe: true,
        data: vec![1].into(),
    };
    assert_eq!(
        m.write_frame(&audio, &mut out),
        Err(TsError::NoTrack(TrackKind::Audio))
    );
    let bad = Frame {
        kind: TrackKind::Video,
        data: vec![0, 0, 0, 9, 0x65].into(),
        ..audio.clone()
    };
    assert!(matches!(
        m.write_frame(&bad, &mut out),
        Err(TsError::BadFrame { .. })
    ));
    let mut a = TsMuxer::new(&tracks(None, Some(aac_config())));
    let huge = Frame {
        data: vec![1; 9000].into(),
        ..audio
    };
    assert_eq!(
        a.write_frame(&huge, &mut out),
        Err(TsError::AudioFrameTooLong(9000))
    );
    assert!(out.is_empty(), "nothing written for rejected frames");
    assert!(
        m.set_video_config(hevc_config()).is_err(),
        "codec change needs a new muxer"
    );
    assert!(m.set_video_config(h264_config()).is_ok());
}

/// Golden test: a digest of a deterministic synthetic recording (two segments, H.264 +
/// AAC). If this fails, the muxer's bytes changed: if that was on purpose, bump
/// `FORMAT_VERSION` in mux.rs and the digest here together; if not, it is a regression.
#[test]
fn golden_digest() {
    let frames = synthetic_frames(Some(VideoCodec::H264), true, 2);
    let ts = mux(&av_tracks(), &frames, 60);
    assert_eq!(
        (FORMAT_VERSION, ts.len(), fnv1a64(&ts)),
        (1, 114_680, 0x72a4_b45f_79a8_e429)
    );
}

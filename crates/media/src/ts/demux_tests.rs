use super::*;
use crate::frame::Tracks;
use crate::ts::mux::PTS_OFFSET;
use crate::ts::test_util::*;
use crate::ts::{TsMuxer, PID_AUDIO, PID_VIDEO};

fn demux_chunked(ts: &[u8], chunk: usize) -> (Vec<MediaEvent>, TsDemuxer) {
    let mut d = TsDemuxer::new();
    let mut out = Vec::new();
    for c in ts.chunks(chunk) {
        d.push(c, &mut out).expect("clean input");
    }
    d.flush(&mut out).expect("clean input");
    (out, d)
}

/// Configs compare on what a decoder needs: the demuxer rebuilds avcC/hvcC from the
/// parameter sets, so optional trailing record fields (x264's High-profile extension,
/// x265's SEI array) are not expected back.
fn assert_same_video_config(a: &VideoConfig, b: &VideoConfig) {
    assert_eq!(a.codec, b.codec);
    assert_eq!(a.parameter_sets, b.parameter_sets);
    assert_eq!(
        (a.width, a.height, &a.codec_string),
        (b.width, b.height, &b.codec_string)
    );
}

fn round_trip(tracks: &Tracks, frames: &[Frame]) {
    let ts = mux(tracks, frames, 45);
    let (events, d) = demux_chunked(&ts, 4096);
    assert_eq!(d.skipped_bytes(), 0);
    assert_eq!(d.dropped_frames(), 0);
    // Configs come first, once each, before the frames of their track.
    let mut saw_video_config = false;
    let mut saw_audio_config = false;
    for e in &events {
        match e {
            MediaEvent::VideoConfig(c) => {
                assert!(!saw_video_config, "video config emitted once");
                assert_same_video_config(c, tracks.video.as_deref().expect("video track"));
                saw_video_config = true;
            }
            MediaEvent::AudioConfig(c) => {
                assert!(!saw_audio_config, "audio config emitted once");
                assert_eq!(Some(&**c), tracks.audio.as_deref());
                saw_audio_config = true;
            }
            MediaEvent::Frame(f) if f.is_video() => assert!(saw_video_config),
            MediaEvent::Frame(_) => assert!(saw_audio_config),
        }
    }
    // Same data, keyframe flags and timestamps (shifted by the muxer's offset), per track.
    assert_same_frames(&frames_of(&events), &shifted(frames, PTS_OFFSET));
}

#[test]
fn round_trips_h264_and_aac() {
    let frames = synthetic_frames(Some(VideoCodec::H264), true, 2);
    round_trip(&tracks(Some(h264_config()), Some(aac_config())), &frames);
}

#[test]
fn round_trips_hevc_video_only() {
    let frames = synthetic_frames(Some(VideoCodec::H265), false, 2);
    round_trip(&tracks(Some(hevc_config()), None), &frames);
}

#[test]
fn round_trips_audio_only() {
    round_trip(
        &tracks(None, Some(aac_config())),
        &synthetic_frames(None, true, 2),
    );
}

#[test]
fn any_chunking_gives_the_same_events() {
    let frames = synthetic_frames(Some(VideoCodec::H264), true, 1);
    let ts = mux(
        &tracks(Some(h264_config()), Some(aac_config())),
        &frames,
        20,
    );
    let (whole, _) = demux_chunked(&ts, ts.len());
    assert!(frames_of(&whole).len() == frames.len());
    for chunk in [1, 7, 188, 189, 1000] {
        let (events, _) = demux_chunked(&ts, chunk);
        assert!(events == whole, "chunks of {chunk} bytes"); // no Debug dump of payloads
    }
}

#[test]
fn timestamps_unwrap_across_the_33_bit_wrap() {
    // Start 0.5 s before the 2^33 wrap of the PES clock.
    let base = MediaTime(pes::TIMESTAMP_MODULUS - PTS_OFFSET.0 - 45_000);
    let frames: Vec<Frame> = synthetic_frames(Some(VideoCodec::H264), true, 1)
        .into_iter()
        .map(|f| Frame {
            dts: f.dts + base,
            pts: f.pts + base,
            ..f
        })
        .collect();
    let ts = mux(
        &tracks(Some(h264_config()), Some(aac_config())),
        &frames,
        1000,
    );
    let (events, _) = demux_chunked(&ts, 1316);
    let got = frames_of(&events);
    let video: Vec<&Frame> = got.iter().filter(|f| f.is_video()).collect();
    assert_eq!(video.len(), 30);
    assert!(
        video.windows(2).all(|w| w[1].dts > w[0].dts),
        "monotonic across the wrap"
    );
    assert!(video
        .last()
        .is_some_and(|f| f.dts.0 > pes::TIMESTAMP_MODULUS));
    assert_same_frames(&got, &shifted(&frames, PTS_OFFSET));
}

#[test]
fn frames_before_the_first_parameter_sets_are_dropped() {
    // Join mid-GOP: the first key frame (with the parameter sets) is frame 15.
    let frames = synthetic_frames(Some(VideoCodec::H264), false, 1);
    let ts = mux(&tracks(Some(h264_config()), None), &frames[1..], 1000);
    let (events, d) = demux_chunked(&ts, 4096);
    assert_eq!(d.dropped_frames(), 14);
    assert!(matches!(events[0], MediaEvent::VideoConfig(_)));
    let got = frames_of(&events);
    assert_eq!(got.len(), 15);
    assert!(got[0].keyframe);
}

#[test]
fn several_adts_frames_in_one_pes_get_consecutive_times() {
    let config = aac_config();
    let mut m = TsMuxer::new(&tracks(None, Some(config.clone())));
    let mut ts = Vec::new();
    m.write_tables(&mut ts);
    let mut es = Vec::new();
    for i in 0..3u8 {
        es.extend_from_slice(&config.adts_header(4));
        es.extend_from_slice(&[i + 1; 4]);
    }
    let mut pes_bytes = Vec::new();
    pes::write_header(&mut pes_bytes, 0xc0, 90_000, None, Some(es.len()));
    pes_bytes.extend_from_slice(&es);
    packetize_raw(PID_AUDIO, &pes_bytes, &mut 0, &mut ts);
    let (events, _) = demux_chunked(&ts, 188);
    let got = frames_of(&events);
    let times: Vec<i64> = got.iter().map(|f| f.pts.0).collect();
    assert_eq!(times, [90_000, 90_000 + 2090, 90_000 + 4180]);
    assert_eq!(got[2].data[..], [3; 4]);
}

#[test]
fn changed_parameter_sets_emit_a_new_config() {
    let a = h264_config();
    let mut b = (*a).clone();
    // Same SPS, a PPS with another id bit pattern: a new config without a codec change.
    let mut pps = b.parameter_sets[1].to_vec();
    pps.push(0x80);
    b.parameter_sets[1] = pps.into();
    let frames = synthetic_frames(Some(VideoCodec::H264), false, 1);
    let mut m = TsMuxer::new(&tracks(Some(a), None));
    let mut ts = Vec::new();
    m.write_tables(&mut ts);
    for (i, f) in frames.iter().enumerate() {
        if i == 15 {
            m.set_video_config(Arc::new(b.clone())).expect("same codec");
        }
        m.write_frame(f, &mut ts).expect("mux");
    }
    let (events, _) = demux_chunked(&ts, 4096);
    let configs: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, MediaEvent::VideoConfig(_)))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(configs, [0, 16], "second config right before frame 15");
    match &events[16] {
        MediaEvent::VideoConfig(c) => assert_eq!(c.parameter_sets, b.parameter_sets),
        e => panic!("expected a config, got {e:?}"),
    }
}

#[test]
fn resyncs_after_garbage_between_packets() {
    let frames = synthetic_frames(Some(VideoCodec::H264), true, 1);
    let ts = mux(
        &tracks(Some(h264_config()), Some(aac_config())),
        &frames,
        1000,
    );
    let (clean, _) = demux_chunked(&ts, 4096);
    // Garbage (with decoy sync bytes) before the stream and between two packets of the
    // same audio PES would break that PES; put it between whole PES instead.
    let mut dirty = vec![0x47, 1, 2, 0x47, 0x47, 9];
    let cut = 2 * 188;
    dirty.extend_from_slice(&ts[..cut]);
    dirty.extend_from_slice(&[0x47; 3]);
    dirty.extend_from_slice(&[0x55; 400]);
    dirty.extend_from_slice(&ts[cut..]);
    let mut d = TsDemuxer::new();
    let mut out = Vec::new();
    for c in dirty.chunks(7) {
        d.push(c, &mut out)
            .expect("garbage is skipped, not an error");
    }
    d.flush(&mut out).expect("clean end");
    assert_eq!(d.skipped_bytes(), 6 + 403);
    assert_eq!(out, clean);
}

#[test]
fn lost_packet_inside_a_pes_is_a_continuity_error_and_drops_that_frame() {
    let frames = synthetic_frames(Some(VideoCodec::H264), false, 1);
    let mut ts = mux(&tracks(Some(h264_config()), None), &frames, 1000);
    // Remove the second packet of the first video PES (the big key frame).
    let second = packets(&ts)
        .iter()
        .position(|p| p.pid == PID_VIDEO)
        .expect("video")
        + 1;
    ts.drain(second * 188..(second + 1) * 188);
    let mut d = TsDemuxer::new();
    let mut out = Vec::new();
    let err = d.push(&ts, &mut out).expect_err("continuity error");
    assert!(
        matches!(err, TsError::Continuity { pid: PID_VIDEO, .. }),
        "{err}"
    );
    d.flush(&mut out).expect("rest is clean");
    // Frame 0 lost; frames 1..14 have no config yet; the second GOP survives.
    assert_same_frames(&frames_of(&out), &shifted(&frames[15..], PTS_OFFSET));
}

#[test]
fn truncated_input_is_a_typed_error() {
    let frames = synthetic_frames(Some(VideoCodec::H264), true, 1);
    let ts = mux(
        &tracks(Some(h264_config()), Some(aac_config())),
        &frames,
        1000,
    );
    // Whole stream, then the first 88 bytes of another packet.
    let mut cut = ts.clone();
    cut.extend_from_slice(&ts[..88]);
    let mut d = TsDemuxer::new();
    let mut out = Vec::new();
    d.push(&cut, &mut out).expect("whole packets so far");
    assert_eq!(d.flush(&mut out), Err(TsError::TruncatedPacket(88)));
    assert_eq!(
        frames_of(&out).len(),
        frames.len(),
        "everything before the cut is emitted"
    );
    // A PES whose declared length overruns its packets.
    let mut raw = Vec::new();
    TsMuxer::new(&tracks(None, Some(aac_config()))).write_tables(&mut raw);
    let mut pes_bytes = Vec::new();
    pes::write_header(&mut pes_bytes, 0xc0, 0, None, Some(500));
    pes_bytes.extend_from_slice(&[0xff; 100]);
    packetize_raw(PID_AUDIO, &pes_bytes, &mut 0, &mut raw);
    let mut d = TsDemuxer::new();
    d.push(&raw, &mut out)
        .expect("incomplete, not yet an error");
    assert!(matches!(
        d.flush(&mut out),
        Err(TsError::Pes { pid: PID_AUDIO, .. })
    ));
}

#[test]
fn corrupt_psi_and_pes_are_typed_errors() {
    let frames = synthetic_frames(Some(VideoCodec::H264), false, 1);
    let mut ts = mux(&tracks(Some(h264_config()), None), &frames, 1000);
    ts[10] ^= 0xff; // inside the PAT section: its CRC no longer checks
    let mut d = TsDemuxer::new();
    let mut out = Vec::new();
    assert!(matches!(
        d.push(&ts, &mut out),
        Err(TsError::Psi { pid: 0, .. })
    ));
    assert!(
        out.is_empty(),
        "no PMT PID known: every stream PID is unknown and skipped"
    );

    let mut ts = mux(&tracks(Some(h264_config()), None), &frames, 1000);
    let first_video = packets(&ts)
        .iter()
        .position(|p| p.pid == PID_VIDEO)
        .expect("video");
    // Damage the start code of the first PES (after the 4-byte header and 8-byte AF).
    ts[first_video * 188 + 4 + 8] = 0x99;
    let mut d = TsDemuxer::new();
    let mut out = Vec::new();
    assert!(matches!(
        d.push(&ts, &mut out),
        Err(TsError::Pes { pid: PID_VIDEO, .. })
    ));
    d.flush(&mut out).expect("rest is clean");
    assert_eq!(frames_of(&out).len(), 15, "the second GOP survives");
}

/// The first crash of the ts_demux fuzz target, rebuilt by hand: a video PES whose
/// PES_packet_length (2) ends inside its own header.
#[test]
fn pes_length_inside_its_header_is_skipped_not_a_panic() {
    let frames = synthetic_frames(Some(VideoCodec::H264), false, 1);
    let good = mux(&tracks(Some(h264_config()), None), &frames, 1000);
    // PAT and PMT from the muxer, then the bad PES, then the good stream again.
    let mut ts = good[..2 * 188].to_vec();
    let mut cc = 0;
    packetize_raw(
        PID_VIDEO,
        &[0, 0, 1, 0xe0, 0, 2, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1],
        &mut cc,
        &mut ts,
    );
    let mut d = TsDemuxer::new();
    let mut out = Vec::new();
    // The bad PES ends when the next PUSI on its PID arrives, in the muxer's stream.
    let _ = d.push(&ts, &mut out);
    let r = d.push(&good, &mut out);
    assert!(
        matches!(r, Err(TsError::Pes { pid: PID_VIDEO, .. })),
        "{r:?}"
    );
    d.flush(&mut out).expect("rest is clean");
    assert_eq!(
        frames_of(&out).len(),
        frames.len(),
        "the good frames survive"
    );
}

#[test]
fn random_and_mutated_input_never_panics() {
    let mut rng = Rng(0x0bad_cafe_f00d_0001);
    let mut d = TsDemuxer::new();
    let mut out = Vec::new();
    let _ = d.push(&rng.bytes(100_000), &mut out);
    let _ = d.flush(&mut out);
    let frames = synthetic_frames(Some(VideoCodec::H265), true, 1);
    let ts = mux(
        &tracks(Some(hevc_config()), Some(aac_config())),
        &frames,
        10,
    );
    let mut errors = 0;
    for round in 0..300 {
        let mut bad = ts.clone();
        for _ in 0..1 + round % 20 {
            let at = (rng.next() as usize) % bad.len();
            bad[at] = rng.next() as u8;
        }
        if round % 3 == 0 {
            let cut = (rng.next() as usize) % bad.len();
            bad.truncate(cut);
        }
        let mut d = TsDemuxer::new();
        let mut out = Vec::new();
        for c in bad.chunks(1 + round % 500) {
            errors += usize::from(d.push(c, &mut out).is_err());
        }
        errors += usize::from(d.flush(&mut out).is_err());
    }
    assert!(errors > 0, "mutations are noticed");
}

/// A PES with a 5-byte PTS header around `payload`, on `pid`, after the muxer's PAT and
/// PMT for `tracks`.
fn stream_with_pes(tracks: &Tracks, pid: u16, stream_id: u8, payload: &[u8]) -> Vec<u8> {
    let codec = tracks.video.as_ref().map(|v| v.codec);
    let frames = synthetic_frames(codec, tracks.audio.is_some(), 1);
    let good = mux(tracks, &frames, 1000);
    let mut ts = good[..2 * 188].to_vec();
    let mut pes = vec![0, 0, 1, stream_id];
    let len = u16::try_from(payload.len() + 8).unwrap_or(0);
    pes.extend_from_slice(&len.to_be_bytes());
    pes.extend_from_slice(&[0x80, 0x80, 5]);
    crate::ts::pes::write_timestamp(&mut pes, 0b0010, 90_000);
    pes.extend_from_slice(payload);
    let mut cc = 0;
    packetize_raw(pid, &pes, &mut cc, &mut ts);
    ts
}

#[test]
fn an_audio_pes_of_thousands_of_empty_adts_frames_stops_at_the_limit() {
    let config = aac_config();
    let payload: Vec<u8> = std::iter::repeat_n(config.adts_header(0), 2 * MAX_ADTS_FRAMES_PER_PES)
        .flatten()
        .collect();
    let ts = stream_with_pes(&tracks(None, Some(config)), PID_AUDIO, 0xc0, &payload);
    let mut d = TsDemuxer::new();
    let mut out = Vec::new();
    let first = d.push(&ts, &mut out);
    let last = d.flush(&mut out);
    let err = first.err().or(last.err());
    assert!(
        matches!(&err, Some(TsError::Pes { pid: PID_AUDIO, detail }) if detail.contains("ADTS frames")),
        "{err:?}"
    );
    assert_eq!(frames_of(&out).len(), MAX_ADTS_FRAMES_PER_PES);
}

#[test]
fn an_access_unit_of_too_many_parameter_sets_is_refused() {
    // H.264: 300 copies of the PPS in one access unit (the record holds 255).
    let config = h264_config();
    let mut payload = Vec::new();
    for _ in 0..300 {
        payload.extend_from_slice(&[0, 0, 0, 1]);
        payload.extend_from_slice(&config.parameter_sets[1]);
    }
    let ts = stream_with_pes(&tracks(Some(config), None), PID_VIDEO, 0xe0, &payload);
    let mut d = TsDemuxer::new();
    let mut out = Vec::new();
    let first = d.push(&ts, &mut out);
    let last = d.flush(&mut out);
    let err = first.err().or(last.err());
    assert!(
        matches!(&err, Some(TsError::Codec { pid: PID_VIDEO, source: CodecError::Invalid { detail, .. } })
            if detail.contains("more than 255 PPS in one access unit")),
        "{err:?}"
    );
    assert!(out.is_empty());
}

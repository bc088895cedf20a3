//! A minimal RTMP publisher for media ffmpeg 5.1 cannot publish (HEVC): media events are
//! sent as FLV tag bodies over an `rml_rtmp` client session on a blocking socket.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult, PublishRequestType,
};
use rml_rtmp::time::RtmpTimestamp;
use tapedeck_media::flv::tag;
use tapedeck_media::{MediaEvent, VideoCodec};

/// How HEVC goes on the wire.
#[derive(Clone, Copy, Debug)]
pub enum HevcSignalling {
    /// Enhanced RTMP: `IsExHeader` + FourCC `hvc1` (OBS 29.1+, ffmpeg 6.1+).
    Enhanced,
    /// The de-facto legacy codec id 12.
    LegacyId12,
}

fn write_results(
    socket: &mut TcpStream,
    results: Vec<ClientSessionResult>,
) -> Vec<ClientSessionEvent> {
    let mut events = Vec::new();
    for r in results {
        match r {
            ClientSessionResult::OutboundResponse(p) => {
                socket.write_all(&p.bytes).expect("writing to tapedeck")
            }
            ClientSessionResult::RaisedEvent(e) => events.push(e),
            ClientSessionResult::UnhandleableMessageReceived(_) => {}
        }
    }
    events
}

fn legacy_hevc(body: &Bytes) -> Bytes {
    // Enhanced header (1 byte flags + 4 FourCC) -> legacy (codec id 12, AVCPacketType).
    let frame_type = (body[0] >> 4) & 7;
    let packet_type = body[0] & 0x0f;
    let mut out = vec![frame_type << 4 | 12, if packet_type == 0 { 0 } else { 1 }];
    if packet_type == 0 {
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(&body[5..]);
    } else {
        out.extend_from_slice(&body[5..]); // composition time + NAL units
    }
    Bytes::from(out)
}

/// Publishes `events` to `rtmp://127.0.0.1:port/app/stream`, paced at real time.
pub fn publish(port: u16, app: &str, stream: &str, events: &[MediaEvent], hevc: HevcSignalling) {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).expect("connecting to tapedeck");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut handshake = Handshake::new(PeerType::Client);
    socket
        .write_all(&handshake.generate_outbound_p0_and_p1().unwrap())
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let leftover = loop {
        let n = socket.read(&mut buf).expect("handshake");
        assert!(n > 0, "tapedeck closed during the handshake");
        match handshake.process_bytes(&buf[..n]).unwrap() {
            HandshakeProcessResult::InProgress { response_bytes } => {
                socket.write_all(&response_bytes).unwrap()
            }
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => {
                socket.write_all(&response_bytes).unwrap();
                break remaining_bytes;
            }
        }
    };
    let (mut session, initial) = ClientSession::new(ClientSessionConfig::new()).unwrap();
    write_results(&mut socket, initial);
    let connect = session.request_connection(app.to_string()).unwrap();
    write_results(&mut socket, vec![connect]);
    let mut pending = leftover;
    let mut publishing = false;
    while !publishing {
        if pending.is_empty() {
            let n = socket
                .read(&mut buf)
                .expect("waiting for connect/publish answers");
            assert!(n > 0, "tapedeck closed the connection");
            pending.extend_from_slice(&buf[..n]);
        }
        let results = session.handle_input(&pending).unwrap();
        pending.clear();
        for ev in write_results(&mut socket, results) {
            match ev {
                ClientSessionEvent::ConnectionRequestAccepted => {
                    let r = session
                        .request_publishing(stream.to_string(), PublishRequestType::Live)
                        .unwrap();
                    write_results(&mut socket, vec![r]);
                }
                ClientSessionEvent::PublishRequestAccepted => publishing = true,
                _ => {}
            }
        }
    }
    let first = events
        .iter()
        .find_map(|e| {
            if let MediaEvent::Frame(f) = e {
                Some(f.dts)
            } else {
                None
            }
        })
        .expect("frames");
    let start = std::time::Instant::now();
    let mut video_codec = VideoCodec::H264;
    for ev in events {
        let (video, body, ts) = match ev {
            MediaEvent::VideoConfig(c) => {
                video_codec = c.codec;
                (true, tag::encode_video_config(c), 0)
            }
            MediaEvent::AudioConfig(c) => (false, tag::encode_audio_config(c), 0),
            MediaEvent::Frame(f) => {
                let ms = (f.dts - first).as_millis().max(0) as u64;
                let due = Duration::from_millis(ms);
                if let Some(wait) = due.checked_sub(start.elapsed()) {
                    std::thread::sleep(wait);
                }
                if f.is_video() {
                    (true, tag::encode_video_frame(video_codec, f), ms as u32)
                } else {
                    (false, tag::encode_audio_frame(f), ms as u32)
                }
            }
        };
        let body = if video
            && video_codec == VideoCodec::H265
            && matches!(hevc, HevcSignalling::LegacyId12)
        {
            legacy_hevc(&body)
        } else {
            body
        };
        let result = if video {
            session.publish_video_data(body, RtmpTimestamp::new(ts), false)
        } else {
            session.publish_audio_data(body, RtmpTimestamp::new(ts), false)
        };
        write_results(&mut socket, vec![result.unwrap()]);
    }
    if let Ok(r) = session.stop_publishing() {
        write_results(&mut socket, r);
    }
}

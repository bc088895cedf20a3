//! A raw RTMP client for tests that send what real publishers never do: connects,
//! completes the handshake, publishes with `rml_rtmp`'s client, and reads until the
//! server closes.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult, PublishRequestType,
};

pub fn connect(port: u16) -> (TcpStream, String) {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connecting");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let me = s.local_addr().unwrap().to_string();
    (s, me)
}

/// Completes the RTMP handshake as a client; returns bytes the server sent past it.
pub fn handshake(s: &mut TcpStream) -> Vec<u8> {
    let mut hs = Handshake::new(PeerType::Client);
    s.write_all(&hs.generate_outbound_p0_and_p1().unwrap())
        .unwrap();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).expect("handshake reply");
        assert!(n > 0, "server closed during the handshake");
        match hs.process_bytes(&buf[..n]).unwrap() {
            HandshakeProcessResult::InProgress { response_bytes } => {
                s.write_all(&response_bytes).unwrap()
            }
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => {
                s.write_all(&response_bytes).unwrap();
                return remaining_bytes;
            }
        }
    }
}

/// Reads until the server closes the connection; false if it is still open after `secs`.
pub fn closed_by_server(s: &mut TcpStream, secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            // Reset: the server closed with our bytes unread, which is a close too.
            Err(_) => return true,
        }
    }
    false
}

/// A fixed xorshift stream: random-looking bytes that are the same on every run.
pub fn noise(mut x: u64, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The server's log lines that name this client.
pub fn lines_of(log: &str, peer: &str) -> String {
    log.lines()
        .filter(|l| l.contains(peer))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn out(r: ClientSessionResult) -> Vec<u8> {
    match r {
        ClientSessionResult::OutboundResponse(p) => p.bytes,
        _ => Vec::new(),
    }
}

/// Connects, publishes `live/<stream>` with rml_rtmp's client, and returns the session.
pub fn publish(s: &mut TcpStream, stream: &str) -> ClientSession {
    let leftover = handshake(s);
    let (mut client, _) = ClientSession::new(ClientSessionConfig::new()).unwrap();
    s.write_all(&out(client.request_connection("live".into()).unwrap()))
        .unwrap();
    let mut incoming = leftover;
    let mut buf = [0u8; 8192];
    loop {
        for r in client.handle_input(&incoming).unwrap() {
            match r {
                ClientSessionResult::OutboundResponse(p) => s.write_all(&p.bytes).unwrap(),
                ClientSessionResult::RaisedEvent(ClientSessionEvent::ConnectionRequestAccepted) => {
                    let r = client
                        .request_publishing(stream.into(), PublishRequestType::Live)
                        .unwrap();
                    s.write_all(&out(r)).unwrap();
                }
                ClientSessionResult::RaisedEvent(ClientSessionEvent::PublishRequestAccepted) => {
                    return client
                }
                _ => {}
            }
        }
        let n = s.read(&mut buf).expect("publish handshake reply");
        assert!(n > 0, "server closed while publishing {stream}");
        incoming = buf[..n].to_vec();
    }
}

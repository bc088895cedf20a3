//! The few messages `rml_rtmp`'s server session cannot send for us.
//!
//! They go out as single type-0 chunks on chunk stream 8, which `rml_rtmp` never uses
//! (it picks 2-6 by message type). A full header on a stream of our own cannot disturb
//! the header compression of the session's own chunk streams. Payloads stay under 128
//! bytes, the smallest chunk size a peer can have, so one chunk always suffices.

use rml_amf0::Amf0Value;

const CSID: u8 = 8;
const TYPE_AMF0_COMMAND: u8 = 20;

/// An AMF0 command message as one chunk.
pub(crate) fn command(stream_id: u32, values: Vec<Amf0Value>) -> Vec<u8> {
    let payload = rml_amf0::serialize(&values).unwrap_or_default();
    let len = payload.len() as u32;
    let mut out = Vec::with_capacity(12 + payload.len());
    out.push(CSID); // fmt 0
    out.extend_from_slice(&[0, 0, 0]); // timestamp
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(TYPE_AMF0_COMMAND);
    out.extend_from_slice(&stream_id.to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// `onFCPublish` after `FCPublish`: some hardware encoders wait for it before publishing.
pub(crate) fn on_fc_publish(stream_name: &str) -> Vec<u8> {
    let mut info = std::collections::HashMap::new();
    info.insert(
        "code".to_string(),
        Amf0Value::Utf8String("NetStream.Publish.Start".into()),
    );
    info.insert(
        "description".to_string(),
        Amf0Value::Utf8String(stream_name.to_string()),
    );
    command(
        0,
        vec![
            Amf0Value::Utf8String("onFCPublish".into()),
            Amf0Value::Number(0.0),
            Amf0Value::Null,
            Amf0Value::Object(info),
        ],
    )
}

/// `_result` for a command the session does not answer itself (releaseStream, FCPublish).
pub(crate) fn result(transaction_id: f64) -> Vec<u8> {
    command(
        0,
        vec![
            Amf0Value::Utf8String("_result".into()),
            Amf0Value::Number(transaction_id),
            Amf0Value::Null,
            Amf0Value::Undefined,
        ],
    )
}

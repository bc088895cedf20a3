//! AMF0 in RTMP messages (commands and data), read with limits.
//!
//! Before the decoder (recursive, from the media crate, with its own depth limit) sees a
//! message, [`amf0::prescan`] walks it without recursion and refuses one nested deeper than
//! 32 levels or holding more than [`MAX_VALUES`] values: a `connect` whose command object
//! nests strict arrays 500,000 levels deep is refused in one pass over its bytes, and no
//! message turns into more than a bounded number of decoded values (each one byte on the
//! wire but 32 in memory).

use tapedeck_media::flv::amf0::{self, Amf0Error, Amf0Value};

/// Values allowed in one message: `onMetaData` has about 20, `connect` about 10.
pub const MAX_VALUES: usize = 4096;

/// The AMF0 values of a message body, after [`amf0::prescan`]. Decoding stops at the first
/// value the decoder cannot read (a marker it does not know, a truncated value): the values
/// before it are kept, which is all a command needs. Only a limit is an error.
pub fn decode(data: &[u8]) -> Result<Vec<Amf0Value>, Amf0Error> {
    amf0::prescan(data, MAX_VALUES)?;
    let mut values = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        match Amf0Value::decode(&data[pos..]) {
            Ok((value, used)) => {
                values.push(value);
                pos += used;
            }
            Err(Amf0Error::TooDeep { offset }) => {
                return Err(Amf0Error::TooDeep {
                    offset: pos + offset,
                })
            }
            Err(Amf0Error::TooManyValues { offset }) => {
                return Err(Amf0Error::TooManyValues {
                    offset: pos + offset,
                })
            }
            Err(_) => break,
        }
    }
    Ok(values)
}

/// The body of an AMF message: type 17 and 15 ("AMF3") messages start with a format byte
/// 0x00, then AMF0 in practice (REFERENCE.md section 5).
pub fn body(type_id: u8, payload: &[u8]) -> &[u8] {
    match (type_id, payload.first()) {
        (super::chunk::kind::COMMAND_AMF3 | super::chunk::kind::DATA_AMF3, Some(0)) => {
            &payload[1..]
        }
        _ => payload,
    }
}

/// A command: its name, transaction id, command object and further arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    pub name: String,
    pub transaction: f64,
    pub object: Amf0Value,
    pub args: Vec<Amf0Value>,
}

impl Command {
    /// `None` when the values do not start with a name (not a command we can answer).
    pub fn from_values(values: Vec<Amf0Value>) -> Option<Command> {
        let mut it = values.into_iter();
        let name = match it.next()? {
            Amf0Value::String(s) => s,
            _ => return None,
        };
        let transaction = it.next().and_then(|v| v.as_f64()).unwrap_or(0.0);
        let object = it.next().unwrap_or(Amf0Value::Null);
        Some(Command {
            name,
            transaction,
            object,
            args: it.collect(),
        })
    }

    /// The first argument as a string (a stream name).
    pub fn string_arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).and_then(Amf0Value::as_str)
    }
}

/// Encodes values one after the other (a command or data message body).
pub fn encode(values: &[Amf0Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        v.encode(&mut out);
    }
    out
}

/// `{level, code, description}`, the object of `onStatus` and of `_result` to `connect`.
pub fn status(level: &str, code: &str, description: &str) -> Vec<(String, Amf0Value)> {
    vec![
        ("level".into(), Amf0Value::String(level.into())),
        ("code".into(), Amf0Value::String(code.into())),
        ("description".into(), Amf0Value::String(description.into())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `depth` containers of one value each, each inside the previous, around a null.
    fn nested(marker: u8, depth: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..depth {
            match marker {
                0x0a => out.extend_from_slice(&[0x0a, 0, 0, 0, 1]),
                0x03 => out.extend_from_slice(&[0x03, 0, 1, b'a']),
                _ => out.extend_from_slice(&[0x08, 0, 0, 0, 1, 0, 1, b'a']),
            }
        }
        out.push(0x05);
        if marker != 0x0a {
            for _ in 0..depth {
                out.extend_from_slice(&[0, 0, 0x09]);
            }
        }
        out
    }

    #[test]
    fn deep_nesting_and_floods_of_values_are_refused() {
        for marker in [0x0a, 0x03, 0x08] {
            // Half a million levels: a recursive decoder would overflow any thread's stack.
            assert!(
                matches!(
                    decode(&nested(marker, 500_000)),
                    Err(Amf0Error::TooDeep { .. })
                ),
                "marker {marker}"
            );
            // What real publishers send passes.
            assert_eq!(decode(&nested(marker, 3)).map(|v| v.len()), Ok(1));
        }
        let mut flood = vec![0x0a, 0xff, 0xff, 0xff, 0xff];
        flood.extend(std::iter::repeat_n(0x05, 100_000));
        assert!(matches!(
            decode(&flood),
            Err(Amf0Error::TooManyValues { .. })
        ));
    }

    #[test]
    fn a_command_decodes_up_to_what_the_decoder_knows() {
        let mut bytes = encode(&[
            Amf0Value::String("connect".into()),
            Amf0Value::Number(1.0),
            Amf0Value::Object(vec![("app".into(), Amf0Value::String("live".into()))]),
        ]);
        // An AVM+ marker (AMF3 follows): the values before it are the command.
        bytes.extend_from_slice(&[0x11, 0x04, 0x01]);
        let c = Command::from_values(decode(&bytes).unwrap()).unwrap();
        assert_eq!(c.name, "connect");
        assert_eq!(c.transaction, 1.0);
        assert_eq!(
            c.object.get("app").and_then(Amf0Value::as_str),
            Some("live")
        );
        assert!(c.args.is_empty());
        assert_eq!(body(17, &[0, 5]), &[5]);
        assert_eq!(body(20, &[0, 5]), &[0, 5]);
    }

    #[test]
    fn truncated_and_garbage_input_never_panics() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..3000usize {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let bytes: Vec<u8> = (0..len % 97)
                .map(|i| (seed >> (i % 8 * 8)) as u8 % 14)
                .collect();
            let _ = decode(&bytes);
        }
    }
}

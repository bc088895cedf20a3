//! AMF0 in RTMP messages (commands and data), read with limits.
//!
//! Before the decoder (recursive, from the media crate) sees a message, [`prescan`] walks it
//! without recursion and refuses one nested deeper than [`MAX_DEPTH`] or holding more than
//! [`MAX_VALUES`] values: a `connect` whose command object nests strict arrays 500,000
//! levels deep is refused in one pass over its bytes, with a few bytes of stack, and no
//! message can turn into more than a bounded number of decoded values (each one byte on
//! the wire but 40 in memory).

use tapedeck_media::flv::amf0::{Amf0Error, Amf0Value};

/// Nesting allowed: OBS, ffmpeg and GStreamer send two levels at most; the media crate's
/// decoder stops at 32 as well.
pub const MAX_DEPTH: usize = 32;
/// Values allowed in one message: `onMetaData` has about 20, `connect` about 10.
pub const MAX_VALUES: usize = 4096;

/// A message over the limits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmfLimit {
    #[error("AMF0 nested deeper than {MAX_DEPTH} levels (at byte {offset})")]
    TooDeep { offset: usize },
    #[error("more than {MAX_VALUES} AMF0 values in one message")]
    TooManyValues,
}

const NUMBER: u8 = 0x00;
const BOOLEAN: u8 = 0x01;
const STRING: u8 = 0x02;
const OBJECT: u8 = 0x03;
const NULL: u8 = 0x05;
const UNDEFINED: u8 = 0x06;
const REFERENCE: u8 = 0x07;
const ECMA_ARRAY: u8 = 0x08;
const OBJECT_END: u8 = 0x09;
const STRICT_ARRAY: u8 = 0x0a;
const DATE: u8 = 0x0b;
const LONG_STRING: u8 = 0x0c;
const XML_DOCUMENT: u8 = 0x0f;
const TYPED_OBJECT: u8 = 0x10;

/// An open container while scanning.
enum Open {
    /// Object, ECMA array or typed object: key/value pairs until the end marker.
    Properties,
    /// Strict array: this many values still to come.
    Items(u32),
}

/// Walks the AMF0 values of `data` with an explicit stack, counting values and nesting.
/// It stops quietly at the end of the input, at a truncated value or at a marker it does
/// not know (the decoder reports those); it fails only on a limit.
pub fn prescan(data: &[u8]) -> Result<(), AmfLimit> {
    let mut pos = 0usize;
    let mut stack: Vec<Open> = Vec::new();
    let mut values = 0usize;
    // Reads `n` bytes; `None` ends the scan (truncated).
    let skip = |pos: &mut usize, n: usize| -> Option<()> {
        let end = pos.checked_add(n)?;
        (end <= data.len()).then(|| *pos = end)
    };
    let u16_at = |pos: usize| -> Option<usize> {
        Some(usize::from(u16::from_be_bytes([
            *data.get(pos)?,
            *data.get(pos + 1)?,
        ])))
    };
    let u32_at = |pos: usize| -> Option<u32> {
        Some(u32::from_be_bytes([
            *data.get(pos)?,
            *data.get(pos + 1)?,
            *data.get(pos + 2)?,
            *data.get(pos + 3)?,
        ]))
    };
    loop {
        // Where the next value comes from: the top container, or the top level.
        match stack.last_mut() {
            Some(Open::Items(0)) => {
                stack.pop();
                continue;
            }
            Some(Open::Items(n)) => *n -= 1,
            Some(Open::Properties) => {
                let Some(len) = u16_at(pos) else {
                    return Ok(());
                };
                if len == 0 && data.get(pos + 2) == Some(&OBJECT_END) {
                    pos += 3;
                    stack.pop();
                    continue;
                }
                if skip(&mut pos, 2 + len).is_none() {
                    return Ok(());
                }
            }
            None => {
                if pos >= data.len() {
                    return Ok(());
                }
            }
        }
        let Some(&marker) = data.get(pos) else {
            return Ok(());
        };
        let offset = pos;
        pos += 1;
        values += 1;
        if values > MAX_VALUES {
            return Err(AmfLimit::TooManyValues);
        }
        let open = match marker {
            NUMBER | DATE => {
                let n = if marker == DATE { 10 } else { 8 };
                skip(&mut pos, n).map(|()| None)
            }
            BOOLEAN => skip(&mut pos, 1).map(|()| None),
            REFERENCE => skip(&mut pos, 2).map(|()| None),
            STRING => u16_at(pos).and_then(|len| skip(&mut pos, 2 + len).map(|()| None)),
            LONG_STRING | XML_DOCUMENT => u32_at(pos)
                .and_then(|len| skip(&mut pos, 4usize.checked_add(len as usize)?).map(|()| None)),
            NULL | UNDEFINED => Some(None),
            OBJECT => Some(Some(Open::Properties)),
            ECMA_ARRAY => skip(&mut pos, 4).map(|()| Some(Open::Properties)),
            TYPED_OBJECT => {
                u16_at(pos).and_then(|len| skip(&mut pos, 2 + len).map(|()| Some(Open::Properties)))
            }
            STRICT_ARRAY => {
                u32_at(pos).and_then(|count| skip(&mut pos, 4).map(|()| Some(Open::Items(count))))
            }
            // Object end out of place, AVM+ (AMF3 follows), unknown: the decoder says.
            _ => None,
        };
        match open {
            None => return Ok(()),
            Some(None) => {}
            Some(Some(container)) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(AmfLimit::TooDeep { offset });
                }
                stack.push(container);
            }
        }
    }
}

/// The AMF0 values of a message body, after [`prescan`]. Decoding stops at the first value
/// the decoder cannot read (a marker it does not know, a truncated value): the values before
/// it are kept, which is all a command needs.
pub fn decode(data: &[u8]) -> Result<Vec<Amf0Value>, AmfLimit> {
    prescan(data)?;
    let mut values = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        match Amf0Value::decode(&data[pos..]) {
            Ok((value, used)) => {
                values.push(value);
                pos += used;
            }
            Err(Amf0Error::TooDeep { offset }) => {
                return Err(AmfLimit::TooDeep {
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
                STRICT_ARRAY => out.extend_from_slice(&[STRICT_ARRAY, 0, 0, 0, 1]),
                OBJECT => out.extend_from_slice(&[OBJECT, 0, 1, b'a']),
                _ => out.extend_from_slice(&[ECMA_ARRAY, 0, 0, 0, 1, 0, 1, b'a']),
            }
        }
        out.push(NULL);
        if marker != STRICT_ARRAY {
            for _ in 0..depth {
                out.extend_from_slice(&[0, 0, OBJECT_END]);
            }
        }
        out
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        for marker in [STRICT_ARRAY, OBJECT, ECMA_ARRAY] {
            // Half a million levels: a recursive decoder would overflow any thread's stack.
            let bytes = nested(marker, 500_000);
            assert!(
                matches!(prescan(&bytes), Err(AmfLimit::TooDeep { .. })),
                "marker {marker}"
            );
            assert!(matches!(decode(&bytes), Err(AmfLimit::TooDeep { .. })));
            // What real publishers send passes.
            assert_eq!(prescan(&nested(marker, 3)), Ok(()));
            assert_eq!(decode(&nested(marker, 3)).map(|v| v.len()), Ok(1));
        }
    }

    #[test]
    fn a_flood_of_tiny_values_is_refused() {
        // A strict array announcing 4 billion nulls, with 100,000 of them present.
        let mut bytes = vec![STRICT_ARRAY, 0xff, 0xff, 0xff, 0xff];
        bytes.extend(std::iter::repeat_n(NULL, 100_000));
        assert_eq!(prescan(&bytes), Err(AmfLimit::TooManyValues));
        // Many top-level values count too.
        assert_eq!(
            prescan(&vec![NULL; MAX_VALUES + 1]),
            Err(AmfLimit::TooManyValues)
        );
        assert_eq!(prescan(&vec![NULL; MAX_VALUES]), Ok(()));
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

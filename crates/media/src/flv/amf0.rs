//! AMF0 (Adobe "Action Message Format 0" specification, section 2), as FLV script tags
//! carry it.
//!
//! Written by hand rather than with `rml_amf0` because that crate keeps object properties
//! in a `HashMap`: the order of keys in `onMetaData` would change from run to run, and the
//! golden digest of a finalized file must not. Properties here are a `Vec` of pairs, kept
//! in the order given.
//!
//! Every AMF0 number is an 8-byte double, so an encoded value's size depends only on its
//! shape (keys, strings, array lengths), never on its numbers: the FLV finalizer relies on
//! this to place `keyframes.filepositions` that point past the metadata itself.

/// One AMF0 value. Unsupported markers (reference, typed object, AMF3 switch...) are
/// decoding errors: FLV metadata does not use them.
#[derive(Clone, Debug, PartialEq)]
pub enum Amf0Value {
    Number(f64),
    Boolean(bool),
    String(String),
    /// An anonymous object (marker 0x03): ordered properties.
    Object(Vec<(String, Amf0Value)>),
    Null,
    Undefined,
    /// An ECMA (associative) array (marker 0x08): what `onMetaData` carries.
    EcmaArray(Vec<(String, Amf0Value)>),
    StrictArray(Vec<Amf0Value>),
    /// Milliseconds since the Unix epoch; the time zone field is reserved (section 2.13).
    Date(f64),
}

const NUMBER: u8 = 0x00;
const BOOLEAN: u8 = 0x01;
const STRING: u8 = 0x02;
const OBJECT: u8 = 0x03;
const NULL: u8 = 0x05;
const UNDEFINED: u8 = 0x06;
const ECMA_ARRAY: u8 = 0x08;
const OBJECT_END: u8 = 0x09;
const STRICT_ARRAY: u8 = 0x0a;
const DATE: u8 = 0x0b;
const LONG_STRING: u8 = 0x0c;

/// Nesting allowed when decoding: metadata is two levels deep (`keyframes.times`); the
/// limit keeps a hostile script tag from overflowing the stack. Checked before recursing.
const MAX_DEPTH: usize = 32;

/// Values one decode call may produce (nested ones included). A value takes one byte of
/// input but 32 bytes of memory (a property 56), so a 16 MiB script tag of one-byte nulls
/// would otherwise become half a gigabyte. Our own `keyframes` index of a 24-hour
/// recording with a key frame a second is about 173,000 values.
pub const MAX_VALUES: usize = 1 << 20;

/// Elements reserved up front for a strict array, whatever its count says: the count is
/// not trusted, and a longer array grows as its elements actually decode.
const RESERVE_MAX: usize = 4096;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Amf0Error {
    #[error("AMF0 value truncated at byte {offset}")]
    Truncated { offset: usize },
    #[error("AMF0 marker 0x{marker:02x} at byte {offset} is not supported")]
    UnsupportedMarker { offset: usize, marker: u8 },
    #[error("AMF0 string at byte {offset} is not UTF-8")]
    BadUtf8 { offset: usize },
    #[error("AMF0 value nested deeper than {MAX_DEPTH} levels at byte {offset}")]
    TooDeep { offset: usize },
    #[error("AMF0 input holds more than {MAX_VALUES} values (at byte {offset})")]
    TooManyValues { offset: usize },
}

impl Amf0Value {
    /// Looks up a property of an object or ECMA array (first match).
    pub fn get(&self, key: &str) -> Option<&Amf0Value> {
        match self {
            Amf0Value::Object(props) | Amf0Value::EcmaArray(props) => {
                props.iter().find(|(k, _)| k == key).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Amf0Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Amf0Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Amf0Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Amf0Value]> {
        match self {
            Amf0Value::StrictArray(v) => Some(v),
            _ => None,
        }
    }

    /// Appends this value's encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Amf0Value::Number(n) => {
                out.push(NUMBER);
                out.extend_from_slice(&n.to_be_bytes());
            }
            Amf0Value::Boolean(b) => out.extend_from_slice(&[BOOLEAN, u8::from(*b)]),
            Amf0Value::String(s) => encode_string(s, out),
            Amf0Value::Object(props) => {
                out.push(OBJECT);
                encode_properties(props, out);
            }
            Amf0Value::Null => out.push(NULL),
            Amf0Value::Undefined => out.push(UNDEFINED),
            Amf0Value::EcmaArray(props) => {
                out.push(ECMA_ARRAY);
                // The count is advisory (readers go by the end marker), but players such as
                // flv.js read it, so it is the real one.
                out.extend_from_slice(&(props.len() as u32).to_be_bytes());
                encode_properties(props, out);
            }
            Amf0Value::StrictArray(items) => {
                out.push(STRICT_ARRAY);
                out.extend_from_slice(&(items.len() as u32).to_be_bytes());
                for item in items {
                    item.encode(out);
                }
            }
            Amf0Value::Date(ms) => {
                out.push(DATE);
                out.extend_from_slice(&ms.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
            }
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Decodes one value from the start of `input`; returns it and the bytes consumed.
    pub fn decode(input: &[u8]) -> Result<(Amf0Value, usize), Amf0Error> {
        let mut d = Decoder::new(input);
        let v = d.value(0)?;
        Ok((v, d.pos))
    }

    /// Decodes every value in `input` (a script tag body: a name, then its arguments).
    pub fn decode_all(input: &[u8]) -> Result<Vec<Amf0Value>, Amf0Error> {
        let mut d = Decoder::new(input);
        let mut values = Vec::new();
        while d.pos < input.len() {
            values.push(d.value(0)?);
        }
        Ok(values)
    }
}

/// Checks, without recursing, that the AMF0 values in `input` nest at most 32 containers
/// deep (the limit [`Amf0Value::decode`] applies) and number at most `max_values`, the way
/// a recursive decoder would walk them: objects, ECMA arrays and strict arrays (a strict
/// array also ends at an object-end marker, as `rml_amf0` reads it). The scan stops
/// without error where the input ends or holds a marker no decoder here reads; only
/// nesting and the count are judged.
///
/// The RTMP server and pull run it on every command and data message with a budget far
/// below [`MAX_VALUES`] (a command has a dozen values), before decoding.
///
/// For decoders that recurse without a limit: `rml_amf0` 0.3, which `rml_rtmp` runs on
/// every RTMP command and data message, overflows the stack (aborting the process, which
/// `catch_unwind` cannot stop) on a message of a few hundred thousand nested arrays, found
/// by the `amf0` fuzz target. Call this on a message payload before handing it to one.
pub fn prescan(input: &[u8], max_values: usize) -> Result<(), Amf0Error> {
    enum Open {
        /// An object or ECMA array: properties until an empty name and 0x09.
        Properties,
        /// A strict array with this many elements left.
        Items(u32),
    }
    let mut stack: Vec<Open> = Vec::new();
    let mut pos = 0usize;
    let mut values = 0usize;
    let at = |pos: usize, n: usize| input.get(pos..pos.checked_add(n)?);
    loop {
        // What comes next: a property name, an array element or a top-level value.
        match stack.last_mut() {
            Some(Open::Properties) => {
                let Some(len) = at(pos, 2) else { return Ok(()) };
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                pos += 2;
                if len == 0 && input.get(pos) == Some(&OBJECT_END) {
                    pos += 1;
                    stack.pop();
                    continue;
                }
                // Otherwise a name (an empty one too, as the decoder reads it) and a value.
                pos = pos.saturating_add(len);
            }
            Some(Open::Items(0)) => {
                stack.pop();
                continue;
            }
            Some(Open::Items(n)) => *n -= 1,
            None => {}
        }
        let Some(&marker) = input.get(pos) else {
            return Ok(());
        };
        values += 1;
        if values > max_values {
            return Err(Amf0Error::TooManyValues { offset: pos });
        }
        pos += 1;
        let skip = match marker {
            NUMBER => 8,
            BOOLEAN => 1,
            NULL | UNDEFINED => 0,
            DATE => 10,
            STRING => match at(pos, 2) {
                Some(b) => 2 + usize::from(u16::from_be_bytes([b[0], b[1]])),
                None => return Ok(()),
            },
            LONG_STRING => match at(pos, 4) {
                Some(b) => {
                    4usize.saturating_add(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
                }
                None => return Ok(()),
            },
            OBJECT_END => match stack.last() {
                // rml_amf0 ends a strict array early at an object-end marker.
                Some(Open::Items(_)) => {
                    stack.pop();
                    continue;
                }
                _ => return Ok(()),
            },
            OBJECT | ECMA_ARRAY | STRICT_ARRAY => {
                let open = match marker {
                    OBJECT => Open::Properties,
                    ECMA_ARRAY => {
                        pos += 4;
                        Open::Properties
                    }
                    _ => match at(pos, 4) {
                        Some(b) => {
                            pos += 4;
                            Open::Items(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                        }
                        None => return Ok(()),
                    },
                };
                stack.push(open);
                if stack.len() > MAX_DEPTH {
                    return Err(Amf0Error::TooDeep { offset: pos });
                }
                0
            }
            _ => return Ok(()),
        };
        pos = pos.saturating_add(skip);
    }
}

/// Strings of 64 KiB and more need the long-string marker (section 2.14).
fn encode_string(s: &str, out: &mut Vec<u8>) {
    if let Ok(len) = u16::try_from(s.len()) {
        out.push(STRING);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(LONG_STRING);
        out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

/// Property names have a 16-bit length and no marker (UTF-8-empty ends the list). Names are
/// ours and short; a longer one is cut at a character boundary rather than corrupting the
/// stream.
fn encode_key(key: &str, out: &mut Vec<u8>) {
    let mut end = key.len().min(usize::from(u16::MAX));
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&(end as u16).to_be_bytes());
    out.extend_from_slice(&key.as_bytes()[..end]);
}

fn encode_properties(props: &[(String, Amf0Value)], out: &mut Vec<u8>) {
    for (k, v) in props {
        encode_key(k, out);
        v.encode(out);
    }
    out.extend_from_slice(&[0, 0, OBJECT_END]);
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    /// Values decoded so far, against [`MAX_VALUES`].
    values: usize,
}

impl<'a> Decoder<'a> {
    fn new(input: &'a [u8]) -> Self {
        Decoder {
            input,
            pos: 0,
            values: 0,
        }
    }

    fn take(&mut self, n: usize) -> Result<&[u8], Amf0Error> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(Amf0Error::Truncated { offset: self.pos })?;
        let bytes = self
            .input
            .get(self.pos..end)
            .ok_or(Amf0Error::Truncated { offset: self.pos })?;
        self.pos = end;
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, Amf0Error> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, Amf0Error> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, Amf0Error> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn f64(&mut self) -> Result<f64, Amf0Error> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_be_bytes(a))
    }

    fn utf8(&mut self, len: usize) -> Result<String, Amf0Error> {
        let offset = self.pos;
        let b = self.take(len)?;
        String::from_utf8(b.to_vec()).map_err(|_| Amf0Error::BadUtf8 { offset })
    }

    fn value(&mut self, depth: usize) -> Result<Amf0Value, Amf0Error> {
        if depth > MAX_DEPTH {
            return Err(Amf0Error::TooDeep { offset: self.pos });
        }
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(Amf0Error::TooManyValues { offset: self.pos });
        }
        let offset = self.pos;
        Ok(match self.u8()? {
            NUMBER => Amf0Value::Number(self.f64()?),
            BOOLEAN => Amf0Value::Boolean(self.u8()? != 0),
            STRING => {
                let len = usize::from(self.u16()?);
                Amf0Value::String(self.utf8(len)?)
            }
            LONG_STRING => {
                let len = self.u32()? as usize;
                Amf0Value::String(self.utf8(len)?)
            }
            OBJECT => Amf0Value::Object(self.properties(depth)?),
            NULL => Amf0Value::Null,
            UNDEFINED => Amf0Value::Undefined,
            ECMA_ARRAY => {
                // The count is not trusted: encoders get it wrong, the end marker decides.
                self.u32()?;
                Amf0Value::EcmaArray(self.properties(depth)?)
            }
            STRICT_ARRAY => {
                let count = self.u32()? as usize;
                // Every element takes at least one byte: a count larger than what is left
                // is a lie, and must not size an allocation (nor, bounded by what is
                // left, reserve 32 times that before a single element decoded).
                let left = self.input.len() - self.pos;
                let mut items = Vec::with_capacity(count.min(left).min(RESERVE_MAX));
                for _ in 0..count {
                    items.push(self.value(depth + 1)?);
                }
                Amf0Value::StrictArray(items)
            }
            DATE => {
                let ms = self.f64()?;
                self.take(2)?;
                Amf0Value::Date(ms)
            }
            marker => return Err(Amf0Error::UnsupportedMarker { offset, marker }),
        })
    }

    fn properties(&mut self, depth: usize) -> Result<Vec<(String, Amf0Value)>, Amf0Error> {
        let mut props = Vec::new();
        loop {
            let len = usize::from(self.u16()?);
            if len == 0 && self.input.get(self.pos) == Some(&OBJECT_END) {
                self.pos += 1;
                return Ok(props);
            }
            let key = self.utf8(len)?;
            props.push((key, self.value(depth + 1)?));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, Amf0Value)]) -> Vec<(String, Amf0Value)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn sample() -> Amf0Value {
        Amf0Value::EcmaArray(props(&[
            ("duration", Amf0Value::Number(2.5)),
            ("stereo", Amf0Value::Boolean(true)),
            ("encoder", Amf0Value::String("Tapedeck é".into())),
            ("nothing", Amf0Value::Null),
            ("undef", Amf0Value::Undefined),
            ("when", Amf0Value::Date(1.5e12)),
            ("long", Amf0Value::String("x".repeat(70_000))),
            (
                "keyframes",
                Amf0Value::Object(props(&[
                    (
                        "times",
                        Amf0Value::StrictArray(vec![
                            Amf0Value::Number(0.0),
                            Amf0Value::Number(1.0),
                        ]),
                    ),
                    ("filepositions", Amf0Value::StrictArray(vec![])),
                ])),
            ),
        ]))
    }

    #[test]
    fn round_trip_keeps_key_order() {
        let v = sample();
        let bytes = v.to_bytes();
        let (back, used) = Amf0Value::decode(&bytes).expect("decodes");
        assert_eq!(back, v);
        assert_eq!(used, bytes.len());
        let keys: Vec<_> = match &back {
            Amf0Value::EcmaArray(p) => p.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        };
        assert_eq!(
            keys,
            [
                "duration",
                "stereo",
                "encoder",
                "nothing",
                "undef",
                "when",
                "long",
                "keyframes"
            ]
        );
        let kf = back.get("keyframes").expect("keyframes");
        assert_eq!(
            kf.get("times")
                .and_then(Amf0Value::as_array)
                .map(<[_]>::len),
            Some(2)
        );
        assert_eq!(
            back.get("long").and_then(Amf0Value::as_str).map(str::len),
            Some(70_000)
        );
    }

    #[test]
    fn exact_bytes() {
        // onMetaData { a: 1.0, b: false } per AMF0 sections 2.2-2.10.
        let mut out = Vec::new();
        Amf0Value::String("onMetaData".into()).encode(&mut out);
        Amf0Value::EcmaArray(props(&[
            ("a", Amf0Value::Number(1.0)),
            ("b", Amf0Value::Boolean(false)),
        ]))
        .encode(&mut out);
        let mut want = vec![0x02, 0, 10];
        want.extend_from_slice(b"onMetaData");
        want.extend_from_slice(&[
            0x08, 0, 0, 0, 2, 0, 1, b'a', 0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0,
        ]);
        want.extend_from_slice(&[0, 1, b'b', 0x01, 0x00, 0, 0, 0x09]);
        assert_eq!(out, want);
        let all = Amf0Value::decode_all(&out).expect("decodes");
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].as_str(), Some("onMetaData"));
        assert_eq!(all[1].get("b").and_then(Amf0Value::as_bool), Some(false));
        assert_eq!(all[1].get("a").and_then(Amf0Value::as_f64), Some(1.0));
        // Strict array and object markers.
        assert_eq!(
            Amf0Value::StrictArray(vec![Amf0Value::Null]).to_bytes(),
            [0x0a, 0, 0, 0, 1, 0x05]
        );
        assert_eq!(Amf0Value::Object(vec![]).to_bytes(), [0x03, 0, 0, 0x09]);
    }

    #[test]
    fn size_depends_on_shape_not_numbers() {
        let a = Amf0Value::StrictArray(vec![Amf0Value::Number(0.0); 3]).to_bytes();
        let b = Amf0Value::StrictArray(vec![Amf0Value::Number(1e300); 3]).to_bytes();
        assert_eq!(a.len(), b.len());
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = sample().to_bytes();
        for cut in 0..bytes.len() {
            assert!(Amf0Value::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn hostile_input() {
        // A strict array claiming 4 billion elements.
        assert_eq!(
            Amf0Value::decode(&[0x0a, 0xff, 0xff, 0xff, 0xff]),
            Err(Amf0Error::Truncated { offset: 5 })
        );
        // Deep nesting.
        let mut deep = Vec::new();
        for _ in 0..1000 {
            deep.extend_from_slice(&[0x0a, 0, 0, 0, 1]);
        }
        assert!(matches!(
            Amf0Value::decode(&deep),
            Err(Amf0Error::TooDeep { .. })
        ));
        // Deep nesting of every container kind, checked before recursing (a stack overflow
        // would abort the process, not fail the test).
        for (open, deep_enough) in [
            (&[0x0a, 0, 0, 0, 1][..], 100_000),
            (&[0x03, 0, 1, b'k'][..], 100_000),
            (&[0x08, 0, 0, 0, 1, 0, 1, b'k'][..], 100_000),
        ] {
            let nested = open.repeat(deep_enough);
            assert!(
                matches!(
                    Amf0Value::decode(&nested),
                    Err(Amf0Error::TooDeep { offset }) if offset == open.len() * (MAX_DEPTH + 1)
                ),
                "{open:02x?}"
            );
        }
        assert!(matches!(
            Amf0Value::decode(&[0x11]),
            Err(Amf0Error::UnsupportedMarker { marker: 0x11, .. })
        ));
        assert!(matches!(
            Amf0Value::decode(&[0x02, 0, 1, 0xff]),
            Err(Amf0Error::BadUtf8 { offset: 3 })
        ));
    }

    #[test]
    fn nesting_is_checked_without_recursion() {
        assert_eq!(prescan(&sample().to_bytes(), MAX_VALUES), Ok(()));
        assert_eq!(prescan(&[], MAX_VALUES), Ok(()));
        for (open, close) in [
            (&[0x0a, 0, 0, 0, 1][..], &[][..]),
            (&[0x03, 0, 1, b'k'][..], &[0, 0, 9][..]),
            (&[0x08, 0, 0, 0, 1, 0, 1, b'k'][..], &[0, 0, 9][..]),
        ] {
            // As deep as the decoder allows, then one more.
            for (depth, ok) in [(MAX_DEPTH, true), (MAX_DEPTH + 1, false), (100_000, false)] {
                let mut nested = open.repeat(depth);
                nested.push(0x05);
                nested.extend(close.repeat(depth));
                assert_eq!(
                    prescan(&nested, MAX_VALUES).is_ok(),
                    ok,
                    "{open:02x?} x {depth}"
                );
                // Agrees with the decoder's own limit (which counts the top level as 0).
                assert_eq!(
                    Amf0Value::decode(&nested).is_ok(),
                    ok,
                    "{open:02x?} x {depth}"
                );
            }
        }
        // Siblings do not add up: a thousand shallow arrays in a row are fine.
        let mut wide = Vec::new();
        for _ in 0..1000 {
            wide.extend_from_slice(&[0x0a, 0, 0, 0, 1, 0x0a, 0, 0, 0, 0]);
        }
        assert_eq!(prescan(&wide, MAX_VALUES), Ok(()));
        // A strict array closed early by an object-end marker (rml_amf0's reading) does not
        // leave its level open.
        let mut closed = Vec::new();
        for _ in 0..100 {
            closed.extend_from_slice(&[0x0a, 0, 0, 0, 5, 0x09]);
        }
        assert_eq!(prescan(&closed, MAX_VALUES), Ok(()));
        // The value budget: a strict array announcing 4 billion nulls, 100,000 of them here.
        let mut flood = vec![0x0a, 0xff, 0xff, 0xff, 0xff];
        flood.extend(std::iter::repeat_n(0x05, 100_000));
        assert!(matches!(
            prescan(&flood, 4096),
            Err(Amf0Error::TooManyValues { .. })
        ));
        assert_eq!(prescan(&vec![0x05; 4096], 4096), Ok(()));
        assert!(prescan(&vec![0x05; 4097], 4096).is_err());
    }

    #[test]
    fn a_script_tag_of_tiny_values_stops_at_the_value_budget() {
        // 2 million one-byte nulls in one strict array: 2 MB of input, 64 MB of values.
        let n = 2 * MAX_VALUES;
        let mut bytes = vec![0x0a];
        bytes.extend_from_slice(&(n as u32).to_be_bytes());
        bytes.resize(5 + n, 0x05);
        assert!(matches!(
            Amf0Value::decode(&bytes),
            Err(Amf0Error::TooManyValues { .. })
        ));
        // The same budget counts across the values of a whole tag.
        let many = vec![0x05; MAX_VALUES + 1];
        assert!(matches!(
            Amf0Value::decode_all(&many),
            Err(Amf0Error::TooManyValues { .. })
        ));
        // Just under the budget still decodes.
        let mut ok = vec![0x0a];
        ok.extend_from_slice(&((MAX_VALUES - 1) as u32).to_be_bytes());
        ok.resize(5 + MAX_VALUES - 1, 0x05);
        assert_eq!(
            Amf0Value::decode(&ok).map(|(v, _)| v.as_array().map(<[_]>::len)),
            Ok(Some(MAX_VALUES - 1))
        );
    }
}

//! AMF0: our decoder (FLV script tags, RTMP commands and data messages) and its
//! non-recursive pre-scan, which the RTMP code runs on every message before decoding.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tapedeck_media::flv::amf0::{prescan, Amf0Error, Amf0Value, MAX_VALUES};

fuzz_target!(|data: &[u8]| {
    // Any input is a value or an error. What decodes re-encodes to bytes that decode to the
    // same encoding again (the first pass may normalize: booleans to 0/1, ECMA counts,
    // short strings sent with the long marker).
    if let Ok((value, used)) = Amf0Value::decode(data) {
        assert!(used <= data.len());
        let once = value.to_bytes();
        let (again, n) = Amf0Value::decode(&once).expect("our own encoding decodes");
        assert_eq!(n, once.len());
        assert_eq!(again.to_bytes(), once);
    }
    let all = Amf0Value::decode_all(data);
    // The pre-scan and the decoder agree on nesting: what the scan passes never fails the
    // decoder's depth limit (the scan is what keeps a deeper decoder from being reached).
    if prescan(data, MAX_VALUES).is_ok() {
        assert!(
            !matches!(all, Err(Amf0Error::TooDeep { .. })),
            "prescan passed a payload the decoder finds too deep"
        );
    }
});

//! AMF0: our decoder (FLV script tags: `onMetaData` from HTTP-FLV pulls and files) and
//! `rml_amf0` (every RTMP command and data message goes through it).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tapedeck_media::flv::amf0::{check_nesting, Amf0Value};

fuzz_target!(|data: &[u8]| {
    // Ours: any input is a value or an error. What decodes re-encodes to bytes that decode
    // to the same encoding again (the first pass may normalize: booleans to 0/1, ECMA
    // counts, short strings sent with the long marker).
    if let Ok((value, used)) = Amf0Value::decode(data) {
        assert!(used <= data.len());
        let once = value.to_bytes();
        let (again, n) = Amf0Value::decode(&once).expect("our own encoding decodes");
        assert_eq!(n, once.len());
        assert_eq!(again.to_bytes(), once);
    }
    let _ = Amf0Value::decode_all(data);

    // rml_amf0, as `rml_rtmp` calls it on command payloads. It recurses without a limit:
    // nested a few hundred thousand deep, a payload overflows the stack and aborts the
    // process (found by this target with the nested seeds). The RTMP code must run
    // `check_nesting` on a payload first, as here; what passes it must then be safe.
    if check_nesting(data).is_err() {
        return;
    }
    let mut cursor = std::io::Cursor::new(data);
    if let Ok(values) = rml_amf0::deserialize(&mut cursor) {
        // Our raw replies (`_result`, `onFCPublish`) serialize with it too.
        let _ = rml_amf0::serialize(&values);
    }
});

//! User data (`moov/udta`, ISO/IEC 14496-12 8.10.1): boxes an application adds to describe
//! the movie, which players skip when they do not know the type.
//!
//! ```text
//! moov
//!   mvhd  trak ...  (mvex in a fragmented file)
//!   udta              written only when there is user data, last in the moov
//!     <kind> payload  one box per UserBox, payload opaque to this crate
//! ```
//!
//! The writer ([`super::Fmp4Writer::with_user_data`]) and the finalizer
//! ([`super::FinalizeOptions::user_data`]) take the boxes; [`read_user_data`] gives them
//! back from either kind of file while reading only box headers and the `udta` itself
//! (never the sample tables or the media).

use std::io::{Read, Seek};

use bytes::BufMut;

use super::boxes::write_box;
use super::read::{self, BoxHeader, Cursor, HeaderRead};
use super::Mp4Error;

/// Largest `udta` read back. Ours holds a few hundred bytes of text.
const MAX_UDTA: u64 = 1 << 20;

/// Boxes looked at on one level before giving up: the `moov` is the second top-level box
/// of every file we write (the last of a few in a foreign progressive file), and a `moov`
/// holds `mvhd`, a few `trak`s, `mvex` and `udta`. A hostile file of millions of 8-byte
/// boxes would otherwise cost a seek and a read each.
const MAX_BOXES_SEARCHED: u32 = 4096;

/// One box of user data: a four-character type and its payload (the box body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserBox {
    pub kind: [u8; 4],
    pub payload: Vec<u8>,
}

/// Appends the `udta` box holding `boxes`; nothing when there are none.
pub(crate) fn write_udta(out: &mut Vec<u8>, boxes: &[UserBox]) {
    if boxes.is_empty() {
        return;
    }
    write_box(out, b"udta", |out| {
        for b in boxes {
            out.put_u32(8 + b.payload.len() as u32);
            out.put_slice(&b.kind);
            out.put_slice(&b.payload);
        }
    });
}

/// The boxes of the first `moov/udta` of an MP4 (fragmented or progressive), in file
/// order; empty when the movie has no user data. Reads only box headers up to the `moov`
/// and, inside it, the `udta` body.
pub fn read_user_data<R: Read + Seek>(mut r: R) -> Result<Vec<UserBox>, Mp4Error> {
    let file_len = read::stream_len(&mut r)?;
    let Some(moov) = find_box(&mut r, 0, file_len, b"moov")? else {
        return Err(Mp4Error::malformed(0, "no moov box: not an MP4 movie"));
    };
    let Some(udta) = find_box(&mut r, moov.body_start(), moov.end(), b"udta")? else {
        return Ok(Vec::new());
    };
    let body = read::read_body(&mut r, &udta, MAX_UDTA)?;
    let mut c = Cursor::new(&body, udta.body_start());
    let mut out = Vec::new();
    while let Some((kind, whole, _)) = c.child()? {
        out.push(UserBox {
            kind,
            payload: child_payload(whole).to_vec(),
        });
    }
    Ok(out)
}

/// The body of a whole child box (its header is 8 bytes, or 16 with a largesize).
fn child_payload(whole: &[u8]) -> &[u8] {
    let large = whole.len() >= 16 && whole[..4] == [0, 0, 0, 1];
    &whole[if large { 16 } else { 8 }..]
}

/// The first box of type `kind` among the boxes in `[from, end)`, reading only headers. A
/// box that runs past `end` (a cut file) ends the search.
fn find_box<R: Read + Seek>(
    r: &mut R,
    from: u64,
    end: u64,
    kind: &[u8; 4],
) -> Result<Option<BoxHeader>, Mp4Error> {
    let mut pos = from;
    for _ in 0..MAX_BOXES_SEARCHED {
        let h = match read::read_header(r, pos, end)? {
            HeaderRead::Box(h) => h,
            HeaderRead::End | HeaderRead::Broken(_) => return Ok(None),
        };
        if h.end() > end {
            return Ok(None);
        }
        if &h.kind == kind {
            return Ok(Some(h));
        }
        pos = h.end();
    }
    Err(Mp4Error::malformed(
        from,
        format!(
            "no {} box among the first {MAX_BOXES_SEARCHED} boxes",
            String::from_utf8_lossy(kind)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udta_round_trips_and_sizes_add_up() {
        let boxes = vec![
            UserBox {
                kind: *b"tpdk",
                payload: br#"{"recording":"live/cam1/1"}"#.to_vec(),
            },
            UserBox {
                kind: *b"xtra",
                payload: Vec::new(),
            },
        ];
        let mut out = Vec::new();
        write_udta(&mut out, &boxes);
        assert_eq!(&out[..4], &(out.len() as u32).to_be_bytes());
        assert_eq!(out.len(), 8 + 8 + 27 + 8);
        let mut none = Vec::new();
        write_udta(&mut none, &[]);
        assert!(none.is_empty());

        // A file: ftyp, moov { mvhd-like filler, udta }, mdat.
        let mut file = Vec::new();
        write_box(&mut file, b"ftyp", |o| o.put_slice(b"isom"));
        write_box(&mut file, b"moov", |o| {
            write_box(o, b"mvhd", |o| o.put_slice(&[0; 100]));
            write_udta(o, &boxes);
        });
        write_box(&mut file, b"mdat", |o| o.put_slice(&[7; 1000]));
        assert_eq!(read_user_data(std::io::Cursor::new(&file)).unwrap(), boxes);
    }

    #[test]
    fn movies_without_user_data_and_non_movies() {
        let mut file = Vec::new();
        write_box(&mut file, b"ftyp", |o| o.put_slice(b"isom"));
        write_box(&mut file, b"moov", |o| {
            write_box(o, b"mvhd", |o| o.put_slice(&[0; 100]))
        });
        assert_eq!(
            read_user_data(std::io::Cursor::new(&file)).unwrap(),
            Vec::new()
        );
        assert!(matches!(
            read_user_data(std::io::Cursor::new(b"FLV\x01\x05\0\0\0\x09")),
            Err(Mp4Error::Malformed { .. })
        ));
        // A udta whose child overruns it is an error, not a panic.
        let mut bad = Vec::new();
        write_box(&mut bad, b"moov", |o| {
            write_box(o, b"udta", |o| {
                o.put_u32(500);
                o.put_slice(b"tpdk");
            })
        });
        assert!(read_user_data(std::io::Cursor::new(&bad)).is_err());
    }

    #[test]
    fn hostile_box_sizes_and_counts() {
        let moov = |file: &mut Vec<u8>| {
            write_box(file, b"moov", |o| {
                write_udta(
                    o,
                    &[UserBox {
                        kind: *b"tpdk",
                        payload: b"x".to_vec(),
                    }],
                )
            })
        };
        // A largesize that wraps the next offset back to the start of the file: before,
        // the search went round forever in a release build (and overflowed in a debug one).
        let mut wrap = Vec::new();
        write_box(&mut wrap, b"ftyp", |o| o.put_slice(b"isom"));
        let at = wrap.len() as u64;
        wrap.put_u32(1);
        wrap.put_slice(b"free");
        wrap.put_u64(u64::MAX - at + 1);
        moov(&mut wrap);
        assert_eq!(
            read_user_data(std::io::Cursor::new(&wrap)).map_err(|e| e.to_string()),
            Err("malformed MP4 at byte 0: no moov box: not an MP4 movie".to_string())
        );
        // A moov claiming a gigabyte in a small file is a cut box: an error.
        let mut liar = Vec::new();
        liar.put_u32(8 + 8 + (1 << 30));
        liar.put_slice(b"moov");
        liar.put_u32(8 + (1 << 30) - 1);
        liar.put_slice(b"udta");
        liar.put_slice(&[0; 64]);
        assert!(read_user_data(std::io::Cursor::new(&liar)).is_err());
        // Thousands of empty boxes before the moov: the search gives up.
        let mut many = Vec::new();
        for _ in 0..MAX_BOXES_SEARCHED {
            write_box(&mut many, b"free", |_| {});
        }
        moov(&mut many);
        assert!(matches!(
            read_user_data(std::io::Cursor::new(&many)),
            Err(Mp4Error::Malformed { detail, .. }) if detail.contains("4096")
        ));
    }
}

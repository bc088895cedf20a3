//! A playlist never reaches a bucket naming a segment that will not be there: when a
//! segment's upload was marked lost (its local file vanished before it went up), the
//! playlist or index that lists it is uploaded as a rewritten copy without it. The local
//! file is left as it is.
//!
//! The segment's lines go (`#EXTINF`, its `#EXT-X-PROGRAM-DATE-TIME`, `#EXT-X-BYTERANGE`
//! ..., and its URI), and the next segment that stays gets `#EXT-X-DISCONTINUITY`, so a
//! player does not glue the media on either side of the hole together: its own
//! `PROGRAM-DATE-TIME` (every Tapedeck segment carries one) keeps the times right.
//! Tags that are not about one segment (the header, `#EXT-X-MAP`, Tapedeck's own tags,
//! `#EXT-X-ENDLIST`) stay.

use std::collections::HashSet;

/// The copy to upload, and the keys of the segments it leaves out.
#[derive(Debug, PartialEq, Eq)]
pub struct Rewritten {
    pub text: String,
    pub left_out: Vec<String>,
}

/// Tags that belong to the segment whose URI follows them.
const SEGMENT_TAGS: [&str; 6] = [
    "#EXTINF",
    "#EXT-X-PROGRAM-DATE-TIME",
    "#EXT-X-DISCONTINUITY",
    "#EXT-X-BYTERANGE",
    "#EXT-X-GAP",
    "#EXT-X-BITRATE",
];

fn tag_name(line: &str) -> &str {
    line.split(':').next().unwrap_or(line).trim()
}

fn is_segment_tag(line: &str) -> bool {
    SEGMENT_TAGS.contains(&tag_name(line))
}

/// The key a playlist `uri` names, from the folder `dir` of the playlist's key.
fn join_key(dir: &str, uri: &str) -> String {
    let mut parts: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    for seg in uri.split('/') {
        match seg {
            ".." => {
                parts.pop();
            }
            "." | "" => {}
            s => parts.push(s),
        }
    }
    parts.join("/")
}

/// `text` (the playlist whose key is `key`) without the segments whose keys are in
/// `lost`; `None` when it lists none of them.
pub fn leave_out(text: &str, key: &str, lost: &HashSet<String>) -> Option<Rewritten> {
    let dir = key.rsplit_once('/').map_or("", |(d, _)| d);
    let mut out: Vec<&str> = Vec::new();
    let mut block: Vec<&str> = Vec::new();
    let mut left_out = Vec::new();
    let mut hole = false;
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            block.push(line);
            continue;
        }
        let local = !t.contains("://");
        let seg_key = join_key(dir, t);
        if local && lost.contains(&seg_key) {
            out.extend(block.drain(..).filter(|l| !is_segment_tag(l)));
            left_out.push(seg_key);
            hole = true;
            continue;
        }
        if hole && !block.iter().any(|l| tag_name(l) == "#EXT-X-DISCONTINUITY") {
            let at = block
                .iter()
                .position(|l| is_segment_tag(l))
                .unwrap_or(block.len());
            block.insert(at, "#EXT-X-DISCONTINUITY");
        }
        hole = false;
        out.append(&mut block);
        out.push(line);
    }
    out.append(&mut block);
    if left_out.is_empty() {
        return None;
    }
    let mut text = out.join("\n");
    text.push('\n');
    Some(Rewritten { text, left_out })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAYLIST: &str = "#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-TAPEDECK-RECORDING:live/cam1/1795515330000
#EXT-X-PROGRAM-DATE-TIME:2026-11-24T10:15:30.000Z
#EXTINF:2.000,
1795515330_0.ts
#EXT-X-PROGRAM-DATE-TIME:2026-11-24T10:15:32.000Z
#EXTINF:2.000,
1795515332_1.ts
#EXT-X-PROGRAM-DATE-TIME:2026-11-24T10:15:34.000Z
#EXTINF:2.000,
1795515334_2.ts
#EXT-X-ENDLIST
";

    fn lost(keys: &[&str]) -> HashSet<String> {
        keys.iter()
            .map(|k| format!("record/live/cam1/{k}"))
            .collect()
    }

    #[test]
    fn lost_segments_leave_the_copy_with_a_discontinuity() {
        let key = "record/live/cam1/a_b.m3u8";
        assert_eq!(leave_out(PLAYLIST, key, &lost(&["9_9.ts"])), None);

        let r = leave_out(PLAYLIST, key, &lost(&["1795515332_1.ts"])).unwrap();
        assert_eq!(r.left_out, ["record/live/cam1/1795515332_1.ts"]);
        assert_eq!(
            r.text,
            PLAYLIST.replace(
                "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T10:15:32.000Z\n#EXTINF:2.000,\n1795515332_1.ts\n#EXT-X-PROGRAM-DATE-TIME:2026-11-24T10:15:34.000Z\n",
                "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-24T10:15:34.000Z\n"
            )
        );

        // The first: the header stays, the discontinuity goes after it.
        let r = leave_out(PLAYLIST, key, &lost(&["1795515330_0.ts"])).unwrap();
        assert!(r.text.starts_with("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-TAPEDECK-RECORDING:live/cam1/1795515330000\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-24T10:15:32.000Z\n"), "{}", r.text);
        // The last two: nothing follows to mark; the end stays.
        let r = leave_out(
            PLAYLIST,
            key,
            &lost(&["1795515332_1.ts", "1795515334_2.ts"]),
        )
        .unwrap();
        assert_eq!(r.left_out.len(), 2);
        assert!(!r.text.contains("_1.ts") && !r.text.contains("_2.ts"));
        assert!(
            r.text.ends_with("1795515330_0.ts\n#EXT-X-ENDLIST\n"),
            "{}",
            r.text
        );
        assert!(!r.text.contains("DISCONTINUITY"));
    }

    #[test]
    fn uris_are_resolved_from_the_playlist_folder() {
        // A custom index elsewhere names segments with `..`.
        let text = "#EXTM3U\n#EXTINF:2.0,\n../../record/live/cam1/1_0.ts\n#EXTINF:2.0,\n../../record/live/cam1/1_1.ts\n";
        let r = leave_out(text, "indexes/live/x.m3u8", &lost(&["1_0.ts"])).unwrap();
        assert_eq!(r.left_out, ["record/live/cam1/1_0.ts"]);
        assert_eq!(
            r.text,
            "#EXTM3U\n#EXT-X-DISCONTINUITY\n#EXTINF:2.0,\n../../record/live/cam1/1_1.ts\n"
        );
        // A remote URI is never a local key.
        let remote = "#EXTM3U\n#EXTINF:2.0,\nhttp://cdn/record/live/cam1/1_0.ts\n";
        assert_eq!(leave_out(remote, "x.m3u8", &lost(&["1_0.ts"])), None);
    }
}

//! HLS media playlists (RFC 8216): the model the recorder keeps, its writer, and the
//! reader the HLS pull uses. Text handling is `m3u8-rs`; the rules are ours:
//!
//! - `#EXT-X-TARGETDURATION` is the largest segment duration rounded *up* (4.3.3.1 asks
//!   for >= each EXTINF rounded to the nearest integer; ceil satisfies it for every
//!   rounding a player might apply), at least 1.
//! - Durations are written with millisecond precision, so the target computed here is
//!   the one a reader computes from the text.
//! - `#EXT-X-VERSION:3`: decimal EXTINF durations need version 3 (7. Protocol Version
//!   Compatibility); nothing else we write needs more.
//! - `#EXT-X-PLAYLIST-TYPE:EVENT` while the playlist starts at sequence 0 (a recording
//!   that only grows). When a recording ends `#EXT-X-ENDLIST` is appended and the type
//!   stays EVENT: 6.2.1 lets a server add ENDLIST but not change the type, and an EVENT
//!   playlist with ENDLIST plays exactly like VOD. A sliding window (media_sequence > 0)
//!   removes segments, which EVENT forbids, so it gets no type.
//! - `#EXT-X-PROGRAM-DATE-TIME` is UTC with milliseconds: `2026-11-24T10:15:30.123Z`.

use chrono::{DateTime, SecondsFormat, Utc};
use m3u8_rs::{MediaPlaylistType, MediaSegment, Playlist};

mod daterange;
pub mod follow;

pub use daterange::{quotable, DateRange, CHAPTER_CLASS, TITLE_ATTRIBUTE};

/// The protocol version we write (see the module docs).
pub const VERSION: usize = 3;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HlsError {
    /// The text is not an M3U8 playlist m3u8-rs can read.
    #[error("not a valid M3U8 playlist: {0}")]
    Parse(String),
    /// A master (multivariant) playlist where a media playlist was expected. The variant
    /// URIs are returned, highest bandwidth first, so a puller can pick one.
    #[error("a master playlist with {} variants, not a media playlist", .variants.len())]
    MasterPlaylist { variants: Vec<String> },
    /// A segment duration that is negative, NaN, infinite or longer than
    /// [`MAX_SEGMENT_SECONDS`].
    #[error("segment {uri}: invalid duration {duration} (seconds, 0 to 86400)")]
    BadDuration { uri: String, duration: f64 },
    /// A segment line that is no URI (empty, or holding a line break).
    #[error("segment line {uri:?} is not a URI: the playlist is broken")]
    BadUri { uri: String },
}

/// One media segment as a playlist lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct PlaylistSegment {
    pub uri: String,
    /// Seconds (written with millisecond precision).
    pub duration: f64,
    /// The wall-clock time of the segment's first sample (`#EXT-X-PROGRAM-DATE-TIME`).
    pub program_date_time: Option<DateTime<Utc>>,
    /// Timestamps or encoding parameters change from the previous segment (a reconnect):
    /// `#EXT-X-DISCONTINUITY` before this segment.
    pub discontinuity: bool,
}

/// A media playlist: the live playlist of a recording, or its final index.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MediaPlaylist {
    pub segments: Vec<PlaylistSegment>,
    /// The recording is over: `#EXT-X-ENDLIST`.
    pub ended: bool,
    /// `#EXT-X-MEDIA-SEQUENCE`: the sequence number of the first segment listed.
    pub media_sequence: u64,
    /// `#EXT-X-TAPEDECK-RECORDING:<id>`: marks a recording's own playlist (not a daily or
    /// custom index over it), so a catalog rebuild knows which playlists are recordings.
    /// Players ignore tags they do not know (RFC 8216 4.1).
    pub recording: Option<String>,
    /// `#EXT-X-TAPEDECK-INDEX:<text>`: marks a custom index and carries what the catalog
    /// knew of it (the text is the recorder's, one line). A playlist with neither tag is a
    /// daily index.
    pub index: Option<String>,
    /// `#EXT-X-DATERANGE` tags (the recording's chapters), in the order listed; each is
    /// written before the segment it starts in (see `hls/daterange.rs`).
    pub date_ranges: Vec<DateRange>,
}

/// The lines [`MediaPlaylist::render`] writes for `segment` when it is not the first one:
/// what a writer appends to a playlist file to grow it by one segment, instead of
/// rewriting it, as long as `#EXT-X-TARGETDURATION` stays (the segment's duration rounded
/// up is not above it) and the playlist has not ended.
pub fn render_segment(segment: &PlaylistSegment) -> String {
    let one = MediaPlaylist {
        segments: vec![segment.clone()],
        ..MediaPlaylist::default()
    };
    let target = one.target_duration();
    let header = MediaPlaylist::default().render_with_target(target);
    let whole = one.render_with_target(target);
    whole
        .strip_prefix(header.as_str())
        .map(str::to_owned)
        .unwrap_or_default()
}

/// The tag naming a recording's own playlist (written `#EXT-X-TAPEDECK-RECORDING:<id>`:
/// m3u8-rs keeps unknown tags as what follows `#EXT-`).
pub const RECORDING_TAG: &str = "X-TAPEDECK-RECORDING";
/// The tag describing a custom index (written `#EXT-X-TAPEDECK-INDEX:<text>`).
pub const INDEX_TAG: &str = "X-TAPEDECK-INDEX";

/// The longest segment a playlist we read may list: a day. Tapedeck writes 5-30 s and
/// HLS servers seconds; a longer one is a hostile or broken playlist, refused when read
/// so that no sum of segment times downstream can overflow.
pub const MAX_SEGMENT_SECONDS: f64 = 86_400.0;

/// A segment duration rounded to what we write: whole milliseconds.
fn millis(d: f64) -> f64 {
    (d * 1000.0).round() / 1000.0
}

impl MediaPlaylist {
    /// `#EXT-X-TARGETDURATION`: the longest segment, rounded up, at least 1 second.
    pub fn target_duration(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| millis(s.duration))
            .filter(|d| d.is_finite())
            .fold(1.0f64, |max, d| max.max(d.ceil())) as u64
    }

    /// The playlist text.
    pub fn render(&self) -> String {
        let text = self.render_with_target(self.target_duration());
        if self.date_ranges.is_empty() {
            return text;
        }
        // m3u8-rs writes a range per segment at most, after its PROGRAM-DATE-TIME: ours
        // go in as lines of their own, before the first line of their segment.
        let header_lines = MediaPlaylist {
            media_sequence: self.media_sequence,
            ..MediaPlaylist::default()
        }
        .render_with_target(self.target_duration())
        .lines()
        .count();
        let lines: Vec<&str> = text.lines().collect();
        // Line where each segment's entry starts; then where the segments end.
        let mut starts = vec![header_lines];
        for (i, line) in lines.iter().enumerate().skip(header_lines) {
            if !line.starts_with('#') && !line.trim().is_empty() {
                starts.push(i + 1);
            }
        }
        let mut before: Vec<Vec<&DateRange>> = vec![Vec::new(); starts.len()];
        for range in &self.date_ranges {
            // One per segment plus the end; a segment line the text does not show (none
            // from `parse`) puts its ranges at the end.
            let at = self.segment_of(range.start_date).min(before.len() - 1);
            before[at].push(range);
        }
        let mut out = String::with_capacity(text.len() + 200 * self.date_ranges.len());
        let mut next = 0;
        for (i, line) in lines.iter().enumerate() {
            while next < starts.len() && starts[next] == i {
                for r in &before[next] {
                    out.push_str(&r.render());
                }
                next += 1;
            }
            out.push_str(line);
            out.push('\n');
        }
        for ranges in &before[next..] {
            for r in ranges {
                out.push_str(&r.render());
            }
        }
        out
    }

    /// Where [`Self::render`] writes a date range starting at `t`: before the segment of
    /// this index, the first that ends after `t` (the one `t` falls in, or the next after
    /// a gap); the number of segments (after the last) when none does, or when the
    /// segments' times are not known (no PROGRAM-DATE-TIME before them). A writer that
    /// appends to the playlist file can append a range when this is the number of
    /// segments listed.
    pub fn date_range_position(&self, t: DateTime<Utc>) -> usize {
        self.segment_of(t)
    }

    fn segment_of(&self, t: DateTime<Utc>) -> usize {
        let mut start: Option<DateTime<Utc>> = None;
        for (i, s) in self.segments.iter().enumerate() {
            start = s.program_date_time.or(start);
            let Some(begin) = start else { continue };
            let length = chrono::Duration::milliseconds((millis(s.duration) * 1000.0) as i64);
            // Past the end of chrono's calendar: after any `t`.
            let Some(end) = begin.checked_add_signed(length) else {
                return i;
            };
            if end > t {
                return i;
            }
            start = Some(end);
        }
        self.segments.len()
    }

    fn render_with_target(&self, target_duration: u64) -> String {
        let playlist = m3u8_rs::MediaPlaylist {
            version: Some(VERSION),
            target_duration,
            media_sequence: self.media_sequence,
            playlist_type: (self.media_sequence == 0).then_some(MediaPlaylistType::Event),
            end_list: self.ended,
            segments: self
                .segments
                .iter()
                .map(|s| MediaSegment {
                    uri: s.uri.clone(),
                    // m3u8-rs keeps f32; at millisecond precision that is exact enough
                    // (f32 Display prints the shortest text that reads back the same).
                    duration: millis(s.duration.max(0.0)) as f32,
                    discontinuity: s.discontinuity,
                    program_date_time: s.program_date_time.map(|t| t.fixed_offset()),
                    ..MediaSegment::default()
                })
                .collect(),

            ..m3u8_rs::MediaPlaylist::default()
        };
        // m3u8-rs writes no playlist-level unknown tags: our tags go with the first segment
        // (where its parser also puts them back), after its PROGRAM-DATE-TIME.
        let mut playlist = playlist;
        if let Some(first) = playlist.segments.first_mut() {
            for (tag, value) in [(RECORDING_TAG, &self.recording), (INDEX_TAG, &self.index)] {
                if let Some(value) = value {
                    first.unknown_tags.push(m3u8_rs::ExtTag {
                        tag: tag.into(),
                        rest: Some(value.clone()),
                    });
                }
            }
        }
        let mut out = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = playlist.write_to(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// [`MediaPlaylist::parse`] of a playlist file that grows by appends (see
    /// [`render_segment`]): an entry cut short by a crash (a line without its end, segment
    /// tags without their URI) is left out.
    pub fn parse_appended(text: &str) -> Result<Self, HlsError> {
        let whole = text.rfind('\n').map_or("", |i| &text[..=i]);
        let mut lines: Vec<&str> = whole.lines().collect();
        while lines.last().is_some_and(|l| {
            l.starts_with("#EXTINF")
                || l.starts_with("#EXT-X-PROGRAM-DATE-TIME")
                || l.starts_with("#EXT-X-DISCONTINUITY")
                || l.trim().is_empty()
        }) {
            lines.pop();
        }
        let mut kept = lines.join("\n");
        kept.push('\n');
        Self::parse(&kept)
    }

    /// Reads a media playlist. Tags we do not model (keys, byte ranges, maps) are ignored.
    pub fn parse(text: &str) -> Result<Self, HlsError> {
        let (date_ranges, text) = daterange::take_date_ranges(text);
        let playlist = match m3u8_rs::parse_playlist_res(text.as_bytes()) {
            Ok(Playlist::MediaPlaylist(p)) => p,
            Ok(Playlist::MasterPlaylist(m)) => {
                let mut variants: Vec<_> = m.variants.iter().filter(|v| !v.is_i_frame).collect();
                variants.sort_by_key(|v| std::cmp::Reverse(v.bandwidth));
                return Err(HlsError::MasterPlaylist {
                    variants: variants.iter().map(|v| v.uri.clone()).collect(),
                });
            }
            Err(e) => {
                return Err(HlsError::Parse(
                    format!("{e:?}").chars().take(200).collect(),
                ))
            }
        };
        // m3u8-rs hands an unknown tag before the first segment to that segment.
        let ours = |name: &str| {
            playlist
                .unknown_tags
                .iter()
                .chain(
                    playlist
                        .segments
                        .first()
                        .into_iter()
                        .flat_map(|s| s.unknown_tags.iter()),
                )
                .find(|t| t.tag == name)
                .and_then(|t| t.rest.clone())
        };
        let (recording, index) = (ours(RECORDING_TAG), ours(INDEX_TAG));
        let segments = playlist
            .segments
            .into_iter()
            // m3u8-rs takes a last line that is an unknown tag (or a tag cut before its
            // newline: a playlist being written) for a segment: it is none.
            .filter(|s| !s.uri.starts_with('#'))
            .map(|s| {
                let duration = millis(f64::from(s.duration));
                if s.uri.trim().is_empty() || s.uri.contains(['\r', '\n']) {
                    return Err(HlsError::BadUri { uri: s.uri });
                }
                if !(0.0..=MAX_SEGMENT_SECONDS).contains(&duration) {
                    return Err(HlsError::BadDuration {
                        uri: s.uri,
                        duration,
                    });
                }
                Ok(PlaylistSegment {
                    uri: s.uri,
                    duration,
                    program_date_time: s.program_date_time.map(|t| t.with_timezone(&Utc)),
                    discontinuity: s.discontinuity,
                })
            })
            .collect::<Result<_, _>>()?;

        Ok(MediaPlaylist {
            segments,
            ended: playlist.end_list,
            media_sequence: playlist.media_sequence,
            recording,
            index,
            date_ranges,
        })
    }
}

/// What an HLS pull needs from one fetch of a live media playlist.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveListing {
    /// Segments with their media sequence numbers (`media_sequence + index`, RFC 8216
    /// 6.3.5), which let the puller fetch each exactly once across reloads.
    pub segments: Vec<(u64, PlaylistSegment)>,
    /// `#EXT-X-ENDLIST` seen: stop reloading after the last segment.
    pub ended: bool,
    /// How long to wait between reloads when nothing changed (6.3.4).
    pub target_duration: u64,
}

/// Lists the segments of a live media playlist. URIs are returned as written (relative
/// ones are resolved against the playlist URL by the caller).
pub fn parse_media_playlist_uris(text: &str) -> Result<LiveListing, HlsError> {
    let playlist = MediaPlaylist::parse(text)?;
    let target_duration = playlist.target_duration();
    let first = playlist.media_sequence;
    Ok(LiveListing {
        // Numbers past 2^64-1 do not exist: those segments are left out (a `first..`
        // range overflowed there).
        segments: (0u64..)
            .zip(playlist.segments)
            .map_while(|(i, s)| Some((first.checked_add(i)?, s)))
            .collect(),
        ended: playlist.ended,
        target_duration,
    })
}

/// `2026-11-24T10:15:30.123Z`, the form `#EXT-X-PROGRAM-DATE-TIME` is written in.
pub fn format_program_date_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_795_515_330_123 + ms)
            .single()
            .expect("valid time")
    }

    fn seg(uri: &str, duration: f64) -> PlaylistSegment {
        PlaylistSegment {
            uri: uri.into(),
            duration,
            program_date_time: None,
            discontinuity: false,
        }
    }

    fn sample() -> MediaPlaylist {
        MediaPlaylist {
            segments: vec![
                PlaylistSegment {
                    program_date_time: Some(at(0)),
                    ..seg("1795601730_0.ts", 6.006)
                },
                seg("1795601736_1.ts", 5.994),
                PlaylistSegment {
                    discontinuity: true,
                    program_date_time: Some(at(200_000)),
                    ..seg("1795601930_2.ts", 6.4)
                },
            ],
            ended: false,
            media_sequence: 0,
            recording: None,
            index: None,
            date_ranges: Vec::new(),
        }
    }

    #[test]
    fn renders_the_tags_players_need() {
        let text = sample().render();
        let expected = "#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:7
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-PROGRAM-DATE-TIME:2026-11-24T10:15:30.123Z
#EXTINF:6.006,
1795601730_0.ts
#EXTINF:5.994,
1795601736_1.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-11-24T10:18:50.123Z
#EXTINF:6.4,
1795601930_2.ts
";
        assert_eq!(text, expected);
        let ended = MediaPlaylist {
            ended: true,
            ..sample()
        }
        .render();
        assert!(ended.ends_with("1795601930_2.ts\n#EXT-X-ENDLIST\n"));
        assert!(
            ended.contains("#EXT-X-PLAYLIST-TYPE:EVENT\n"),
            "type never changes (RFC 8216 6.2.1)"
        );
        let window = MediaPlaylist {
            media_sequence: 42,
            ..sample()
        }
        .render();
        assert!(window.contains("#EXT-X-MEDIA-SEQUENCE:42\n"));
        assert!(
            !window.contains("PLAYLIST-TYPE"),
            "a sliding window is not an EVENT playlist"
        );
        assert_eq!(format_program_date_time(at(0)), "2026-11-24T10:15:30.123Z");
    }

    #[test]
    fn appending_segments_renders_what_a_rewrite_would() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
        let durations = [2.002, 1.968, 2.0, 2.035, 0.5, 1.999, 2.967, 2.4];
        let segments: Vec<PlaylistSegment> = durations
            .iter()
            .enumerate()
            .map(|(i, d)| PlaylistSegment {
                uri: format!("1795547116_{i}.ts"),
                duration: *d,
                program_date_time: Some(t0 + chrono::Duration::milliseconds(i as i64 * 2000)),
                discontinuity: i == 3,
            })
            .collect();
        for recording in [None, Some("live/cam1/1795547116000".to_string())] {
            for first in 1..segments.len() {
                let mut p = MediaPlaylist {
                    recording: recording.clone(),
                    segments: segments[..first].to_vec(),
                    ..MediaPlaylist::default()
                };
                let mut text = p.render();
                let target = p.target_duration();
                for s in &segments[first..] {
                    p.segments.push(s.clone());
                    if p.target_duration() != target {
                        break;
                    }
                    text.push_str(&render_segment(s));
                    assert_eq!(text, p.render(), "from {first}, {recording:?}");
                }
            }
        }
    }

    #[test]
    fn a_torn_append_is_left_out() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
        let p = MediaPlaylist {
            segments: (0..3)
                .map(|i| PlaylistSegment {
                    uri: format!("s{i}.ts"),
                    duration: 2.0,
                    program_date_time: Some(t0 + chrono::Duration::seconds(i * 2)),
                    discontinuity: i == 2,
                })
                .collect(),
            ..MediaPlaylist::default()
        };
        let text = p.render();
        let two = MediaPlaylist {
            segments: p.segments[..2].to_vec(),
            ..p.clone()
        };
        let prefix = two.render().len();
        for cut in prefix..text.len() {
            assert_eq!(
                MediaPlaylist::parse_appended(&text[..cut]).unwrap(),
                two,
                "cut at {cut}: {:?}",
                &text[prefix..cut]
            );
        }
        assert_eq!(MediaPlaylist::parse_appended(&text).unwrap(), p);
    }

    #[test]
    fn render_parse_round_trip() {
        for p in [
            sample(),
            MediaPlaylist {
                ended: true,
                media_sequence: 7,
                ..sample()
            },
            MediaPlaylist {
                recording: Some("live/cam1/1795515330000".into()),
                ..sample()
            },
            MediaPlaylist {
                index: Some(r#"{"id":3,"app":"live","start_ms":1795515330000}"#.into()),
                ended: true,
                ..sample()
            },
            MediaPlaylist::default(),
        ] {
            assert_eq!(MediaPlaylist::parse(&p.render()), Ok(p));
        }
    }

    /// The three kinds of playlist a recordings folder holds, told apart by their tags, and
    /// the tags as players see them: `#EXT-X-` lines after the first PROGRAM-DATE-TIME,
    /// which RFC 8216 4.1 tells clients to ignore when unknown.
    #[test]
    fn recording_index_and_daily_playlists_are_told_apart() {
        let recording = MediaPlaylist {
            recording: Some("live/cam1/1795515330000".into()),
            ..sample()
        };
        let index = MediaPlaylist {
            index: Some(r#"{"id":1}"#.into()),
            ..sample()
        };
        let text = recording.render();
        assert!(
            text.contains("PROGRAM-DATE-TIME:2026-11-24T10:15:30.123Z\n#EXT-X-TAPEDECK-RECORDING:live/cam1/1795515330000\n#EXTINF:6.006,\n"),
            "{text}"
        );
        let text = index.render();
        assert!(
            text.contains("\n#EXT-X-TAPEDECK-INDEX:{\"id\":1}\n#EXTINF:6.006,\n"),
            "{text}"
        );
        let kinds = |p: &MediaPlaylist| {
            let back = MediaPlaylist::parse(&p.render()).unwrap();
            (back.recording.is_some(), back.index.is_some())
        };
        assert_eq!(kinds(&recording), (true, false));
        assert_eq!(kinds(&index), (false, true));
        assert_eq!(kinds(&sample()), (false, false), "a daily index");
    }

    #[test]
    fn target_duration_covers_every_segment() {
        // Table: durations -> target. RFC 8216 4.3.3.1 needs target >= round(EXTINF).
        let table: &[(&[f64], u64)] = &[
            (&[], 1),
            (&[0.2], 1),
            (&[6.0], 6),
            (&[6.0004], 6), // written as 6.000: the text reads back as 6
            (&[6.0005], 7), // written as 6.001
            (&[5.5, 6.4, 2.0], 7),
            (&[30.0, 29.97], 30),
            (&[30.5], 31),
        ];
        for (durations, target) in table {
            let p = MediaPlaylist {
                segments: durations.iter().map(|&d| seg("x.ts", d)).collect(),
                ..MediaPlaylist::default()
            };
            assert_eq!(p.target_duration(), *target, "{durations:?}");
            // The rule holds on what a reader sees, too.
            let read = MediaPlaylist::parse(&p.render()).expect("parse");
            for s in &read.segments {
                assert!(s.duration.round() as u64 <= read.target_duration());
            }
            assert!(p
                .render()
                .contains(&format!("#EXT-X-TARGETDURATION:{target}\n")));
        }
    }

    #[test]
    fn lists_live_segments_with_sequence_numbers() {
        let text = "#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:1203
#EXTINF:4.000,
seg1203.ts
#EXTINF:3.96,
https://cdn.example/live/seg1204.ts?token=a
";
        let l = parse_media_playlist_uris(text).expect("media playlist");
        let got: Vec<(u64, &str)> = l
            .segments
            .iter()
            .map(|(n, s)| (*n, s.uri.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (1203, "seg1203.ts"),
                (1204, "https://cdn.example/live/seg1204.ts?token=a")
            ]
        );
        assert!(!l.ended);
        assert_eq!(l.target_duration, 4);
    }

    #[test]
    fn master_playlists_and_garbage_are_errors() {
        let master = "#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360
low.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2800000,RESOLUTION=1280x720
high.m3u8
";
        assert_eq!(
            MediaPlaylist::parse(master),
            Err(HlsError::MasterPlaylist {
                variants: vec!["high.m3u8".into(), "low.m3u8".into()]
            })
        );
        assert!(matches!(
            MediaPlaylist::parse("<html>not found</html>"),
            Err(HlsError::Parse(_))
        ));
        assert!(matches!(MediaPlaylist::parse(""), Err(HlsError::Parse(_))));
    }

    /// A bucket or an HLS server is hostile: a segment of 10^30 s (m3u8-rs reads it as a
    /// finite f32) would overflow every sum of segment times after it.
    #[test]
    fn absurd_segment_durations_are_refused() {
        let playlist = |extinf: &str| {
            format!("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:{extinf},\nseg.ts\n")
        };
        assert!(MediaPlaylist::parse(&playlist("86400")).is_ok());
        // (m3u8-rs reads "-1" and "1e30" as 0 and 1: no sign, no exponent.)
        for bad in ["86400.5", "1000000000000000000000000000000"] {
            let err = MediaPlaylist::parse(&playlist(bad)).unwrap_err();
            assert!(
                matches!(err, HlsError::BadDuration { .. }),
                "{bad}: {err:?}"
            );
            assert!(err
                .to_string()
                .starts_with("segment seg.ts: invalid duration"));
        }
        // A playlist without a newline after its last line reads as it is; a last tag
        // cut short (a playlist being written, as fuzzing found it) or unknown is no
        // segment, though m3u8-rs lists it as one (rendering its date ranges then
        // indexed past the end).
        for last in [
            "#EXT-X-ENDLIST",
            "1.ts",
            "#EXT-X-DISCONTINUITY",
            "#EXT-X-PROG",
        ] {
            let text = format!("#EXTM3U\n#EXT-X-TARGETDURATION:7\n#EXTINF:6.006,\n0.ts\n{last}");
            let p = MediaPlaylist::parse(&text).unwrap_or_else(|e| panic!("{last}: {e}"));
            assert_eq!(p.segments[0].uri, "0.ts");
            assert_eq!(
                p.segments.len(),
                if last == "1.ts" { 2 } else { 1 },
                "{last}"
            );
        }
        let mut cut = MediaPlaylist::parse(&format!("{}#EXT-X-PROG", sample().render()))
            .expect("a cut playlist reads");
        assert_eq!(cut.segments, sample().segments);
        cut.date_ranges.push(chapter(1, 900_000, "after the end"));
        assert!(cut.render().ends_with("X-TITLE=\"after the end\"\n"));
        // Times at the end of chrono's calendar: a date range after them is placed after
        // the last segment, not an overflow.
        let mut p = sample();
        p.segments[0].program_date_time = Some(DateTime::<Utc>::MAX_UTC);
        assert_eq!(p.date_range_position(at(0)), 0);
        assert_eq!(p.date_range_position(DateTime::<Utc>::MAX_UTC), 0);
    }

    fn chapter(i: usize, ms: i64, title: &str) -> DateRange {
        DateRange::chapter(format!("chapter-{i}"), at(ms), title)
    }

    /// Chapters go before the segment they start in (the one in progress while live: after
    /// those listed), in a gap before the next segment, past the end after the last one;
    /// the text reads back as the same playlist.
    #[test]
    fn date_ranges_render_before_their_segment_and_read_back() {
        // Segments: [0, 6.006) [6.006, 12) gap [200, 206.4).
        let p = MediaPlaylist {
            recording: Some("live/cam1/1795515330000".into()),
            date_ranges: vec![
                chapter(0, 0, "Intro"),
                chapter(1, 7000, "Second \"act\""),
                chapter(2, 100_000, "In the gap"),
                chapter(3, 300_000, "After the end"),
            ],
            ..sample()
        };
        let text = p.render();
        let expected = "#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:7
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-DATERANGE:ID=\"chapter-0\",CLASS=\"com.tapedeck.chapter\",START-DATE=\"2026-11-24T10:15:30.123Z\",END-ON-NEXT=YES,X-TITLE=\"Intro\"
#EXT-X-PROGRAM-DATE-TIME:2026-11-24T10:15:30.123Z
#EXT-X-TAPEDECK-RECORDING:live/cam1/1795515330000
#EXTINF:6.006,
1795601730_0.ts
#EXT-X-DATERANGE:ID=\"chapter-1\",CLASS=\"com.tapedeck.chapter\",START-DATE=\"2026-11-24T10:15:37.123Z\",END-ON-NEXT=YES,X-TITLE=\"Second 'act'\"
#EXTINF:5.994,
1795601736_1.ts
#EXT-X-DATERANGE:ID=\"chapter-2\",CLASS=\"com.tapedeck.chapter\",START-DATE=\"2026-11-24T10:17:10.123Z\",END-ON-NEXT=YES,X-TITLE=\"In the gap\"
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-11-24T10:18:50.123Z
#EXTINF:6.4,
1795601930_2.ts
#EXT-X-DATERANGE:ID=\"chapter-3\",CLASS=\"com.tapedeck.chapter\",START-DATE=\"2026-11-24T10:20:30.123Z\",END-ON-NEXT=YES,X-TITLE=\"After the end\"
";
        assert_eq!(text, expected);
        assert_eq!(MediaPlaylist::parse(&text), Ok(p.clone()));
        // Ended: the last range stays before ENDLIST.
        let ended = MediaPlaylist {
            ended: true,
            ..p.clone()
        };
        let text = ended.render();
        assert!(
            text.ends_with("X-TITLE=\"After the end\"\n#EXT-X-ENDLIST\n"),
            "{text}"
        );
        assert_eq!(MediaPlaylist::parse(&text), Ok(ended));
        // Without segments (the first one still being recorded).
        let empty = MediaPlaylist {
            date_ranges: vec![chapter(0, 0, "x")],
            ..MediaPlaylist::default()
        };
        assert!(empty.render().ends_with("X-TITLE=\"x\"\n"));
        assert_eq!(MediaPlaylist::parse(&empty.render()), Ok(empty));
        // m3u8-rs alone (what other tools built on it read) takes the text too.
        assert!(m3u8_rs::parse_media_playlist_res(expected.as_bytes()).is_ok());
    }

    /// A live playlist grows by appends: a chapter's line when it is marked (after the
    /// segments listed), the segment it falls in when that one is done. The file reads as
    /// the whole playlist rendered, and a crash in the middle of an append loses only the
    /// line cut short.
    #[test]
    fn appended_chapters_read_as_the_rendered_playlist() {
        let base = sample();
        let mut p = MediaPlaylist {
            segments: base.segments[..1].to_vec(),
            ..base.clone()
        };
        let mut text = p.render();
        // Marked 7 s in, while the second segment (from 6.006 s) is being recorded.
        let c = chapter(0, 7000, "Live mark");
        assert_eq!(p.date_range_position(c.start_date), p.segments.len());
        text.push_str(&c.render());
        p.date_ranges.push(c.clone());
        assert_eq!(text, p.render());
        let marked = text.clone();
        text.push_str(&render_segment(&base.segments[1]));
        p.segments.push(base.segments[1].clone());
        assert_eq!(text, p.render());
        assert_eq!(MediaPlaylist::parse_appended(&text), Ok(p.clone()));
        // Killed while appending the chapter's line: the playlist before it.
        let before = MediaPlaylist {
            segments: base.segments[..1].to_vec(),
            ..base.clone()
        };
        let line_start = marked.len() - c.render().len();
        for cut in line_start..marked.len() {
            assert_eq!(
                MediaPlaylist::parse_appended(&marked[..cut]),
                Ok(before.clone()),
                "cut at {cut}"
            );
        }
        let with_chapter = MediaPlaylist {
            date_ranges: vec![c],
            ..before
        };
        assert_eq!(
            MediaPlaylist::parse_appended(&marked),
            Ok(with_chapter.clone())
        );
        // Killed while appending the next segment: the chapter stays.
        for cut in marked.len()..text.len() - 1 {
            assert_eq!(
                MediaPlaylist::parse_appended(&text[..cut]),
                Ok(with_chapter.clone()),
                "cut at {cut}"
            );
        }
    }
}

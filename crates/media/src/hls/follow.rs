//! Following a live HLS playlist, sans-IO: playlist bytes in, segment URLs to fetch out.
//!
//! ```text
//! fetch playlist (caller, at most MAX_PLAYLIST_BYTES) -> Follower::update(url, bytes)
//!   master playlist -> Update::Variant(url of the highest bandwidth): fetch that instead
//!   media playlist  -> Update::Media { segments to fetch, in order; ended; reload_after }
//! fetch each segment (caller) -> Follower::fetched(url)
//! ```
//!
//! The server may be hostile, so every number and length is checked:
//! - the playlist is at most [`MAX_PLAYLIST_BYTES`] (the caller stops reading there; this
//!   bounds the segments one update can list too), each URI at most [`MAX_URI_BYTES`];
//! - sequence numbers (`#EXT-X-MEDIA-SEQUENCE` + index, RFC 8216 6.3.5) are computed with
//!   checked arithmetic: a playlist whose numbers pass 2^64-1 is an error, not a panic;
//! - numbering that goes backwards is either a stale copy (a CDN cache: it lists segments
//!   already taken, and nothing is fetched) or a restart of the server's numbering (it
//!   lists only segments never seen: they are fetched, and [`MediaUpdate::restarted`] says
//!   so for the log), never a stall until the old number comes round again;
//! - the reload interval is half the target duration (6.3.4), kept within
//!   [`MIN_RELOAD`]..[`MAX_RELOAD`] whatever `#EXT-X-TARGETDURATION` says (0, or 2^64-1);
//! - segments already fetched are remembered by a 64-bit hash of their URL, the last
//!   [`REMEMBERED_SEGMENTS`] of them: memory does not depend on URI lengths.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::Duration;

use m3u8_rs::Playlist;
use url::Url;

/// Largest playlist read. A day-long EVENT playlist of 2-second segments is about 3 MB;
/// live sliding-window playlists are a few kB.
pub const MAX_PLAYLIST_BYTES: usize = 4 << 20;
/// Longest segment or variant URI accepted (signed CDN URLs run to about 2 kB).
pub const MAX_URI_BYTES: usize = 8 << 10;
/// Reload intervals are kept within these, whatever the target duration says.
pub const MIN_RELOAD: Duration = Duration::from_millis(500);
pub const MAX_RELOAD: Duration = Duration::from_secs(10);
/// Segments taken when first joining a live playlist: close to the live edge, like players.
pub const LIVE_EDGE_SEGMENTS: usize = 3;
/// Fetched segments remembered (across reconnects), so none is recorded twice.
pub const REMEMBERED_SEGMENTS: usize = 4096;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FollowError {
    #[error("the playlist is {len} bytes, more than the {max} allowed")]
    TooLarge { len: usize, max: usize },
    #[error("not an M3U8 playlist: {0}")]
    Parse(String),
    #[error("the master playlist lists no variant to follow")]
    NoVariants,
    #[error("the variant playlist is a master playlist too")]
    NestedMaster,
    #[error("{what} URI of {len} bytes is longer than the {max} allowed")]
    UriTooLong {
        what: String,
        len: usize,
        max: usize,
    },
    #[error("{what} URI {uri:?} does not resolve against the playlist URL: {detail}")]
    BadUri {
        what: String,
        uri: String,
        detail: String,
    },
    #[error(
        "#EXT-X-MEDIA-SEQUENCE {media_sequence} with {segments} segments numbers them past \
         2^64-1"
    )]
    SequenceOverflow {
        media_sequence: u64,
        segments: usize,
    },
}

/// One segment to fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Its media sequence number.
    pub seq: u64,
    pub url: Url,
}

/// What one fetch of a playlist asks of the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Update {
    /// A master playlist: follow this variant (the highest bandwidth) instead.
    Variant(Url),
    Media(MediaUpdate),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaUpdate {
    /// New segments, in playlist order.
    pub segments: Vec<Segment>,
    /// `#EXT-X-ENDLIST`: no reload after these.
    pub ended: bool,
    /// How long to wait before reloading when nothing new is left to fetch.
    pub reload_after: Duration,
    /// The numbering went back from the first number to the second with segments never
    /// seen: the server restarted it. Worth a log line.
    pub restarted: Option<(u64, u64)>,
}

/// The state of following one stream's playlist. Keep it across reconnects (call
/// [`Follower::reconnected`]) so that segments fetched before are not fetched again.
#[derive(Clone, Debug, Default)]
pub struct Follower {
    /// Media sequence number of the last segment handed out on this connection.
    last_queued: Option<u64>,
    /// Segments handed out on this connection and not fetched yet.
    queued: Recent,
    /// Segments fetched, on any connection.
    fetched: Recent,
    /// This connection already went from a master playlist to a variant.
    in_variant: bool,
}

impl Follower {
    pub fn new() -> Self {
        Self::default()
    }

    /// A new connection: segments handed out but not fetched are forgotten (they will be
    /// handed out again if the playlist still lists them), as is the master playlist.
    pub fn reconnected(&mut self) {
        self.last_queued = None;
        self.queued = Recent::default();
        self.in_variant = false;
    }

    /// Records that `url` was fetched (and recorded).
    pub fn fetched(&mut self, url: &Url) {
        self.fetched.insert(url.as_str());
    }

    /// Reads one fetch of the playlist at `url`.
    pub fn update(&mut self, url: &Url, body: &[u8]) -> Result<Update, FollowError> {
        if body.len() > MAX_PLAYLIST_BYTES {
            return Err(FollowError::TooLarge {
                len: body.len(),
                max: MAX_PLAYLIST_BYTES,
            });
        }
        let playlist = match m3u8_rs::parse_playlist_res(body) {
            Ok(Playlist::MediaPlaylist(p)) => p,
            Ok(Playlist::MasterPlaylist(_)) if self.in_variant => {
                return Err(FollowError::NestedMaster)
            }
            Ok(Playlist::MasterPlaylist(master)) => {
                let best = master
                    .variants
                    .iter()
                    .filter(|v| !v.is_i_frame)
                    .max_by_key(|v| v.bandwidth)
                    .ok_or(FollowError::NoVariants)?;
                let variant = resolve(url, &best.uri, || "variant".to_string())?;
                self.in_variant = true;
                return Ok(Update::Variant(variant));
            }
            Err(e) => return Err(FollowError::Parse(short(&format!("{e:?}")))),
        };
        let first = playlist.media_sequence;
        let count = playlist.segments.len();
        let overflow = FollowError::SequenceOverflow {
            media_sequence: first,
            segments: count,
        };
        let newest = match count.checked_sub(1) {
            Some(last) => Some(
                u64::try_from(last)
                    .ok()
                    .and_then(|last| first.checked_add(last))
                    .ok_or(overflow)?,
            ),
            None => None,
        };
        let reload_after = (Duration::from_secs(playlist.target_duration.min(3600)) / 2)
            .clamp(MIN_RELOAD, MAX_RELOAD);
        // Every URI is checked and resolved before any state changes.
        let mut listed = Vec::with_capacity(count);
        for (i, seg) in playlist.segments.iter().enumerate() {
            // Checked above through `newest`; a `first..` range would overflow after the
            // last number even when it is not used.
            let seq = first.saturating_add(i as u64);
            listed.push((seq, resolve(url, &seg.uri, || format!("segment {seq}"))?));
        }

        let mut restarted = None;
        if let (Some(last), Some(newest)) = (self.last_queued, newest) {
            if newest < last {
                if listed.iter().any(|(_, u)| self.known(u)) {
                    // A stale copy: nothing new in it.
                    return Ok(Update::Media(MediaUpdate {
                        segments: Vec::new(),
                        ended: playlist.end_list,
                        reload_after,
                        restarted: None,
                    }));
                }
                restarted = Some((last, newest));
                self.last_queued = None;
            }
        }
        // Joining a live stream for the first time: start near the live edge. After a
        // reconnect (something was fetched before), or a restart of the numbering,
        // everything not yet fetched is taken.
        let skip = match self.last_queued {
            None if !playlist.end_list && self.fetched.is_empty() && restarted.is_none() => {
                count.saturating_sub(LIVE_EDGE_SEGMENTS)
            }
            _ => 0,
        };
        let mut segments = Vec::new();
        for (seq, url) in listed.into_iter().skip(skip) {
            if self.last_queued.is_some_and(|last| seq <= last) {
                continue;
            }
            self.last_queued = Some(seq);
            if !self.known(&url) {
                self.queued.insert(url.as_str());
                segments.push(Segment { seq, url });
            }
        }
        Ok(Update::Media(MediaUpdate {
            segments,
            ended: playlist.end_list,
            reload_after,
            restarted,
        }))
    }

    fn known(&self, url: &Url) -> bool {
        self.fetched.contains(url.as_str()) || self.queued.contains(url.as_str())
    }
}

fn resolve(base: &Url, uri: &str, what: impl Fn() -> String) -> Result<Url, FollowError> {
    if uri.len() > MAX_URI_BYTES {
        return Err(FollowError::UriTooLong {
            what: what(),
            len: uri.len(),
            max: MAX_URI_BYTES,
        });
    }
    base.join(uri).map_err(|e| FollowError::BadUri {
        what: what(),
        uri: short(uri),
        detail: e.to_string(),
    })
}

/// At most 200 characters of `s`, for an error message.
fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

/// The last [`REMEMBERED_SEGMENTS`] URLs added, by a 64-bit hash (a collision, about one
/// in 2^50 with this many, would skip one segment).
#[derive(Clone, Debug, Default)]
struct Recent {
    order: VecDeque<u64>,
    set: HashSet<u64>,
}

impl Recent {
    fn key(uri: &str) -> u64 {
        // Fixed keys: the same URL hashes the same on every connection.
        let mut h = DefaultHasher::new();
        uri.hash(&mut h);
        h.finish()
    }

    fn contains(&self, uri: &str) -> bool {
        self.set.contains(&Self::key(uri))
    }

    fn insert(&mut self, uri: &str) {
        let key = Self::key(uri);
        if self.set.insert(key) {
            self.order.push_back(key);
            if self.order.len() > REMEMBERED_SEGMENTS {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://cdn.example/live/stream.m3u8?token=abc").expect("url")
    }

    fn playlist(seq: u64, target: u64, uris: &[String], ended: bool) -> Vec<u8> {
        let mut s = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:{seq}\n"
        );
        for u in uris {
            s.push_str(&format!("#EXTINF:2.000,\n{u}\n"));
        }
        if ended {
            s.push_str("#EXT-X-ENDLIST\n");
        }
        s.into_bytes()
    }

    fn names(range: std::ops::Range<u64>) -> Vec<String> {
        range.map(|i| format!("seg{i}.ts")).collect()
    }

    fn media(update: Result<Update, FollowError>) -> MediaUpdate {
        match update {
            Ok(Update::Media(m)) => m,
            other => panic!("not a media update: {other:?}"),
        }
    }

    fn seqs(m: &MediaUpdate) -> Vec<u64> {
        m.segments.iter().map(|s| s.seq).collect()
    }

    #[test]
    fn joins_at_the_live_edge_then_takes_each_new_segment_once() {
        let mut f = Follower::new();
        let m = media(f.update(&base(), &playlist(10, 2, &names(10..16), false)));
        assert_eq!(seqs(&m), [13, 14, 15]);
        assert_eq!(
            m.segments[0].url.as_str(),
            "https://cdn.example/live/seg13.ts"
        );
        assert_eq!(m.reload_after, Duration::from_secs(1));
        // The same playlist again: nothing; one more segment: that one.
        assert!(
            media(f.update(&base(), &playlist(10, 2, &names(10..16), false)))
                .segments
                .is_empty()
        );
        let m = media(f.update(&base(), &playlist(11, 2, &names(11..17), false)));
        assert_eq!(seqs(&m), [16]);
    }

    #[test]
    fn a_reconnect_takes_what_was_not_fetched() {
        let mut f = Follower::new();
        let m = media(f.update(&base(), &playlist(0, 2, &names(0..6), false)));
        f.fetched(&m.segments[0].url); // seg3 fetched, seg4 and seg5 lost with the connection
        f.reconnected();
        let m = media(f.update(&base(), &playlist(1, 2, &names(1..8), false)));
        assert_eq!(seqs(&m), [1, 2, 4, 5, 6, 7]);
    }

    #[test]
    fn media_sequence_near_the_top_of_u64() {
        let mut f = Follower::new();
        let top = u64::MAX - 2;
        let m = media(f.update(&base(), &playlist(top, 2, &names(0..3), false)));
        assert_eq!(seqs(&m), [top, top + 1, u64::MAX]);
        // Numbers past 2^64-1: an error naming it, not an overflow panic.
        assert_eq!(
            f.update(&base(), &playlist(top, 2, &names(0..4), false)),
            Err(FollowError::SequenceOverflow {
                media_sequence: top,
                segments: 4
            })
        );
        // The server wraps to 0 with new segments: a restart, taken at once.
        let m = media(f.update(&base(), &playlist(0, 2, &names(100..103), false)));
        assert_eq!(seqs(&m), [0, 1, 2]);
        assert_eq!(m.restarted, Some((u64::MAX, 2)));
        let m = media(f.update(&base(), &playlist(1, 2, &names(101..104), false)));
        assert_eq!(seqs(&m), [3]);
    }

    #[test]
    fn the_live_listing_stops_numbering_at_the_top_of_u64() {
        let text = playlist(u64::MAX, 2, &names(0..3), false);
        let text = String::from_utf8(text).expect("utf-8");
        let listing = super::super::parse_media_playlist_uris(&text).expect("parses");
        let seqs: Vec<u64> = listing.segments.iter().map(|s| s.0).collect();
        assert_eq!(seqs, [u64::MAX]);
    }

    #[test]
    fn a_stale_copy_going_backwards_fetches_nothing() {
        let mut f = Follower::new();
        media(f.update(&base(), &playlist(100, 2, &names(100..106), false)));
        let m = media(f.update(&base(), &playlist(98, 2, &names(98..104), false)));
        assert!(m.segments.is_empty() && m.restarted.is_none(), "{m:?}");
        let m = media(f.update(&base(), &playlist(101, 2, &names(101..107), false)));
        assert_eq!(seqs(&m), [106]);
    }

    #[test]
    fn target_durations_of_zero_or_absurd_keep_the_reload_bounded() {
        for (target, reload) in [
            (0, MIN_RELOAD),
            (1, MIN_RELOAD),
            (6, Duration::from_secs(3)),
            (3600, MAX_RELOAD),
            (u64::MAX, MAX_RELOAD),
        ] {
            let mut f = Follower::new();
            let m = media(f.update(&base(), &playlist(0, target, &names(0..1), false)));
            assert_eq!(m.reload_after, reload, "target {target}");
        }
    }

    #[test]
    fn huge_playlists_and_enormous_uris_are_refused() {
        let mut f = Follower::new();
        let big = vec![b'#'; MAX_PLAYLIST_BYTES + 1];
        assert_eq!(
            f.update(&base(), &big),
            Err(FollowError::TooLarge {
                len: MAX_PLAYLIST_BYTES + 1,
                max: MAX_PLAYLIST_BYTES
            })
        );
        let long = vec!["a".repeat(MAX_URI_BYTES + 1)];
        assert!(matches!(
            f.update(&base(), &playlist(7, 2, &long, false)),
            Err(FollowError::UriTooLong { len, .. }) if len == MAX_URI_BYTES + 1
        ));
        // Nothing was taken from the refused playlist.
        assert_eq!(f.last_queued, None);
        // Many segments within the size limit: a live join still takes the edge only.
        let many = names(0..50_000);
        let m = media(f.update(&base(), &playlist(0, 2, &many, false)));
        assert_eq!(seqs(&m), [49_997, 49_998, 49_999]);
    }

    #[test]
    fn an_ended_playlist_is_taken_whole_and_remembered_across_reconnects() {
        let mut f = Follower::new();
        let m = media(f.update(&base(), &playlist(0, 2, &names(0..5), true)));
        assert!(m.ended);
        assert_eq!(seqs(&m), [0, 1, 2, 3, 4]);
        for s in &m.segments {
            f.fetched(&s.url);
        }
        f.reconnected();
        let m = media(f.update(&base(), &playlist(0, 2, &names(0..5), true)));
        assert!(m.segments.is_empty());
    }

    #[test]
    fn master_playlists_lead_to_one_variant() {
        let master = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100000\nlow.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=900000\nhigh/index.m3u8\n";
        let mut f = Follower::new();
        let variant = match f.update(&base(), master) {
            Ok(Update::Variant(u)) => u,
            other => panic!("{other:?}"),
        };
        assert_eq!(variant.as_str(), "https://cdn.example/live/high/index.m3u8");
        assert_eq!(f.update(&variant, master), Err(FollowError::NestedMaster));
        assert!(matches!(
            f.update(&base(), b"not a playlist"),
            Err(FollowError::Parse(_))
        ));
    }

    #[test]
    fn memory_of_fetched_segments_is_bounded() {
        let mut r = Recent::default();
        for i in 0..REMEMBERED_SEGMENTS + 10 {
            r.insert(&format!("https://cdn.example/{i}.ts"));
        }
        assert_eq!(r.order.len(), REMEMBERED_SEGMENTS);
        assert_eq!(r.set.len(), REMEMBERED_SEGMENTS);
        assert!(!r.contains("https://cdn.example/0.ts"));
        assert!(r.contains(&format!(
            "https://cdn.example/{}.ts",
            REMEMBERED_SEGMENTS + 9
        )));
    }
}

//! Extended timestamps on type-3 chunks, both ways.
//!
//! A chunk header carries a 24-bit timestamp; from 0xFFFFFF on (4.66 hours into a stream
//! with absolute timestamps) the real value follows in a 4-byte extended timestamp. RTMP
//! 1.0 repeats those 4 bytes after the basic header of every type-3 (continuation) chunk of
//! such a message, and newer OBS does; older OBS (librtmp before the fix) leaves them out.
//! `rml_rtmp` always expects them, so an older OBS stream turns into garbage after 4.66
//! hours: 4 bytes of media taken as a timestamp, every chunk boundary after that wrong.
//!
//! [`ChunkFix`] reads the chunk headers of the incoming stream (never the media) and, where
//! a type-3 chunk may carry an extended timestamp, peeks at its next 4 bytes: equal to the
//! chunk stream's current extended timestamp, they are it; otherwise the publisher left it
//! out and the fix supplies it, so the session always sees the RTMP 1.0 form (what nginx-rtmp
//! and SRS do; REFERENCE.md section 5). Everything else passes through untouched, in the
//! caller's own buffers.

/// Chunk size until the publisher sets another (RTMP 1.0, 5.4.1).
const DEFAULT_CHUNK_SIZE: u32 = 128;
/// The timestamp field value that announces an extended timestamp.
const EXTENDED: u32 = 0xFF_FFFF;

/// What one chunk stream's last header said.
#[derive(Clone, Copy, Debug, Default)]
struct ChunkStream {
    id: u32,
    /// The 24-bit timestamp (or delta) field.
    timestamp_field: u32,
    /// The extended timestamp that came with it.
    extended: u32,
    length: u32,
    type_id: u8,
    /// Bytes of the current message still to come.
    left: u32,
}

#[derive(Clone, Copy, Debug)]
enum Stage {
    /// Reading a basic header (1 to 3 bytes).
    Basic,
    /// Reading the message header of a chunk of format 0-2 (and its extended timestamp).
    Message { fmt: u8, csid: u32 },
    /// After the basic header of a type-3 chunk whose message has an extended timestamp:
    /// are the next 4 bytes it?
    Peek { csid: u32 },
    /// Skipping a chunk's payload.
    Payload { csid: u32, chunk_left: u32 },
}

/// Supplies the extended timestamps an older publisher leaves out (see the module
/// documentation). Fed the stream in any pieces; hands out the pieces to give the session.
#[derive(Debug)]
pub(crate) struct ChunkFix {
    chunk_size: u32,
    streams: Vec<ChunkStream>,
    stage: Stage,
    /// Header bytes of the chunk being read.
    head: [u8; 18],
    head_len: usize,
    /// The payload of a chunk-size or abort message (4 bytes), as it passes.
    control: Vec<u8>,
    /// Bytes held back: a type-3 header whose next 4 bytes have not arrived.
    held: Vec<u8>,
    /// Something did not parse: pass everything through, as the session alone would.
    off: bool,
    /// Extended timestamps supplied so far.
    pub supplied: u64,
}

/// A piece of the stream for the session.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// Bytes the publisher sent.
    Received(&'a [u8]),
    /// An extended timestamp the publisher left out.
    Supplied([u8; 4]),
}

impl Default for ChunkFix {
    fn default() -> Self {
        ChunkFix {
            chunk_size: DEFAULT_CHUNK_SIZE,
            streams: Vec::new(),
            stage: Stage::Basic,
            head: [0; 18],
            head_len: 0,
            control: Vec::new(),
            held: Vec::new(),
            off: false,
            supplied: 0,
        }
    }
}

impl ChunkFix {
    /// Hands `input` (the next bytes received) to `emit` in pieces, with any extended
    /// timestamps supplied between them. A few bytes may be kept until the next call.
    pub fn feed<E>(
        &mut self,
        input: &[u8],
        emit: &mut dyn FnMut(Piece<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.off {
            return emit(Piece::Received(input));
        }
        if self.held.is_empty() {
            return self.scan(input, emit);
        }
        let mut joined = std::mem::take(&mut self.held);
        joined.extend_from_slice(input);
        self.scan(&joined, emit)
    }

    fn scan<E>(
        &mut self,
        data: &[u8],
        emit: &mut dyn FnMut(Piece<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut start = 0;
        let mut i = 0;
        while i < data.len() && !self.off {
            match self.stage {
                Stage::Payload { csid, chunk_left } => {
                    let n = chunk_left.min((data.len() - i) as u32);
                    let Some(cs) = self.stream(csid) else {
                        self.off = true;
                        break;
                    };
                    let watch = matches!(cs.type_id, 1 | 2) && cs.length <= 8;
                    if watch {
                        self.control.extend_from_slice(&data[i..i + n as usize]);
                    }
                    i += n as usize;
                    let cs = self.stream_mut(csid);
                    cs.left -= n;
                    let message_done = cs.left == 0;
                    let chunk_left = chunk_left - n;
                    if chunk_left == 0 {
                        self.stage = Stage::Basic;
                        if message_done {
                            self.message_done(csid);
                        }
                    } else {
                        self.stage = Stage::Payload { csid, chunk_left };
                    }
                }
                Stage::Basic => {
                    self.head[self.head_len] = data[i];
                    self.head_len += 1;
                    i += 1;
                    let need = match self.head[0] & 0x3f {
                        0 => 2,
                        1 => 3,
                        _ => 1,
                    };
                    if self.head_len < need {
                        continue;
                    }
                    let fmt = self.head[0] >> 6;
                    let csid = match need {
                        2 => u32::from(self.head[1]) + 64,
                        3 => u32::from(self.head[1]) + u32::from(self.head[2]) * 256 + 64,
                        _ => u32::from(self.head[0] & 0x3f),
                    };
                    self.head_len = 0;
                    if fmt < 3 {
                        self.stage = Stage::Message { fmt, csid };
                        continue;
                    }
                    // Type 3: the previous header of this chunk stream applies.
                    let Some(cs) = self.stream(csid) else {
                        self.off = true; // a continuation of nothing: the session will say so
                        break;
                    };
                    if cs.timestamp_field == EXTENDED {
                        self.stage = Stage::Peek { csid };
                    } else {
                        self.start_chunk(csid);
                    }
                }
                Stage::Peek { csid } => {
                    if data.len() - i < 4 {
                        // Decide when the next bytes come: give what is certain now.
                        if i > start {
                            emit(Piece::Received(&data[start..i]))?;
                        }
                        self.held = data[i..].to_vec();
                        return Ok(());
                    }
                    let extended = self.stream(csid).map_or(0, |cs| cs.extended);
                    let next = u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
                    if next == extended {
                        i += 4;
                    } else {
                        if i > start {
                            emit(Piece::Received(&data[start..i]))?;
                        }
                        emit(Piece::Supplied(extended.to_be_bytes()))?;
                        self.supplied += 1;
                        start = i;
                    }
                    self.start_chunk(csid);
                }
                Stage::Message { fmt, csid } => {
                    self.head[self.head_len] = data[i];
                    self.head_len += 1;
                    i += 1;
                    let base = [11, 7, 3][usize::from(fmt)];
                    if self.head_len < base {
                        continue;
                    }
                    let field = u32::from_be_bytes([0, self.head[0], self.head[1], self.head[2]]);
                    let need = base + if field == EXTENDED { 4 } else { 0 };
                    if self.head_len < need {
                        continue;
                    }
                    let h = self.head;
                    self.head_len = 0;
                    if fmt != 0 && self.stream(csid).is_none() {
                        self.off = true; // a delta on a stream with no header yet
                        break;
                    }
                    let cs = self.stream_mut(csid);
                    // A header of format 0-2 starts a message.
                    cs.left = 0;
                    cs.timestamp_field = field;
                    if field == EXTENDED {
                        cs.extended =
                            u32::from_be_bytes([h[base], h[base + 1], h[base + 2], h[base + 3]]);
                    }
                    if fmt <= 1 {
                        cs.length = u32::from_be_bytes([0, h[3], h[4], h[5]]);
                        cs.type_id = h[6];
                    }
                    self.start_chunk(csid);
                }
            }
        }
        if self.off {
            return emit(Piece::Received(&data[start..]));
        }
        if data.len() > start {
            emit(Piece::Received(&data[start..]))?;
        }
        Ok(())
    }

    fn stream(&self, csid: u32) -> Option<ChunkStream> {
        self.streams.iter().find(|s| s.id == csid).copied()
    }

    fn stream_mut(&mut self, csid: u32) -> &mut ChunkStream {
        let i = self
            .streams
            .iter()
            .position(|s| s.id == csid)
            .unwrap_or_else(|| {
                self.streams.push(ChunkStream {
                    id: csid,
                    ..ChunkStream::default()
                });
                self.streams.len() - 1
            });
        &mut self.streams[i]
    }

    /// A chunk header of `csid` was read: its payload follows.
    fn start_chunk(&mut self, csid: u32) {
        let chunk_size = self.chunk_size;
        let cs = self.stream_mut(csid);
        let new_message = cs.left == 0;
        if new_message {
            cs.left = cs.length;
        }
        let chunk_left = cs.left.min(chunk_size);
        if new_message && matches!(cs.type_id, 1 | 2) {
            self.control.clear();
        }
        if chunk_left == 0 {
            self.stage = Stage::Basic;
            self.message_done(csid);
        } else {
            self.stage = Stage::Payload { csid, chunk_left };
        }
    }

    /// A whole message of `csid` went by: a chunk size or an abort changes how chunks read.
    fn message_done(&mut self, csid: u32) {
        let Some(cs) = self.stream(csid) else {
            return;
        };
        if self.control.len() >= 4 {
            let value = u32::from_be_bytes([
                self.control[0],
                self.control[1],
                self.control[2],
                self.control[3],
            ]);
            match cs.type_id {
                1 => {
                    let size = value & 0x7fff_ffff;
                    if size == 0 {
                        self.off = true;
                    } else {
                        self.chunk_size = size;
                    }
                }
                2 => {
                    if let Some(aborted) = self.streams.iter_mut().find(|s| s.id == value) {
                        aborted.left = 0;
                    }
                }
                _ => {}
            }
        }
        self.control.clear();
    }
}

#[cfg(test)]
/// Serializes messages the way librtmp does: a type-0 header per message (absolute
/// timestamps), type-3 continuation chunks, the extended timestamp repeated on them
/// only when `repeat` (RTMP 1.0, newer OBS) and left out otherwise (older OBS).
pub(crate) fn librtmp(
    messages: &[(u32, u8, Vec<u8>)],
    stream_id: u32,
    chunk_size: usize,
    repeat: bool,
) -> Vec<u8> {
    let mut out = Vec::new();
    for (ts, type_id, data) in messages {
        let csid = if *type_id == 1 { 2 } else { 4 };
        let field = (*ts).min(EXTENDED);
        out.push(csid);
        out.extend_from_slice(&field.to_be_bytes()[1..]);
        out.extend_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
        out.push(*type_id);
        out.extend_from_slice(&stream_id.to_le_bytes());
        if field == EXTENDED {
            out.extend_from_slice(&ts.to_be_bytes());
        }
        for (k, chunk) in data.chunks(chunk_size).enumerate() {
            if k > 0 {
                out.push(0xc0 | csid);
                if field == EXTENDED && repeat {
                    out.extend_from_slice(&ts.to_be_bytes());
                }
            }
            out.extend_from_slice(chunk);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use rml_rtmp::chunk_io::ChunkDeserializer;
    use rml_rtmp::messages::MessagePayload;

    use super::*;

    /// Audio-like messages of 300-700 bytes across the 24-bit limit, after a chunk size.
    fn messages() -> Vec<(u32, u8, Vec<u8>)> {
        let mut m = vec![(0, 1, 256u32.to_be_bytes().to_vec())];
        for k in 0..40u32 {
            let ts = EXTENDED - 400 + k * 23;
            let len = 300 + (k as usize * 37) % 400;
            m.push((ts, 8, (0..len).map(|b| (b as u8) ^ (k as u8)).collect()));
        }
        m
    }

    /// The messages the session would read from `stream` fed in pieces of `split` bytes.
    fn read(stream: &[u8], split: usize, fix: bool) -> (Vec<MessagePayload>, u64) {
        let mut de = ChunkDeserializer::new();
        let mut fixer = ChunkFix::default();
        let mut out = Vec::new();
        let mut broken = false;
        let mut take = |bytes: &[u8]| {
            let mut input = bytes;
            // Without the fix the older form breaks the deserializer: what came before counts.
            while let Some(m) = de.get_next_message(input).unwrap_or_else(|e| {
                assert!(!fix, "{e:?}");
                broken = true;
                None
            }) {
                if broken {
                    break;
                }
                input = &[];
                if m.type_id == 1 {
                    let size = u32::from_be_bytes(m.data[..4].try_into().unwrap());
                    de.set_max_chunk_size(size as usize).unwrap();
                }
                out.push(m);
            }
        };
        for piece in stream.chunks(split) {
            if fix {
                fixer
                    .feed::<()>(piece, &mut |p| {
                        match p {
                            Piece::Received(b) => take(b),
                            Piece::Supplied(b) => take(&b),
                        }
                        Ok(())
                    })
                    .unwrap();
            } else {
                take(piece);
            }
        }
        (out, fixer.supplied)
    }

    fn media(messages: &[MessagePayload]) -> Vec<(u32, Bytes)> {
        messages
            .iter()
            .filter(|m| m.type_id == 8)
            .map(|m| (m.timestamp.value, m.data.clone()))
            .collect()
    }

    #[test]
    fn both_forms_read_as_the_same_messages_in_any_pieces() {
        let expected: Vec<(u32, Bytes)> = messages()
            .into_iter()
            .filter(|m| m.1 == 8)
            .map(|(ts, _, d)| (ts, Bytes::from(d)))
            .collect();
        let newer = librtmp(&messages(), 1, 256, true);
        let older = librtmp(&messages(), 1, 256, false);
        assert!(older.len() < newer.len());
        for split in [1, 3, 5, 7, 64, 255, 256, 1000, 1 << 20] {
            let (m, supplied) = read(&newer, split, true);
            assert_eq!(media(&m), expected, "RTMP 1.0 form, pieces of {split}");
            assert_eq!(supplied, 0, "nothing supplied to a stream that has it all");
            let (m, supplied) = read(&older, split, true);
            assert_eq!(media(&m), expected, "older OBS form, pieces of {split}");
            assert!(supplied > 0);
        }
        // Without the fix the older form does not read back (what rml_rtmp alone does).
        let (m, _) = read(&older, 1 << 20, false);
        assert_ne!(media(&m), expected);
    }

    #[test]
    fn streams_below_the_limit_pass_through_whole() {
        let mut messages = messages();
        for m in &mut messages {
            m.0 = m.0.saturating_sub(EXTENDED);
        }
        let stream = librtmp(&messages, 1, 128, true);
        let mut fixer = ChunkFix::default();
        let mut pieces = 0;
        fixer
            .feed::<()>(&stream, &mut |p| {
                assert_eq!(p, Piece::Received(&stream[..]), "the caller's own buffer");
                pieces += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(pieces, 1);
    }

    /// Hostile bytes (random, and a real stream with bytes flipped) never panic, and every
    /// byte received is handed on, in order.
    #[test]
    fn any_bytes_pass_without_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let real = librtmp(&messages(), 1, 256, false);
        for round in 0..300 {
            let input: Vec<u8> = if round % 2 == 0 {
                (0..next() % 5000).map(|_| next() as u8).collect()
            } else {
                let mut r = real.clone();
                for _ in 0..1 + next() % 8 {
                    let at = (next() as usize) % r.len();
                    r[at] = next() as u8;
                }
                r
            };
            let mut fixer = ChunkFix::default();
            let mut received = Vec::new();
            let mut at = 0;
            while at < input.len() {
                let n = (1 + next() % 700) as usize;
                let piece = &input[at..(at + n).min(input.len())];
                fixer
                    .feed::<()>(piece, &mut |p| {
                        if let Piece::Received(b) = p {
                            received.extend_from_slice(b);
                        }
                        Ok(())
                    })
                    .unwrap();
                at += n;
            }
            received.extend_from_slice(&fixer.held);
            assert_eq!(received, input, "round {round}");
        }
    }
}

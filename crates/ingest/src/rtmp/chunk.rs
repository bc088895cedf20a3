//! The RTMP chunk stream (RTMP 1.0, section 5.3), both ways, with limits on what a peer can
//! make us hold.
//!
//! [`ChunkReader`] turns the bytes a peer sends into whole messages. It is written for
//! hostile input: every message length is checked against a limit for its type *before*
//! a byte of it is held, the bytes held in unfinished messages across all chunk streams
//! are capped, and so is the number of chunk streams; a violation is an error that ends
//! the connection, never a panic or an allocation sized by a number the peer chose.
//! Messages on different chunk streams may interleave chunk by chunk, as the
//! specification allows.
//!
//! Extended timestamps on type-3 chunks: from a timestamp field of 0xFFFFFF on (4.66 hours
//! into a stream with absolute timestamps) the real value follows in 4 extra bytes. RTMP 1.0
//! repeats them after the basic header of every type-3 chunk of such a message, and newer
//! OBS does; older OBS (librtmp before the fix) leaves them out. The reader peeks: 4 bytes
//! equal to the chunk stream's current extended timestamp are it, anything else is the
//! payload (what nginx-rtmp and SRS do; REFERENCE.md section 5).
//!
//! [`ChunkWriter`] sends our own messages: a type-0 header, then type-3 continuations.

use bytes::{Bytes, BytesMut};

/// Chunk size until the peer sets another (RTMP 1.0, 5.4.1).
pub const DEFAULT_CHUNK_SIZE: u32 = 128;
/// The timestamp field value that announces an extended timestamp.
const EXTENDED: u32 = 0xFF_FFFF;
/// A chunk is never longer than the longest message (a 24-bit length).
const MAX_CHUNK_SIZE: u32 = 0xFF_FFFF;

/// Message type ids (RTMP 1.0, 5.4 and 7.1).
pub mod kind {
    pub const SET_CHUNK_SIZE: u8 = 1;
    pub const ABORT: u8 = 2;
    pub const ACKNOWLEDGEMENT: u8 = 3;
    pub const USER_CONTROL: u8 = 4;
    pub const WINDOW_ACK_SIZE: u8 = 5;
    pub const SET_PEER_BANDWIDTH: u8 = 6;
    pub const AUDIO: u8 = 8;
    pub const VIDEO: u8 = 9;
    pub const DATA_AMF3: u8 = 15;
    pub const SHARED_OBJECT_AMF3: u8 = 16;
    pub const COMMAND_AMF3: u8 = 17;
    pub const DATA_AMF0: u8 = 18;
    pub const SHARED_OBJECT_AMF0: u8 = 19;
    pub const COMMAND_AMF0: u8 = 20;
    pub const AGGREGATE: u8 = 22;

    /// Types whose payload is AMF (commands, data, shared objects).
    pub fn is_amf(type_id: u8) -> bool {
        matches!(
            type_id,
            DATA_AMF3
                | SHARED_OBJECT_AMF3
                | COMMAND_AMF3
                | DATA_AMF0
                | SHARED_OBJECT_AMF0
                | COMMAND_AMF0
        )
    }
}

/// One whole message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub type_id: u8,
    /// The message stream id (0 for the connection's own commands).
    pub stream_id: u32,
    /// Milliseconds, absolute (deltas already applied), wrapping at 32 bits.
    pub timestamp: u32,
    pub payload: Bytes,
}

/// What a peer may make a [`ChunkReader`] hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLimits {
    /// Longest AMF message (command, data, shared object). `onMetaData` from OBS is well
    /// under 2 KB.
    pub amf_message: u32,
    /// Longest audio, video or aggregate message (a key frame of a high-bitrate stream can
    /// be several MB; the protocol's own limit is 16 MiB).
    pub media_message: u32,
    /// Bytes held in unfinished messages, across all chunk streams.
    pub buffered: usize,
    /// Chunk streams in use (OBS and ffmpeg use four or five).
    pub chunk_streams: usize,
}

impl ReadLimits {
    /// Before a connection publishes: commands only, nothing large.
    pub const SETUP: ReadLimits = ReadLimits {
        amf_message: 64 * 1024,
        media_message: 64 * 1024,
        buffered: 512 * 1024,
        chunk_streams: 16,
    };

    /// A publishing connection (or a pull that plays): media up to the protocol's limit.
    pub const MEDIA: ReadLimits = ReadLimits {
        amf_message: 256 * 1024,
        media_message: 0xFF_FFFF,
        buffered: 24 * 1024 * 1024,
        chunk_streams: 64,
    };

    fn message_limit(&self, type_id: u8) -> u32 {
        match type_id {
            // Protocol control messages are 4 to 10 bytes.
            kind::SET_CHUNK_SIZE..=kind::SET_PEER_BANDWIDTH => 64,
            t if kind::is_amf(t) => self.amf_message,
            _ => self.media_message,
        }
    }
}

/// Why the chunk stream cannot be read further. Each ends the connection.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("a chunk of chunk stream {csid} came before any header for it")]
    NoHeader { csid: u32 },
    #[error("a message of type {type_id} announced {length} bytes; the limit is {limit}")]
    TooLong {
        type_id: u8,
        length: u32,
        limit: u32,
    },
    #[error("more than {limit} chunk streams in use")]
    TooManyChunkStreams { limit: usize },
    #[error("more than {limit} bytes held in unfinished messages")]
    TooMuchBuffered { limit: usize },
    #[error("chunk size {0} is outside 1-16777215")]
    BadChunkSize(u32),
}

/// What one chunk stream's headers said so far.
#[derive(Debug)]
struct ChunkStream {
    csid: u32,
    type_id: u8,
    stream_id: u32,
    length: u32,
    /// Absolute timestamp of the current (or last) message.
    timestamp: u32,
    /// The timestamp field of the last header that had one (absolute for type 0, a delta
    /// for types 1 and 2), extended value included: what a type-3 header that starts a
    /// new message adds (as ffmpeg, nginx-rtmp and librtmp read it).
    ts_field: u32,
    /// That header carried an extended timestamp: type-3 chunks may repeat it.
    extended: bool,
    /// Bytes of the current message still to come; 0 between messages.
    left: u32,
    /// The current message's payload so far.
    buf: BytesMut,
}

#[derive(Clone, Copy, Debug)]
enum Stage {
    /// Reading a basic header (1 to 3 bytes).
    Basic,
    /// Reading the message header of a chunk of format 0-2 (and its extended timestamp).
    Header { fmt: u8, csid: u32 },
    /// After the basic header of a type-3 chunk whose message has an extended timestamp:
    /// are the next 4 bytes it?
    Peek { at: usize, got: usize },
    /// Reading a chunk's payload.
    Payload { at: usize, chunk_left: u32 },
}

/// Reassembles messages from chunks (see the module documentation).
#[derive(Debug)]
pub struct ChunkReader {
    limits: ReadLimits,
    chunk_size: u32,
    streams: Vec<ChunkStream>,
    stage: Stage,
    /// Header bytes of the chunk being read.
    head: [u8; 18],
    head_len: usize,
    /// Bytes read while peeking for an extended timestamp.
    peek: [u8; 4],
    /// Bytes held in unfinished messages.
    buffered: usize,
    /// Bytes to read again before the caller's (a peek that was not an extended
    /// timestamp), from `replay_at` on.
    replay: Vec<u8>,
    replay_at: usize,
    /// Extended timestamps the peer left out of type-3 chunks (older OBS), for a log line.
    pub supplied: u64,
}

impl ChunkReader {
    pub fn new(limits: ReadLimits) -> ChunkReader {
        ChunkReader {
            limits,
            chunk_size: DEFAULT_CHUNK_SIZE,
            streams: Vec::new(),
            stage: Stage::Basic,
            head: [0; 18],
            head_len: 0,
            peek: [0; 4],
            buffered: 0,
            replay: Vec::new(),
            replay_at: 0,
            supplied: 0,
        }
    }

    /// Changes the limits (a connection that starts publishing may send media).
    pub fn set_limits(&mut self, limits: ReadLimits) {
        self.limits = limits;
    }

    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Reads `input` (the next bytes received, in any pieces) and hands every message it
    /// completes to `on_message`, in order.
    pub fn read<E: From<ChunkError>>(
        &mut self,
        mut input: &[u8],
        on_message: &mut dyn FnMut(Message) -> Result<(), E>,
    ) -> Result<(), E> {
        while let Some(m) = self.next(&mut input)? {
            on_message(m)?;
        }
        Ok(())
    }

    /// Reads from `input` until a message is complete (returned, with `input` advanced past
    /// it) or `input` is used up (`None`). Set Chunk Size and Abort take effect here, before
    /// the next chunk is read; they are returned too. A caller can change the limits between
    /// two messages.
    pub fn next(&mut self, input: &mut &[u8]) -> Result<Option<Message>, ChunkError> {
        loop {
            if self.replay_at < self.replay.len() {
                let replay = std::mem::take(&mut self.replay);
                let mut rest = &replay[self.replay_at..];
                let before = rest.len();
                let done = self.step(&mut rest);
                let used = before - rest.len();
                if self.replay.is_empty() {
                    self.replay = replay;
                    self.replay_at += used;
                } else {
                    // Peeked again inside the replay: those bytes go first, then ours.
                    self.replay.extend_from_slice(rest);
                }
                if let Some(m) = done? {
                    return Ok(Some(m));
                }
                continue;
            }
            self.replay.clear();
            self.replay_at = 0;
            if input.is_empty() {
                return Ok(None);
            }
            if let Some(m) = self.step(input)? {
                return Ok(Some(m));
            }
        }
    }

    /// The state machine: consumes `input` until a message completes or it is used up.
    fn step(&mut self, input: &mut &[u8]) -> Result<Option<Message>, ChunkError> {
        while let Some((&byte, rest)) = input.split_first() {
            match self.stage {
                Stage::Payload { at, chunk_left } => {
                    let n = chunk_left.min(u32::try_from(input.len()).unwrap_or(u32::MAX));
                    let (take, rest) = input.split_at(n as usize);
                    *input = rest;
                    if self.buffered + take.len() > self.limits.buffered {
                        return Err(ChunkError::TooMuchBuffered {
                            limit: self.limits.buffered,
                        });
                    }
                    self.buffered += take.len();
                    let cs = &mut self.streams[at];
                    cs.buf.extend_from_slice(take);
                    cs.left -= n;
                    let chunk_left = chunk_left - n;
                    if chunk_left > 0 {
                        self.stage = Stage::Payload { at, chunk_left };
                    } else {
                        self.stage = Stage::Basic;
                        if self.streams[at].left == 0 {
                            return self.complete(at).map(Some);
                        }
                    }
                }
                Stage::Basic => {
                    *input = rest;
                    self.head[self.head_len] = byte;
                    self.head_len += 1;
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
                        self.stage = Stage::Header { fmt, csid };
                    } else if let Some(m) = self.continuation(csid)? {
                        return Ok(Some(m));
                    }
                }
                Stage::Header { fmt, csid } => {
                    *input = rest;
                    self.head[self.head_len] = byte;
                    self.head_len += 1;
                    let base = [11, 7, 3][usize::from(fmt)];
                    if self.head_len < base {
                        continue;
                    }
                    let field = u32::from_be_bytes([0, self.head[0], self.head[1], self.head[2]]);
                    if field == EXTENDED && self.head_len < base + 4 {
                        continue;
                    }
                    self.head_len = 0;
                    if let Some(m) = self.header(fmt, csid, base, field)? {
                        return Ok(Some(m));
                    }
                }
                Stage::Peek { at, got } => {
                    *input = rest;
                    self.peek[got] = byte;
                    if got + 1 < 4 {
                        self.stage = Stage::Peek { at, got: got + 1 };
                        continue;
                    }
                    let extended = self.streams[at].ts_field;
                    let done = self.start_chunk(at)?;
                    if u32::from_be_bytes(self.peek) != extended {
                        // Left out: the 4 bytes were the payload's first. They are read again
                        // (by `next`) before the rest of the input. `self.replay` is empty
                        // here: `next` takes it out while `step` reads from it.
                        self.supplied += 1;
                        self.replay = self.peek.to_vec();
                        self.replay_at = 0;
                        return Ok(done);
                    }
                    if done.is_some() {
                        return Ok(done);
                    }
                }
            }
        }
        Ok(None)
    }

    /// The index of `csid`'s state, created when `create`.
    fn find(&mut self, csid: u32, create: bool) -> Result<usize, ChunkError> {
        if let Some(i) = self.streams.iter().position(|s| s.csid == csid) {
            return Ok(i);
        }
        if !create {
            return Err(ChunkError::NoHeader { csid });
        }
        if self.streams.len() >= self.limits.chunk_streams {
            return Err(ChunkError::TooManyChunkStreams {
                limit: self.limits.chunk_streams,
            });
        }
        self.streams.push(ChunkStream {
            csid,
            type_id: 0,
            stream_id: 0,
            length: 0,
            timestamp: 0,
            ts_field: 0,
            extended: false,
            left: 0,
            buf: BytesMut::new(),
        });
        Ok(self.streams.len() - 1)
    }

    /// A message header of format 0-2 was read (in `self.head`).
    fn header(
        &mut self,
        fmt: u8,
        csid: u32,
        base: usize,
        field: u32,
    ) -> Result<Option<Message>, ChunkError> {
        let h = self.head;
        let at = self.find(csid, fmt == 0)?;
        let value = if field == EXTENDED {
            u32::from_be_bytes([h[base], h[base + 1], h[base + 2], h[base + 3]])
        } else {
            field
        };
        let cs = &mut self.streams[at];
        // A new header in the middle of a message starts over: the unfinished one is gone.
        let held = cs.buf.len();
        cs.buf.clear();
        match fmt {
            0 => {
                cs.timestamp = value;
                cs.length = u32::from_be_bytes([0, h[3], h[4], h[5]]);
                cs.type_id = h[6];
                cs.stream_id = u32::from_le_bytes([h[7], h[8], h[9], h[10]]);
            }
            1 => {
                cs.timestamp = cs.timestamp.wrapping_add(value);
                cs.length = u32::from_be_bytes([0, h[3], h[4], h[5]]);
                cs.type_id = h[6];
            }
            _ => cs.timestamp = cs.timestamp.wrapping_add(value),
        }
        cs.ts_field = value;
        cs.extended = field == EXTENDED;
        self.buffered -= held;
        self.start_message(at)?;
        self.start_chunk(at)
    }

    /// A type-3 basic header of `csid` was read.
    fn continuation(&mut self, csid: u32) -> Result<Option<Message>, ChunkError> {
        let at = self.find(csid, false)?;
        let cs = &mut self.streams[at];
        if cs.left == 0 {
            // A new message with the previous header's fields and timestamp delta.
            cs.timestamp = cs.timestamp.wrapping_add(cs.ts_field);
            self.start_message(at)?;
        }
        if self.streams[at].extended {
            self.stage = Stage::Peek { at, got: 0 };
            Ok(None)
        } else {
            self.start_chunk(at)
        }
    }

    /// Checks a new message's length against the limit for its type.
    fn start_message(&mut self, at: usize) -> Result<(), ChunkError> {
        let cs = &mut self.streams[at];
        let limit = self.limits.message_limit(cs.type_id);
        if cs.length > limit {
            return Err(ChunkError::TooLong {
                type_id: cs.type_id,
                length: cs.length,
                limit,
            });
        }
        cs.left = cs.length;
        // Room for a typical message, never for what the header merely announces.
        cs.buf.reserve((cs.length as usize).min(64 * 1024));
        Ok(())
    }

    /// A chunk header of stream `at` was read: its payload follows (or, for a message of
    /// no bytes, it is complete).
    fn start_chunk(&mut self, at: usize) -> Result<Option<Message>, ChunkError> {
        let left = self.streams[at].left;
        if left == 0 {
            self.stage = Stage::Basic;
            return self.complete(at).map(Some);
        }
        self.stage = Stage::Payload {
            at,
            chunk_left: left.min(self.chunk_size),
        };
        Ok(None)
    }

    /// Stream `at`'s message is whole: protocol messages that change how chunks read take
    /// effect, then it is returned.
    fn complete(&mut self, at: usize) -> Result<Message, ChunkError> {
        let cs = &mut self.streams[at];
        let message = Message {
            type_id: cs.type_id,
            stream_id: cs.stream_id,
            timestamp: cs.timestamp,
            payload: cs.buf.split().freeze(),
        };
        self.buffered -= message.payload.len();
        let value = message
            .payload
            .get(..4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        match (message.type_id, value) {
            (kind::SET_CHUNK_SIZE, Some(v)) => {
                // The top bit is reserved (RTMP 1.0, 5.4.1).
                let size = v & 0x7fff_ffff;
                if !(1..=MAX_CHUNK_SIZE).contains(&size) {
                    return Err(ChunkError::BadChunkSize(size));
                }
                self.chunk_size = size;
            }
            (kind::ABORT, Some(csid)) => {
                // (Between chunks here: the stage is a basic header.)
                if let Some(aborted) = self.streams.iter_mut().find(|s| s.csid == csid) {
                    let held = aborted.buf.len();
                    aborted.buf.clear();
                    aborted.left = 0;
                    self.buffered -= held;
                }
            }
            _ => {}
        }
        Ok(message)
    }
}

/// Counts the bytes received and says when an acknowledgement is due (RTMP 1.0, 5.4.3: once
/// the peer's window of bytes has come in since the last one; the sequence number is every
/// byte so far, wrapping at 2^32). Windows count from the end of the handshake.
#[derive(Debug, Default)]
pub struct Acks {
    received: u64,
    window: u32,
    acked: u64,
}

impl Acks {
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Handshake bytes: counted, never acknowledged.
    pub fn handshake(&mut self, n: usize) {
        self.received += n as u64;
        self.acked = self.received;
    }

    /// The peer's Window Acknowledgement Size.
    pub fn set_window(&mut self, payload: &[u8]) {
        if let Some(b) = payload.get(..4) {
            self.window = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        }
    }

    /// How many of `len` bytes to read before the next acknowledgement falls due.
    pub fn until_due(&self, len: usize) -> usize {
        if self.window == 0 {
            return len;
        }
        let due = (self.acked + u64::from(self.window)).saturating_sub(self.received);
        len.min(usize::try_from(due.max(1)).unwrap_or(usize::MAX))
    }

    /// Counts `n` bytes read; the Acknowledgement payload when one is due now.
    pub fn count(&mut self, n: usize) -> Option<[u8; 4]> {
        self.received += n as u64;
        if self.window == 0 || self.received - self.acked < u64::from(self.window) {
            return None;
        }
        self.acked = self.received;
        Some((self.received as u32).to_be_bytes())
    }
}

/// The User Control payload answering a PingRequest (event 6) with a PingResponse (7) and
/// the same timestamp.
pub fn ping_reply(m: &Message) -> Option<Vec<u8>> {
    if m.type_id != kind::USER_CONTROL || m.payload.len() < 6 || m.payload[..2] != [0, 6] {
        return None;
    }
    let mut reply = vec![0, 7];
    reply.extend_from_slice(&m.payload[2..6]);
    Some(reply)
}

/// Writes our own messages as chunks.
#[derive(Debug)]
pub struct ChunkWriter {
    chunk_size: u32,
}

/// Chunk streams we send on: protocol control, commands, data.
pub mod csid {
    pub const CONTROL: u8 = 2;
    pub const COMMAND: u8 = 3;
    pub const DATA: u8 = 4;
}

impl Default for ChunkWriter {
    fn default() -> Self {
        ChunkWriter {
            chunk_size: DEFAULT_CHUNK_SIZE,
        }
    }
}

impl ChunkWriter {
    /// Appends a Set Chunk Size message (at the current size) and uses `size` from then on.
    pub fn set_chunk_size(&mut self, out: &mut Vec<u8>, size: u32) {
        let size = size.clamp(1, MAX_CHUNK_SIZE);
        self.write(
            out,
            csid::CONTROL,
            kind::SET_CHUNK_SIZE,
            0,
            0,
            &size.to_be_bytes(),
        );
        self.chunk_size = size;
    }

    /// Appends one message: a type-0 header, then type-3 continuation chunks (repeating an
    /// extended timestamp, RTMP 1.0). `payload` is at most 16 MiB - 1 (ours are small).
    pub fn write(
        &self,
        out: &mut Vec<u8>,
        csid: u8,
        type_id: u8,
        stream_id: u32,
        timestamp: u32,
        payload: &[u8],
    ) {
        let csid = csid.clamp(2, 63);
        let field = timestamp.min(EXTENDED);
        let length = (payload.len() as u32).min(0xFF_FFFF);
        out.push(csid);
        out.extend_from_slice(&field.to_be_bytes()[1..]);
        out.extend_from_slice(&length.to_be_bytes()[1..]);
        out.push(type_id);
        out.extend_from_slice(&stream_id.to_le_bytes());
        if field == EXTENDED {
            out.extend_from_slice(&timestamp.to_be_bytes());
        }
        let payload = &payload[..length as usize];
        for (k, chunk) in payload.chunks(self.chunk_size as usize).enumerate() {
            if k > 0 {
                out.push(0xc0 | csid);
                if field == EXTENDED {
                    out.extend_from_slice(&timestamp.to_be_bytes());
                }
            }
            out.extend_from_slice(chunk);
        }
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
    use rml_rtmp::chunk_io::ChunkSerializer;
    use rml_rtmp::messages::MessagePayload;
    use rml_rtmp::time::RtmpTimestamp;

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

    /// Every message read from `stream` fed in pieces of `split` bytes.
    fn read_all(
        reader: &mut ChunkReader,
        stream: &[u8],
        split: usize,
    ) -> Result<Vec<Message>, ChunkError> {
        let mut out = Vec::new();
        for piece in stream.chunks(split) {
            reader.read::<ChunkError>(piece, &mut |m| {
                out.push(m);
                Ok(())
            })?;
        }
        Ok(out)
    }

    fn audio(messages: &[Message]) -> Vec<(u32, Bytes)> {
        messages
            .iter()
            .filter(|m| m.type_id == 8)
            .map(|m| (m.timestamp, m.payload.clone()))
            .collect()
    }

    #[test]
    fn both_extended_timestamp_forms_read_as_the_same_messages_in_any_pieces() {
        let expected: Vec<(u32, Bytes)> = messages()
            .into_iter()
            .filter(|m| m.1 == 8)
            .map(|(ts, _, d)| (ts, Bytes::from(d)))
            .collect();
        let newer = librtmp(&messages(), 1, 256, true);
        let older = librtmp(&messages(), 1, 256, false);
        assert!(older.len() < newer.len());
        for split in [1, 3, 5, 7, 64, 255, 256, 1000, 1 << 20] {
            let mut r = ChunkReader::new(ReadLimits::MEDIA);
            let m = read_all(&mut r, &newer, split).unwrap();
            assert_eq!(audio(&m), expected, "RTMP 1.0 form, pieces of {split}");
            assert_eq!(
                r.supplied, 0,
                "nothing supplied to a stream that has it all"
            );
            let mut r = ChunkReader::new(ReadLimits::MEDIA);
            let m = read_all(&mut r, &older, split).unwrap();
            assert_eq!(audio(&m), expected, "older OBS form, pieces of {split}");
            assert!(r.supplied > 0);
        }
    }

    /// What rml_rtmp's serializer writes (header compression: types 1, 2 and 3 for new
    /// messages, deltas) reads back as what was serialized.
    #[test]
    fn compressed_headers_read_back() {
        let mut ser = ChunkSerializer::new();
        let mut bytes = Vec::new();
        let mut sent = Vec::new();
        for k in 0..200u32 {
            let (type_id, ts, len) = match k % 3 {
                0 => (9u8, k * 33, 3000 + k as usize),
                1 => (8, k * 21, 200),
                _ => (8, k * 21 + 7, 200),
            };
            let data: Vec<u8> = (0..len).map(|b| (b as u32 ^ k) as u8).collect();
            let p = MessagePayload {
                timestamp: RtmpTimestamp::new(ts),
                type_id,
                message_stream_id: 1,
                data: Bytes::from(data.clone()),
            };
            bytes.extend(ser.serialize(&p, false, false).unwrap().bytes);
            sent.push((type_id, ts, data));
        }
        for split in [1, 7, 128, 4096, 1 << 20] {
            let mut r = ChunkReader::new(ReadLimits::MEDIA);
            let got: Vec<(u8, u32, Vec<u8>)> = read_all(&mut r, &bytes, split)
                .unwrap()
                .into_iter()
                .map(|m| (m.type_id, m.timestamp, m.payload.to_vec()))
                .collect();
            assert_eq!(got, sent, "pieces of {split}");
        }
    }

    #[test]
    fn interleaved_chunk_streams_reassemble_separately() {
        // Two 300-byte messages on chunk streams 4 and 5, chunk by chunk (128 bytes).
        let a: Vec<u8> = (0..300).map(|i| i as u8).collect();
        let b: Vec<u8> = (0..300).map(|i| 255 - i as u8).collect();
        let mut s = Vec::new();
        let header = |csid: u8, type_id: u8, ts: u32, len: usize| {
            let mut h = vec![csid];
            h.extend_from_slice(&ts.to_be_bytes()[1..]);
            h.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
            h.push(type_id);
            h.extend_from_slice(&1u32.to_le_bytes());
            h
        };
        s.extend(header(4, 9, 10, 300));
        s.extend_from_slice(&a[..128]);
        s.extend(header(5, 8, 20, 300));
        s.extend_from_slice(&b[..128]);
        for k in 1..3 {
            let range = 128 * k..(128 * (k + 1)).min(300);
            s.push(0xc4);
            s.extend_from_slice(&a[range.clone()]);
            s.push(0xc5);
            s.extend_from_slice(&b[range]);
        }
        let mut r = ChunkReader::new(ReadLimits::MEDIA);
        let m = read_all(&mut r, &s, 1000).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].type_id, m[0].timestamp), (9, 10));
        assert_eq!(m[0].payload, a);
        assert_eq!((m[1].type_id, m[1].timestamp), (8, 20));
        assert_eq!(m[1].payload, b);
    }

    #[test]
    fn limits_are_checked_before_anything_is_held() {
        // A command announcing 16 MB: refused at its header, before a byte of it.
        let mut s = vec![3, 0, 0, 0, 0xff, 0xff, 0xff, 20, 0, 0, 0, 0];
        s.extend_from_slice(&[0; 10]);
        let mut r = ChunkReader::new(ReadLimits::SETUP);
        assert_eq!(
            read_all(&mut r, &s, 1000),
            Err(ChunkError::TooLong {
                type_id: 20,
                length: 0xFF_FFFF,
                limit: 64 * 1024
            })
        );
        // Before publishing, video is held to the setup limit too.
        let mut r = ChunkReader::new(ReadLimits::SETUP);
        let s = librtmp(&[(0, 9, vec![0; 100_000])], 1, 128, true);
        assert!(matches!(
            read_all(&mut r, &s, 4096),
            Err(ChunkError::TooLong { type_id: 9, .. })
        ));
        // Unfinished messages on many chunk streams: capped in bytes, then in streams.
        let mut s = Vec::new();
        for csid in 3..60u8 {
            s.push(csid);
            s.extend_from_slice(&[0, 0, 0, 0, 0xf0, 0, 9, 1, 0, 0, 0]);
            s.extend_from_slice(&[0; 128]);
        }
        let limits = ReadLimits {
            buffered: 128 * 20,
            ..ReadLimits::MEDIA
        };
        let mut r = ChunkReader::new(limits);
        assert_eq!(
            read_all(&mut r, &s, 4096),
            Err(ChunkError::TooMuchBuffered { limit: 128 * 20 })
        );
        let mut r = ChunkReader::new(ReadLimits::SETUP);
        assert!(matches!(
            read_all(&mut r, &s, 4096),
            Err(ChunkError::TooLong { .. } | ChunkError::TooManyChunkStreams { .. })
        ));
        let limits = ReadLimits {
            chunk_streams: 10,
            ..ReadLimits::MEDIA
        };
        let mut r = ChunkReader::new(limits);
        assert_eq!(
            read_all(&mut r, &s, 4096),
            Err(ChunkError::TooManyChunkStreams { limit: 10 })
        );
    }

    #[test]
    fn chunk_size_zero_and_continuations_of_nothing_are_errors() {
        let s = librtmp(&[(0, 1, 0u32.to_be_bytes().to_vec())], 0, 128, true);
        let mut r = ChunkReader::new(ReadLimits::SETUP);
        assert_eq!(read_all(&mut r, &s, 100), Err(ChunkError::BadChunkSize(0)));
        let mut r = ChunkReader::new(ReadLimits::SETUP);
        assert_eq!(
            read_all(&mut r, &[0xc7, 1, 2], 100),
            Err(ChunkError::NoHeader { csid: 7 })
        );
        let mut r = ChunkReader::new(ReadLimits::SETUP);
        assert_eq!(
            read_all(&mut r, &[0x47, 0, 0, 1, 0, 0, 4, 9], 100),
            Err(ChunkError::NoHeader { csid: 7 })
        );
    }

    #[test]
    fn an_abort_drops_the_unfinished_message() {
        let mut s = librtmp(&[(0, 9, vec![7; 300])], 1, 128, true);
        s.truncate(12 + 128); // the first chunk only
        s.extend(librtmp(
            &[(0, 2, 4u32.to_be_bytes().to_vec())],
            0,
            128,
            true,
        ));
        s.extend(librtmp(&[(40, 9, vec![8; 10])], 1, 128, true));
        let mut r = ChunkReader::new(ReadLimits::MEDIA);
        let m = read_all(&mut r, &s, 7).unwrap();
        let video: Vec<_> = m.iter().filter(|m| m.type_id == 9).collect();
        assert_eq!(video.len(), 1);
        assert_eq!(video[0].payload, vec![8; 10]);
        assert_eq!(r.buffered, 0);
    }

    #[test]
    fn written_messages_read_back_at_any_chunk_size() {
        for size in [1, 128, 4096, 70_000] {
            let mut w = ChunkWriter::default();
            let mut out = Vec::new();
            w.set_chunk_size(&mut out, size);
            let payload: Vec<u8> = (0..100_000).map(|i| (i % 251) as u8).collect();
            w.write(&mut out, csid::DATA, 9, 1, 0x0100_0000, &payload);
            w.write(&mut out, csid::COMMAND, 20, 0, 5, b"hello");
            let mut r = ChunkReader::new(ReadLimits::MEDIA);
            let m = read_all(&mut r, &out, 999).unwrap();
            assert_eq!(m.len(), 3, "chunk size {size}");
            assert_eq!(m[1].payload, payload);
            assert_eq!(m[1].timestamp, 0x0100_0000);
            assert_eq!(m[2].payload, &b"hello"[..]);
            assert_eq!(r.supplied, 0);
        }
    }

    /// Hostile bytes (random, and a real stream with bytes flipped) never panic and never
    /// hold more than the limit.
    #[test]
    fn any_bytes_read_without_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let real = librtmp(&messages(), 1, 256, false);
        for round in 0..500 {
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
            let mut reader = ChunkReader::new(ReadLimits::SETUP);
            let mut at = 0;
            while at < input.len() {
                let n = (1 + next() % 700) as usize;
                let piece = &input[at..(at + n).min(input.len())];
                if reader.read::<ChunkError>(piece, &mut |_| Ok(())).is_err() {
                    break;
                }
                assert!(reader.buffered <= ReadLimits::SETUP.buffered);
                at += n;
            }
        }
    }
}

//! One recording: the frames of one AppName/StreamName from its first publish until the
//! interruption window expires after the last one.
//!
//! Timeline. Each publish ("attachment") brings its own media clock (OBS restarts at 0 on
//! every reconnect). The recording maps them onto one timeline that starts at 0 at the
//! first frame and follows the wall clock across gaps:
//! `t = frame.dts - attachment's first dts + offset`, where `offset` is the wall-clock time
//! since the recording began when the attachment's first frame arrived (never less than
//! the end of what is already written, so time never goes backwards). Names and
//! `PROGRAM-DATE-TIME` come from `t0 + t`.

use std::sync::Arc;

use chrono::Utc;
use tapedeck_ingest::PublishRequest;
use tapedeck_media::{Frame, MediaEvent, MediaTime, TrackKind, Tracks};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::{Format, Template};
use crate::events::RecorderEvent;
use crate::hub::{Registry, WallClock};
use crate::output::flv::FlvOutput;
use crate::output::hls::HlsOutput;
use crate::output::mp4::Mp4Output;
use crate::output::{Extent, FileJob, Output, OutputContext};

mod disk_full;

/// A publisher joining (or re-joining) a recording.
pub struct Attachment {
    pub request: PublishRequest,
    pub media: mpsc::Receiver<MediaEvent>,
    pub dropped: Arc<std::sync::atomic::AtomicU64>,
}

/// How long one kind of media may flow without a config for the other before the stream
/// is taken to be video-only or audio-only.
const SETTLE_WAIT: MediaTime = MediaTime::from_millis(1500);
/// Bound on what is held while settling (about 10 s of a 30 fps stream with audio).
const SETTLE_MAX_EVENTS: usize = 1024;

pub(crate) struct Recording {
    /// Where finished files are reported (the engine's sink, then the event).
    finisher: crate::sink::Finisher,
    in_place: bool,
    /// Where to ask whether to record (`[callback] on_demand_url`), if anywhere.
    on_demand: Option<crate::on_demand::OnDemand>,
    /// True once the on-demand answer (if any) is in.
    decided: bool,
    /// False while recording is stopped by request.
    enabled: bool,
    clock: WallClock,
    pub app: String,
    pub stream: String,
    template: Template,
    root: std::path::PathBuf,
    events: broadcast::Sender<RecorderEvent>,
    outputs: Vec<Box<dyn Output>>,
    jobs: Vec<FileJob>,
    tracks: Tracks,
    /// Wall-clock start of the recording and the instant it corresponds to.
    started: Option<(chrono::DateTime<Utc>, Instant)>,
    /// Timeline offset of the current attachment: `t = dts + offset`.
    offset: Option<MediaTime>,
    /// How far everything written so far reaches on the timeline: the latest frame's end
    /// (its dts plus its duration), where the last segment before a gap ends.
    written: Extent,
    /// Media held until the stream's tracks are known (see `settle`).
    pending: Vec<MediaEvent>,
    settled: bool,
    dropped: Vec<Arc<std::sync::atomic::AtomicU64>>,
    /// Chapters asked for before the first frame: marked when the outputs open.
    pending_chapters: Vec<String>,
    /// Live stats (`tapedeck streams`, the app's Live screen).
    meter: crate::stats::Meter,
    /// The format of each of `outputs`, in the same order.
    formats: Vec<Format>,
    starts: StartSeconds,
    /// A full disk: stopped, and when to look for room again (`recording/disk_full.rs`).
    halt: Option<crate::space::Halt>,
    /// Room set aside for finishing files on a full disk.
    reserve: Option<Arc<crate::space::Reserve>>,
    /// Write failures, each said once.
    repeats: crate::space::Repeats,
    /// Media bytes written since the timeline began (the rate a resume waits room for).
    media_bytes: u64,
}

/// What every recording of a recorder shares.
pub(crate) struct Shared {
    /// The recordings folder.
    pub root: std::path::PathBuf,
    pub events: broadcast::Sender<RecorderEvent>,
    pub clock: WallClock,
    pub sink: Option<Arc<dyn crate::sink::FileSink>>,
    pub in_place: bool,
    pub reserve: Option<Arc<crate::space::Reserve>>,
    /// The recorder's shutdown: files waiting for room give up then.
    pub stop: CancellationToken,
    /// The second (UTC) the last recording of each stream (`app/stream`) started in.
    pub starts: StartSeconds,
}

/// The second (UTC) the last recording of each stream started in: file names are made of
/// whole seconds, so a stream's next recording must not start in the same one (its
/// segments and `.part` files would take the names of the previous recording's, which may
/// still be finishing).
pub(crate) type StartSeconds = Arc<std::sync::Mutex<std::collections::HashMap<String, i64>>>;

impl Recording {
    pub fn new(
        app: String,
        stream: String,
        template: Template,
        shared: Shared,
        on_demand: Option<crate::on_demand::OnDemand>,
        meter: crate::stats::Meter,
    ) -> Self {
        let Shared {
            root,
            events,
            clock,
            sink,
            in_place,
            reserve,
            stop,
            starts,
        } = shared;
        Recording {
            in_place,
            finisher: crate::sink::Finisher::new(sink, events.clone()).with_stop(stop),
            halt: None,
            reserve,
            repeats: crate::space::Repeats::default(),
            media_bytes: 0,
            decided: on_demand.is_none(),
            on_demand,
            enabled: true,
            clock,
            app,
            stream,
            template,
            root,
            events,
            outputs: Vec::new(),
            jobs: Vec::new(),
            tracks: Tracks::default(),
            started: None,
            offset: None,
            written: Extent::new(MediaTime::ZERO),
            pending: Vec::new(),
            settled: false,
            dropped: Vec::new(),
            pending_chapters: Vec::new(),
            meter,
            formats: Vec::new(),
            starts,
        }
    }

    fn emit(&self, event: RecorderEvent) {
        let _ = self.events.send(event);
    }

    /// Runs the recording until its window expires after the last publisher, or shutdown.
    ///
    /// Ending is decided under the registry's lock: a publish that arrives while the window
    /// expires either reaches this recording's queue before the lock is taken (and resumes
    /// it) or finds the entry gone (and starts a new recording). Nothing falls in between.
    pub async fn run(
        mut self,
        first: Attachment,
        mut attachments: mpsc::Receiver<Attachment>,
        registry: Arc<Registry>,
        id: u64,
        shutdown: CancellationToken,
        mut control: mpsc::Receiver<crate::hub::Control>,
    ) {
        let label = format!("{}/{}", self.app, self.stream);
        self.emit(RecorderEvent::RecordStarted {
            app: self.app.clone(),
            stream: self.stream.clone(),
            origin: first.request.origin.clone(),
            push_args: first.request.args.clone(),
        });
        info!(stream = %label, origin = %first.request.origin, "recording started");
        let mut current = Some(first);
        'outer: loop {
            if let Some(att) = current.take() {
                self.dropped.push(att.dropped.clone());
                self.meter
                    .attached(&att.request.origin, att.dropped.clone());
                let mut media = att.media;
                self.offset = None;
                loop {
                    tokio::select! {
                        biased;
                        _ = shutdown.cancelled() => break 'outer,
                        Some(newer) = attachments.recv() => {
                            info!(stream = %label, origin = %newer.request.origin, "a new publisher took over");
                            self.discontinuity();
                            self.emit(RecorderEvent::RecordResumed { app: self.app.clone(), stream: self.stream.clone(), origin: newer.request.origin.clone(), push_args: newer.request.args.clone() });
                            current = Some(newer);
                            continue 'outer;
                        }
                        Some(c) = control.recv() => self.control(c),
                        ev = media.recv() => match ev {
                            Some(ev) => self.on_event(ev),
                            None => break,
                        },
                    }
                    if self.settled && !self.decided && self.ready_to_ask() {
                        self.decide().await;
                    }
                    self.reap_jobs();
                }
            }
            // The publisher left: wait for the interruption window.
            self.meter.detached();
            self.discontinuity();
            let window = self.template.interruption_window.0;
            self.emit(RecorderEvent::RecordPaused {
                app: self.app.clone(),
                stream: self.stream.clone(),
                window_secs: window,
            });
            info!(stream = %label, "publisher gone; waiting {window}s for it to come back");
            let deadline = Instant::now() + std::time::Duration::from_secs(window);
            let key = (self.app.clone(), self.stream.clone());
            let resumed = loop {
                tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => break None,
                    Some(att) = attachments.recv() => break Some(Some(att)),
                    // A chapter or a stop may come while the publisher is away.
                    Some(c) = control.recv() => self.control(c),
                    _ = tokio::time::sleep_until(deadline) => {
                        let mut map = registry.lock();
                        match attachments.try_recv() {
                            Ok(att) => break Some(Some(att)),
                            Err(_) => {
                                if map.get(&key).is_some_and(|e| e.id == id) {
                                    map.remove(&key);
                                }
                                break Some(None);
                            }
                        }
                    }
                }
            };
            let Some(resumed) = resumed else { break 'outer };
            match resumed {
                Some(att) => {
                    info!(stream = %label, origin = %att.request.origin, "publisher is back within the window: same recording");
                    self.emit(RecorderEvent::RecordResumed {
                        app: self.app.clone(),
                        stream: self.stream.clone(),
                        origin: att.request.origin.clone(),
                        push_args: att.request.args.clone(),
                    });
                    current = Some(att);
                }
                None => break,
            }
        }
        // On shutdown the entry may still be registered: remove it so nothing attaches to a
        // recording that is finishing.
        {
            let mut map = registry.lock();
            if map
                .get(&(self.app.clone(), self.stream.clone()))
                .is_some_and(|e| e.id == id)
            {
                map.remove(&(self.app.clone(), self.stream.clone()));
            }
        }
        self.finish().await;
    }

    fn control(&mut self, c: crate::hub::Control) {
        match c {
            crate::hub::Control::Record(on) => self.set_enabled(on),
            crate::hub::Control::Chapter { title, reply } => {
                let _ = reply.send(self.chapter(&title));
            }
        }
    }

    /// Marks a chapter at the live edge (the end of what is written) in every output, and
    /// in the catalog through the sink. Before the first frame it waits for the outputs
    /// (and starts with them). Returns its wall-clock time.
    fn chapter(&mut self, title: &str) -> Result<chrono::DateTime<Utc>, crate::hub::ControlError> {
        let label = format!("{}/{}", self.app, self.stream);
        if !self.enabled {
            return Err(crate::hub::ControlError::NotRecording(label));
        }
        let Some((t0, _)) = self.started else {
            self.pending_chapters.push(title.to_string());
            return Ok((self.clock)());
        };
        let at = self.written.end;
        for out in self.outputs.iter_mut() {
            if let Err(e) = out.chapter(at, title) {
                warn!(stream = %label, "the chapter {title:?} did not reach a file: {e}");
            }
        }
        let wall = t0 + chrono::Duration::microseconds(at.0 * 100 / 9);
        self.finisher.chapter(tapedeck_catalog::Chapter {
            app: self.app.clone(),
            stream: self.stream.clone(),
            recording: format!("{}/{}/{}", self.app, self.stream, t0.timestamp_millis()),
            at_ms: wall.timestamp_millis(),
            title: title.to_string(),
        });
        info!(stream = %label, title, at = %wall, "chapter marked");
        Ok(wall)
    }

    /// Manual control (`tapedeck record start|stop`): stopping finishes every open file now
    /// and drops the stream's media until recording starts again, in new files on a new
    /// timeline. The session itself (and its window) goes on.
    fn set_enabled(&mut self, on: bool) {
        if on == self.enabled {
            return;
        }
        self.enabled = on;
        self.meter.set_recording(on);
        let label = format!("{}/{}", self.app, self.stream);
        if on {
            info!(stream = %label, "recording started by request");
        } else {
            info!(stream = %label, "recording stopped by request; the stream stays connected");
            for out in self.outputs.iter_mut() {
                if let Err(e) = out.close(&mut self.jobs) {
                    warn!(stream = %label, "closing failed: {e}");
                }
            }
            self.outputs.clear();
            self.started = None;
            self.offset = None;
            self.written = Extent::new(MediaTime::ZERO);
        }
        self.emit(RecorderEvent::RecordToggled {
            app: self.app.clone(),
            stream: self.stream.clone(),
            recording: on,
        });
    }

    /// Asks the on-demand URL whether and how to record, then replays the held media.
    async fn decide(&mut self) {
        let label = format!("{}/{}", self.app, self.stream);
        if let Some(on_demand) = self.on_demand.clone() {
            let facts = self.facts();
            match crate::on_demand::ask(&on_demand, &facts).await {
                Ok(decision) => match crate::on_demand::apply(&self.template, &decision) {
                    Some(t) => {
                        info!(stream = %label, formats = ?t.formats, "on-demand: recording");
                        self.template = t;
                    }
                    None => {
                        info!(stream = %label, "on-demand: not recording this stream (`tapedeck record start` can)");
                        self.enabled = false;
                    }
                },
                Err(e) => {
                    warn!(stream = %label, "on-demand URL {}: {e}; recording by the template", tapedeck_ingest::redact::url(&on_demand.url))
                }
            }
        }
        self.decided = true;
        self.replay_pending();
    }

    /// The on-demand question carries the video bitrate: ask once a second of video is
    /// held (or at once for an audio-only stream, or when the hold is full).
    fn ready_to_ask(&self) -> bool {
        let mut video = self.pending.iter().filter_map(|e| match e {
            MediaEvent::Frame(f) if f.is_video() => Some(f.dts),
            _ => None,
        });
        let first = video.next();
        let last = video.last();
        let span = first.zip(last).map_or(MediaTime::ZERO, |(a, b)| b - a);
        let has_video = self.tracks.video.is_some()
            || self
                .pending
                .iter()
                .any(|e| matches!(e, MediaEvent::VideoConfig(_)));
        !has_video || span >= MediaTime::from_secs(1) || self.pending.len() > SETTLE_MAX_EVENTS
    }

    /// Codec and video bitrate as seen in the media held so far.
    fn facts(&self) -> crate::on_demand::StreamFacts {
        let codec = self
            .tracks
            .video
            .as_ref()
            .map(|v| v.codec)
            .or_else(|| {
                self.pending.iter().find_map(|e| {
                    if let MediaEvent::VideoConfig(c) = e {
                        Some(c.codec)
                    } else {
                        None
                    }
                })
            })
            .map_or("none", |c| c.name());
        let video: Vec<&Frame> = self
            .pending
            .iter()
            .filter_map(|e| match e {
                MediaEvent::Frame(f) if f.is_video() => Some(f),
                _ => None,
            })
            .collect();
        let bytes: usize = video.iter().map(|f| f.data.len()).sum();
        let span = match (video.first(), video.last()) {
            (Some(a), Some(b)) if b.dts > a.dts => (b.dts - a.dts).as_secs_f64(),
            _ => 0.0,
        };
        let vbitrate_kbps = if span > 0.0 {
            (bytes as f64 * 8.0 / span / 1000.0) as u64
        } else {
            0
        };
        crate::on_demand::StreamFacts {
            app: self.app.clone(),
            stream: self.stream.clone(),
            codec: codec.to_string(),
            vbitrate_kbps,
        }
    }

    fn on_event(&mut self, ev: MediaEvent) {
        match &ev {
            MediaEvent::Frame(f) => self.meter.frame(f),
            MediaEvent::VideoConfig(c) => self.meter.video_config(c),
            MediaEvent::AudioConfig(c) => self.meter.audio_config(c),
        }
        if self.settled && !self.decided {
            self.pending.push(ev);
            return;
        }
        if !self.settled {
            self.pending.push(ev);
            self.settle();
            return;
        }
        self.apply(ev);
    }

    /// Holds media until the tracks are known, so outputs are created with every track
    /// the stream has: both configs and a video frame; or 1.5 s of one kind of media with
    /// no config for the other (a video-only or audio-only stream).
    fn settle(&mut self) {
        let has = |want: fn(&MediaEvent) -> bool, pending: &[MediaEvent]| pending.iter().any(want);
        let video_config = self.tracks.video.is_some()
            || has(|e| matches!(e, MediaEvent::VideoConfig(_)), &self.pending);
        let audio_config = self.tracks.audio.is_some()
            || has(|e| matches!(e, MediaEvent::AudioConfig(_)), &self.pending);
        let span = |kind: TrackKind| {
            let mut times = self.pending.iter().filter_map(|e| match e {
                MediaEvent::Frame(f) if f.kind == kind => Some(f.dts),
                _ => None,
            });
            let first = times.next();
            let last = times.last().or(first);
            first.zip(last).map(|(a, b)| b - a)
        };
        let video = span(TrackKind::Video);
        let audio = span(TrackKind::Audio);
        let long = |s: Option<MediaTime>| s.is_some_and(|s| s >= SETTLE_WAIT);
        let ready = (video_config && audio_config && video.is_some())
            || (video_config && long(video))
            || (!video_config && long(audio))
            || self.pending.len() > SETTLE_MAX_EVENTS;
        if ready {
            self.settled = true;
            if self.decided {
                self.replay_pending();
            }
        }
    }

    /// Applies what was held while settling (or while the on-demand answer was awaited).
    fn replay_pending(&mut self) {
        {
            let mut pending = std::mem::take(&mut self.pending);
            // The first config of each kind applies from the start, wherever it arrived
            // among the frames (an HLS segment demuxes all its video before its audio):
            // outputs are then created knowing every track.
            for kind in [TrackKind::Video, TrackKind::Audio] {
                let first = pending.iter().position(|e| match e {
                    MediaEvent::VideoConfig(_) => kind == TrackKind::Video,
                    MediaEvent::AudioConfig(_) => kind == TrackKind::Audio,
                    MediaEvent::Frame(_) => false,
                });
                if let Some(i) = first {
                    let config = pending.remove(i);
                    self.apply(config);
                }
            }
            for ev in pending {
                self.apply(ev);
            }
        }
    }

    fn apply(&mut self, ev: MediaEvent) {
        match ev {
            MediaEvent::VideoConfig(c) => {
                let changed = self
                    .tracks
                    .video
                    .as_ref()
                    .is_some_and(|old| old.record != c.record);
                self.tracks.video = Some(c);
                if changed {
                    self.outputs.iter_mut().for_each(|o| o.tracks_changed());
                }
            }
            MediaEvent::AudioConfig(c) => {
                let changed = self
                    .tracks
                    .audio
                    .as_ref()
                    .is_some_and(|old| old.asc != c.asc);
                self.tracks.audio = Some(c);
                if changed {
                    self.outputs.iter_mut().for_each(|o| o.tracks_changed());
                }
            }
            MediaEvent::Frame(f) => self.frame(f),
        }
    }

    fn frame(&mut self, mut f: Frame) {
        if !self.enabled || !self.room_to_record() {
            return;
        }
        if f.kind == TrackKind::Audio && self.tracks.audio.is_none()
            || f.kind == TrackKind::Video && self.tracks.video.is_none()
        {
            return;
        }
        let (t0, at) = match self.started {
            Some(started) => started,
            None => {
                let now = (self.clock)();
                if !self.claim_start_second(now) {
                    return;
                }
                let started = (now, Instant::now());
                self.started = Some(started);
                started
            }
        };
        let offset = match self.offset {
            Some(o) => o,
            None => {
                // First frame of this attachment: place it at the wall-clock time since the
                // recording began, and never before the end of what is already written (the
                // last frame's end, not its start: the segment before the gap ends there,
                // and the next one must not start inside it).
                let since = MediaTime::from_duration(at.elapsed());
                let place = if self.outputs.is_empty() && self.written.end == MediaTime::ZERO {
                    MediaTime::ZERO
                } else {
                    since.max(self.written.end)
                };
                let o = place - f.dts;
                self.offset = Some(o);
                o
            }
        };
        f.dts += offset;
        f.pts += offset;
        if f.dts < MediaTime::ZERO {
            return;
        }
        if self.outputs.is_empty() {
            self.outputs = self.make_outputs(t0);
            self.formats = self.output_formats();
            for title in std::mem::take(&mut self.pending_chapters) {
                let _ = self.chapter(&title);
            }
        }
        let mut failed = Vec::new();
        let mut wrote = crate::stats::Wrote::default();
        for (i, out) in self.outputs.iter_mut().enumerate() {
            match out.write(&f, &self.tracks, &mut self.jobs) {
                Ok(()) => {
                    if let Some(format) = self.formats.get(i) {
                        wrote.add(*format);
                    }
                }
                Err(e) => failed.push((i, e)),
            }
        }
        for (_, e) in failed {
            self.write_failed(e);
        }
        if self.halt.is_some() {
            self.meter.wrote(wrote, f.data.len(), None);
            return; // the timeline starts anew when recording does
        }
        self.media_bytes += f.data.len() as u64;
        self.written.add(&f, &self.tracks);
        self.meter
            .wrote(wrote, f.data.len(), Some(self.written.end));
    }

    /// Whether a recording of this stream may start at `now`, and if so the second is
    /// taken: not in the second the stream's last recording started in (or before it),
    /// whose names it would take (a stop and a start by hand within one second). Frames
    /// until the next second are not recorded: at most a second of a recording that was
    /// just started again, never a file of the one before.
    fn claim_start_second(&self, now: chrono::DateTime<Utc>) -> bool {
        let mut starts = self.starts.lock().unwrap_or_else(|e| e.into_inner());
        let key = format!("{}/{}", self.app, self.stream);
        let second = now.timestamp();
        if starts.get(&key).is_some_and(|&last| second <= last) {
            return false;
        }
        starts.insert(key, second);
        true
    }

    /// The template's formats, each once, in the order of `make_outputs`.
    fn output_formats(&self) -> Vec<Format> {
        let mut formats = self.template.formats.clone();
        formats.sort();
        formats.dedup();
        formats
    }

    fn make_outputs(&self, t0: chrono::DateTime<Utc>) -> Vec<Box<dyn Output>> {
        let ctx = OutputContext {
            root: self.root.clone(),
            app: self.app.clone(),
            stream: self.stream.clone(),
            t0,
            tz: self.template.tz(),
            recording: format!("{}/{}/{}", self.app, self.stream, t0.timestamp_millis()),
            template: Arc::new(self.template.clone()),
            finisher: self.finisher.clone(),
            in_place: self.in_place,
        };
        self.output_formats()
            .into_iter()
            .map(|f| -> Box<dyn Output> {
                match f {
                    Format::M3u8 => {
                        Box::new(HlsOutput::new(ctx.clone(), self.template.m3u8.clone()))
                    }
                    Format::Mp4 => Box::new(Mp4Output::new(ctx.clone(), self.template.mp4.clone())),
                    Format::Flv => Box::new(FlvOutput::new(ctx.clone(), self.template.flv.clone())),
                }
            })
            .collect()
    }

    fn discontinuity(&mut self) {
        self.offset = None;
        let mut failed = Vec::new();
        for out in self.outputs.iter_mut() {
            if let Err(e) = out.discontinuity(&mut self.jobs) {
                failed.push(e);
            }
        }
        for e in failed {
            self.write_failed(e);
        }
    }

    /// Emits events for finished background jobs without waiting for the others.
    fn reap_jobs(&mut self) {
        if !self.jobs.iter().any(|j| j.is_finished()) {
            return;
        }
        let (done, running): (Vec<_>, Vec<_>) = std::mem::take(&mut self.jobs)
            .into_iter()
            .partition(|j| j.is_finished());
        self.jobs = running;
        for job in done {
            // A finished JoinHandle resolves at once.
            let events = self.events.clone();
            let label = format!("{}/{}", self.app, self.stream);
            let (app, stream) = (self.app.clone(), self.stream.clone());
            tokio::spawn(async move { report(job, &events, &label, app, stream).await });
        }
    }

    async fn finish(mut self) {
        let mut failed = Vec::new();
        for out in self.outputs.iter_mut() {
            if let Err(e) = out.close(&mut self.jobs) {
                failed.push(e);
            }
        }
        for e in failed {
            self.write_failed(e);
        }
        self.said_repeats();
        let label = format!("{}/{}", self.app, self.stream);
        for job in std::mem::take(&mut self.jobs) {
            report(
                job,
                &self.events,
                &label,
                self.app.clone(),
                self.stream.clone(),
            )
            .await;
        }
        let dropped = self
            .dropped
            .iter()
            .map(|d| d.load(std::sync::atomic::Ordering::Relaxed))
            .sum();
        info!(stream = %label, dropped, "recording stopped");
        let _ = self.events.send(RecorderEvent::RecordStopped {
            app: self.app.clone(),
            stream: self.stream.clone(),
            dropped_events: dropped,
        });
    }
}

/// Waits for a background finalizer; a failure becomes a `WriteFailed` event (a success
/// reported itself through the finisher).
async fn report(
    job: FileJob,
    events: &broadcast::Sender<RecorderEvent>,
    label: &str,
    app: String,
    stream: String,
) {
    let detail = match job.await {
        Ok(Ok(())) => return,
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    warn!(stream = %label, "finishing a file failed: {detail}");
    let _ = events.send(RecorderEvent::WriteFailed {
        app,
        stream,
        detail,
    });
}

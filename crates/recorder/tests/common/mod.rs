//! What the recorder's integration tests share: a long stream made from the fixture.

use bytes::Bytes;
use tapedeck_media::flv::reader::FlvReader;
use tapedeck_media::flv::tag::TagDecoder;
use tapedeck_media::{MediaEvent, MediaTime};

const FIXTURE: &[u8] = include_bytes!("../../../../tests/fixtures/h264_aac_2s.flv");
const REPEATS: i64 = 12;
/// The fixture is 2 s of media (its audio runs a little past 2 s): repeat it every 2.1 s.
const STEP: MediaTime = MediaTime::from_millis(2100);

/// 12 copies of the fixture back to back: 25 s, 720 video frames, a key frame every second.
pub fn long_stream() -> Vec<MediaEvent> {
    let mut tags = Vec::new();
    FlvReader::new().push(FIXTURE, &mut tags).unwrap();
    let mut dec = TagDecoder::new();
    let mut one = Vec::new();
    for t in tags {
        let body = Bytes::from(t.body.to_vec());
        match t.kind {
            8 => dec.audio(t.ts_ms, body, &mut one).unwrap(),
            9 => dec.video(t.ts_ms, body, &mut one).unwrap(),
            _ => {}
        }
    }
    let mut all = Vec::new();
    for k in 0..REPEATS {
        for ev in &one {
            match ev {
                MediaEvent::Frame(f) => {
                    let mut f = f.clone();
                    f.dts += MediaTime(STEP.0 * k);
                    f.pts += MediaTime(STEP.0 * k);
                    all.push(MediaEvent::Frame(f));
                }
                config if k == 0 => all.push(config.clone()),
                _ => {}
            }
        }
    }
    all
}

/// Publishes the long stream as live/cam1 and waits for its recording to stop; returns the
/// files it finished. A write failure fails the test.
pub async fn record_long_stream(
    rec: &tapedeck_recorder::Recorder,
) -> Vec<tapedeck_recorder::events::FinishedFile> {
    use tapedeck_ingest::{PublishRequest, PublishSink};
    use tapedeck_recorder::events::RecorderEvent;
    let mut events = rec.subscribe();
    {
        let request = PublishRequest {
            app: "live".into(),
            stream: "cam1".into(),
            args: Vec::new(),
            origin: "test".into(),
        };
        let mut p = rec.publish(request).unwrap();
        for ev in long_stream() {
            p.media.send(ev).await.unwrap();
        }
    }
    let mut finished = Vec::new();
    loop {
        match events.recv().await.unwrap() {
            RecorderEvent::FileFinished(f) => finished.push(f),
            RecorderEvent::RecordStopped { .. } => return finished,
            RecorderEvent::WriteFailed { detail, .. } => panic!("{detail}"),
            _ => {}
        }
    }
}

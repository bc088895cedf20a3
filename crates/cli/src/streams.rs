//! `tapedeck streams [--json] [--watch]`: the live streams of a running engine.

use std::io::{IsTerminal, Write};

use tapedeck_config::Config;
use tapedeck_engine::{DiskStatus, LiveStream};

pub async fn run(config: &Config, json: bool, watch: bool) -> anyhow::Result<()> {
    let terminal = std::io::stdout().is_terminal();
    loop {
        let (live, disk) =
            crate::control::request_live(&config.control.listen, &config.data_dir).await?;
        let mut out = std::io::stdout().lock();
        if json {
            writeln!(out, "{}", serde_json::to_string(&live)?)?;
        } else {
            if watch && terminal {
                // Clear the screen and go home, so each second replaces the last.
                write!(out, "\x1b[2J\x1b[H")?;
            }
            write!(out, "{}", render(&live, disk.as_ref()))?;
        }
        out.flush()?;
        drop(out);
        if !watch {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// The table a person reads.
pub fn render(live: &[LiveStream], disk: Option<&DiskStatus>) -> String {
    let mut s = String::new();
    if live.is_empty() {
        s.push_str(
            "No live streams. Point OBS (or ffmpeg) at this server's RTMP address to start one.\n",
        );
    }
    for l in live {
        let state = match (l.connected, l.recording) {
            (false, _) => "waiting for the publisher to come back",
            (true, false) => "connected, recording stopped by hand",
            (true, true) => "recording",
        };
        s.push_str(&format!(
            "{}/{}  {}  {} {}  template {}\n",
            l.app,
            l.stream,
            l.source,
            state,
            clock(l.recording_s),
            l.template
        ));
        let mut media = Vec::new();
        if let Some(v) = &l.video {
            let mut line = format!("video {}", v.codec);
            if let Some(p) = &v.profile {
                line.push_str(&format!(" {p}"));
            }
            if let Some(level) = &v.level {
                line.push_str(&format!(" {level}"));
            }
            line.push_str(&format!(" {}x{} {:.2} fps", v.width, v.height, v.fps));
            if v.keyframe_interval_s > 0.0 {
                line.push_str(&format!(", key frame every {:.1} s", v.keyframe_interval_s));
            }
            media.push(line);
        }
        if let Some(a) = &l.audio {
            media.push(format!(
                "audio {} {} Hz {} ch",
                a.codec, a.sample_rate, a.channels
            ));
        }
        if !media.is_empty() {
            s.push_str(&format!("  {}\n", media.join("   ")));
        }
        let written: Vec<String> = l
            .bytes_written
            .iter()
            .map(|w| format!("{} {}", w.format.extension(), size(w.bytes)))
            .collect();
        s.push_str(&format!("  bitrate {} kbps", l.bitrate_kbps));
        if !written.is_empty() {
            s.push_str(&format!("   written {}", written.join(", ")));
        }
        if l.dropped_frames > 0 {
            s.push_str(&format!("   {} frames dropped", l.dropped_frames));
        }
        s.push('\n');
        for h in &l.health {
            s.push_str(&format!("  ! {}\n", h.message));
        }
    }
    if let Some(d) = disk {
        s.push_str(&format!(
            "Disk: {} free of {}{}\n",
            size(d.free_bytes),
            size(d.total_bytes),
            if d.low {
                format!(
                    " (under the low_space_warning of {}: make room or recording will stop when it is full)",
                    size(d.threshold_bytes)
                )
            } else {
                String::new()
            }
        ));
    }
    s
}

fn clock(secs: f64) -> String {
    let t = secs.max(0.0) as u64;
    format!("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
}

fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tapedeck_engine::{Health, HealthKind, LiveVideo};

    #[test]
    fn a_stream_reads_as_a_person_expects() {
        let l = LiveStream {
            app: "live".into(),
            stream: "cam1".into(),
            source: "rtmp 127.0.0.1:5000".into(),
            video: Some(LiveVideo {
                codec: "h264".into(),
                width: 1280,
                height: 720,
                fps: 30.0,
                keyframe_interval_s: 2.0,
                profile: Some("High".into()),
                level: Some("3.1".into()),
            }),
            audio: None,
            bitrate_kbps: 2500,
            bitrate_history_kbps: vec![2500],
            recording_s: 3725.0,
            template: "live/*".into(),
            dropped_frames: 0,
            health: vec![Health {
                kind: HealthKind::NoKeyframe,
                message: "No key frame for 12 s".into(),
            }],
            recording: true,
            connected: true,
            bytes_written: vec![],
        };
        let text = render(&[l], None);
        assert!(
            text.contains("live/cam1  rtmp 127.0.0.1:5000  recording 1:02:05  template live/*"),
            "{text}"
        );
        assert!(
            text.contains("video h264 High 3.1 1280x720 30.00 fps, key frame every 2.0 s"),
            "{text}"
        );
        assert!(text.contains("bitrate 2500 kbps"), "{text}");
        assert!(text.contains("  ! No key frame for 12 s"), "{text}");
        assert!(render(&[], None).starts_with("No live streams"));
    }
}

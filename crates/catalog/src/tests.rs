use super::*;

fn seg(recording: &str, key: &str, start_ms: i64, duration_ms: i64) -> Segment {
    Segment {
        recording: recording.into(),
        app: "live".into(),
        stream: "cam1".into(),
        key: key.into(),
        start_ms,
        duration_ms,
        bytes: 1000,
        codecs: "avc1.64001f,mp4a.40.2".into(),
        width: 1280,
        height: 720,
        keyframes: 15,
        discontinuity: false,
    }
}

/// Two recordings: 0-90 s (three 30 s segments) and 200-260 s (two).
fn sample() -> Catalog {
    let c = Catalog::in_memory().unwrap();
    for (i, start) in [0, 30_000, 60_000].into_iter().enumerate() {
        c.add_segment(&seg("live/cam1/0", &format!("a{i}.ts"), start, 30_000))
            .unwrap();
    }
    for (i, start) in [200_000, 230_000].into_iter().enumerate() {
        c.add_segment(&seg("live/cam1/200000", &format!("b{i}.ts"), start, 30_000))
            .unwrap();
    }
    let file = |rec: &str, key: &str, start, end| File {
        recording: rec.into(),
        app: "live".into(),
        stream: "cam1".into(),
        kind: FileKind::Mp4,
        key: key.into(),
        start_ms: start,
        end_ms: end,
        bytes: 5,
    };
    c.add_file(&file("live/cam1/0", "a.mp4", 0, 90_000))
        .unwrap();
    c.add_file(&file("live/cam1/200000", "b.mp4", 200_000, 260_000))
        .unwrap();
    c
}

#[test]
fn range_selection_at_the_edges() {
    let c = sample();
    let keys = |s: i64, e: i64| {
        c.segments("live", "cam1", s, e)
            .unwrap()
            .into_iter()
            .map(|s| s.key)
            .collect::<Vec<_>>()
    };
    let cases: [(i64, i64, &[&str]); 7] = [
        (0, 90_000, &["a0.ts", "a1.ts", "a2.ts"]),
        (45_000, 50_000, &["a1.ts"]),           // inside one segment
        (30_000, 60_000, &["a1.ts"]),           // exactly one segment: edges exclusive
        (89_999, 200_001, &["a2.ts", "b0.ts"]), // spans the gap
        (100_000, 190_000, &[]),                // inside the gap
        (240_000, 999_999, &["b1.ts"]),         // ends after the last
        (-5_000, 1, &["a0.ts"]),
    ];
    for (s, e, want) in cases {
        assert_eq!(keys(s, e), want, "{s}..{e}");
    }
    assert!(c.segments("live", "other", 0, 999_999).unwrap().is_empty());
}

#[test]
fn spans_are_one_row_per_recording() {
    let c = sample();
    let spans = c.spans("live", "cam1", 0, 1_000_000).unwrap();
    assert_eq!(spans.len(), 2);
    assert_eq!(
        (spans[0].start_ms, spans[0].end_ms, spans[0].duration),
        (0, 90_000, 90.0)
    );
    assert_eq!(spans[0].objects, vec!["a.mp4".to_string()]);
    assert_eq!((spans[1].start_ms, spans[1].end_ms), (200_000, 260_000));
    assert_eq!(c.spans("live", "cam1", 95_000, 150_000).unwrap().len(), 0);
    assert_eq!(c.spans("live", "cam1", 80_000, 210_000).unwrap().len(), 2);
}

#[test]
fn indexes_page_by_creation_time() {
    let c = Catalog::in_memory().unwrap();
    for i in 0..5 {
        let n = NewIndex {
            app: "live".into(),
            stream: "cam1".into(),
            object: format!("i{i}.m3u8"),
            start_ms: 0,
            end_ms: 1,
            duration: 1.0,
            width: 1,
            height: 1,
            created_ms: 1000 + i,
        };
        let rec = c.add_index(&n).unwrap();
        assert_eq!(c.index(rec.id).unwrap().unwrap(), rec);
    }
    let objects = |page, per, desc| {
        c.indexes(page, per, desc)
            .unwrap()
            .into_iter()
            .map(|i| i.object)
            .collect::<Vec<_>>()
    };
    assert_eq!(objects(1, 2, false), vec!["i0.m3u8", "i1.m3u8"]);
    assert_eq!(objects(3, 2, false), vec!["i4.m3u8"]);
    assert_eq!(objects(1, 2, true), vec!["i4.m3u8", "i3.m3u8"]);
    assert!(c.index(999).unwrap().is_none());
}

#[test]
fn an_index_row_is_restored_with_its_id_and_a_failed_write_leaves_none() {
    let c = Catalog::in_memory().unwrap();
    let n = NewIndex {
        app: "live".into(),
        stream: "cam1".into(),
        object: "a.m3u8".into(),
        start_ms: 10,
        end_ms: 20,
        duration: 9.5,
        width: 640,
        height: 360,
        created_ms: 1234,
    };
    let failed = c.add_index_with(&n, |r| {
        assert_eq!(r.id, 1);
        Err::<Option<NewUpload>, _>(CatalogError::TooNew { found: 0, known: 0 })
    });
    assert!(failed.is_err());
    assert!(c.indexes(1, 10, false).unwrap().is_empty(), "rolled back");
    let mut seen = None;
    let rec = c
        .add_index_with(&n, |r| {
            seen = Some(r.clone());
            Ok::<_, CatalogError>(None)
        })
        .unwrap();
    assert_eq!(seen.as_ref(), Some(&rec));
    assert_eq!(c.index(rec.id).unwrap().as_ref(), Some(&rec));

    let fresh = Catalog::in_memory().unwrap();
    let later = IndexRecord {
        id: 7,
        ..rec.clone()
    };
    assert!(fresh.restore_index(&later).unwrap());
    assert!(fresh.restore_index(&rec).unwrap());
    assert!(
        !fresh
            .restore_index(&IndexRecord {
                object: "b.m3u8".into(),
                ..rec.clone()
            })
            .unwrap(),
        "an id already taken"
    );
    assert_eq!(fresh.indexes(1, 10, false).unwrap(), vec![rec, later]);
}

#[test]
fn files_list_every_kind_with_its_recording() {
    let c = sample();
    let file = |kind: &str, key: &str| File {
        recording: "live/cam1/1".into(),
        app: "live".into(),
        stream: "cam1".into(),
        kind: FileKind::parse(kind),
        key: key.into(),
        start_ms: 5,
        end_ms: 9,
        bytes: 42,
    };
    let (mp4, flv) = (file("mp4", "b.mp4"), file("flv", "a.flv"));
    c.add_file(&mp4).unwrap();
    c.add_file(&flv).unwrap();
    let all = c.files().unwrap();
    assert!(all.contains(&mp4) && all.contains(&flv), "{all:?}");
    let keys: Vec<_> = all.iter().map(|f| f.key.as_str()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[test]
fn reopening_keeps_rows_and_refuses_newer_schemas() {
    let dir = std::env::temp_dir().join(format!("tapedeck-catalog-{}", std::process::id()));
    let path = dir.join("catalog.sqlite3");
    {
        let c = Catalog::open(&path).unwrap();
        c.add_segment(&seg("r", "x.ts", 0, 1000)).unwrap();
    }
    let c = Catalog::open(&path).unwrap();
    assert_eq!(c.segments("live", "cam1", 0, 10).unwrap().len(), 1);
    c.conn().pragma_update(None, "user_version", 99).unwrap();
    drop(c);
    assert!(matches!(
        Catalog::open(&path),
        Err(CatalogError::TooNew { found: 99, .. })
    ));
    std::fs::remove_dir_all(dir).unwrap();
}

mod uploads {
    use super::*;

    fn up(key: &str, kind: &str) -> NewUpload {
        NewUpload {
            profile: "studio".into(),
            key: key.into(),
            path: format!("/rec/{key}"),
            kind: FileKind::parse(kind),
            group: "live/cam1".into(),
            bytes: 100,
            mtime_ms: 1,
            keep_local: "forever".into(),
            keep_group: "*/*".into(),
            keep_max: None,
            queued_ms: 10,
        }
    }

    fn due(c: &Catalog) -> Vec<String> {
        c.due_uploads("studio", 1_000, 100)
            .unwrap()
            .into_iter()
            .map(|u| u.key)
            .collect()
    }

    fn done(c: &Catalog, key: &str) {
        let u = c
            .uploads(true, 100)
            .unwrap()
            .into_iter()
            .find(|u| u.key == key)
            .unwrap();
        assert!(c.upload_done(u.id, u.generation, 500).unwrap());
    }

    #[test]
    fn queued_with_its_row_in_one_transaction() {
        let c = Catalog::in_memory().unwrap();
        c.add_segment_queued(
            &seg("live/cam1/0", "a0.ts", 0, 2000),
            Some(&up("a0.ts", "segment")),
        )
        .unwrap();
        assert_eq!(c.segments("live", "cam1", 0, 10_000).unwrap().len(), 1);
        assert_eq!(due(&c), ["a0.ts"]);
        // A row without an upload queues nothing.
        c.add_segment(&seg("live/cam1/0", "a1.ts", 2000, 2000))
            .unwrap();
        assert_eq!(due(&c), ["a0.ts"]);
    }

    #[test]
    fn a_playlist_waits_for_the_segments_before_it() {
        let c = Catalog::in_memory().unwrap();
        c.enqueue_upload(&up("a0.ts", "segment")).unwrap();
        c.enqueue_upload(&up("a1.ts", "segment")).unwrap();
        c.enqueue_upload(&up("day.m3u8", "playlist")).unwrap();
        assert_eq!(due(&c), ["a0.ts", "a1.ts"]);
        done(&c, "a0.ts");
        assert_eq!(due(&c), ["a1.ts"]);
        done(&c, "a1.ts");
        assert_eq!(due(&c), ["day.m3u8"]);
        // Another stream's files do not hold it back.
        let mut other = up("b0.ts", "segment");
        other.group = "live/cam2".into();
        c.enqueue_upload(&other).unwrap();
        assert_eq!(due(&c), ["day.m3u8", "b0.ts"]);
    }

    #[test]
    fn queued_again_is_a_new_generation_that_an_old_attempt_cannot_finish() {
        let c = Catalog::in_memory().unwrap();
        c.enqueue_upload(&up("day.m3u8", "playlist")).unwrap();
        let first = c.due_uploads("studio", 0, 1).unwrap().remove(0);
        assert!(c
            .set_multipart(first.id, first.generation, Some("up-1"), 5 << 20, 100, 1)
            .unwrap());
        let part = Part {
            number: 1,
            etag: "\"e1\"".into(),
            bytes: 5 << 20,
        };
        assert!(c
            .add_upload_part(first.id, first.generation, &part)
            .unwrap());
        // Rewritten while uploading: queued again, parts of the old generation dropped.
        c.enqueue_upload(&up("day.m3u8", "playlist")).unwrap();
        assert!(!c
            .add_upload_part(first.id, first.generation, &part)
            .unwrap());
        assert!(!c.upload_done(first.id, first.generation, 5).unwrap());
        let again = c.upload(first.id).unwrap().unwrap();
        assert_eq!((again.generation, again.state), (2, UploadState::Queued));
        assert_eq!(again.upload_id, None);
        assert!(c.upload_parts(first.id).unwrap().is_empty());
        assert!(c.upload_done(again.id, again.generation, 6).unwrap());
        assert_eq!(c.upload_counts().unwrap().done, 1);
    }

    #[test]
    fn failures_back_off_and_a_wake_makes_everything_due() {
        let c = Catalog::in_memory().unwrap();
        c.enqueue_upload(&up("a0.ts", "segment")).unwrap();
        let u = c.due_uploads("studio", 0, 1).unwrap().remove(0);
        c.upload_failed(u.id, u.generation, "cannot reach", 60_000)
            .unwrap();
        assert!(due(&c).is_empty());
        assert_eq!(c.next_due_ms("studio").unwrap(), Some(60_000));
        let row = c.upload(u.id).unwrap().unwrap();
        assert_eq!(
            (row.attempts, row.last_error.as_deref()),
            (1, Some("cannot reach"))
        );
        c.wake_uploads("studio").unwrap();
        assert_eq!(due(&c), ["a0.ts"]);
        let counts = c.upload_counts().unwrap();
        assert_eq!(
            (counts.queued, counts.failing, counts.queued_bytes),
            (1, 1, 100)
        );
    }

    #[test]
    fn parts_survive_reopening_the_database() {
        let dir =
            std::env::temp_dir().join(format!("tapedeck-catalog-parts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("catalog.sqlite3");
        {
            let c = Catalog::open(&path).unwrap();
            c.enqueue_upload(&up("big.mp4", "mp4")).unwrap();
            let u = c.due_uploads("studio", 0, 1).unwrap().remove(0);
            c.set_multipart(u.id, u.generation, Some("up-9"), 5 << 20, 100, 1)
                .unwrap();
            for n in [2, 1] {
                let p = Part {
                    number: n,
                    etag: format!("\"e{n}\""),
                    bytes: 5 << 20,
                };
                c.add_upload_part(u.id, u.generation, &p).unwrap();
            }
        }
        let c = Catalog::open(&path).unwrap();
        let u = c.due_uploads("studio", 0, 1).unwrap().remove(0);
        assert_eq!(u.upload_id.as_deref(), Some("up-9"));
        let numbers: Vec<i32> = c
            .upload_parts(u.id)
            .unwrap()
            .iter()
            .map(|p| p.number)
            .collect();
        assert_eq!(numbers, [1, 2]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn chapters_come_back_by_stream_and_range_in_time_order() {
    let c = Catalog::in_memory().unwrap();
    let ch = |stream: &str, at_ms: i64, title: &str| Chapter {
        app: "live".into(),
        stream: stream.into(),
        recording: format!("live/{stream}/0"),
        at_ms,
        title: title.into(),
    };
    c.add_chapter(&ch("cam1", 5000, "b")).unwrap();
    c.add_chapter(&ch("cam1", 1000, "a")).unwrap();
    c.add_chapter(&ch("cam2", 2000, "other")).unwrap();
    c.add_chapter(&ch("cam1", 9000, "c")).unwrap();
    let titles: Vec<String> = c
        .chapters("live", "cam1", 1000, 9000)
        .unwrap()
        .into_iter()
        .map(|c| c.title)
        .collect();
    assert_eq!(titles, ["a", "b"], "start inclusive, end exclusive");
}

#[test]
fn coverage_splits_a_recording_at_its_reconnects() {
    let c = sample();
    // A reconnect inside the second recording: 30 s later, flagged.
    let mut back = seg("live/cam1/200000", "b2.ts", 290_000, 30_000);
    back.discontinuity = true;
    c.add_segment(&back).unwrap();
    let pieces: Vec<(String, i64, i64)> = c
        .coverage("live", "cam1", 0, 1_000_000)
        .unwrap()
        .into_iter()
        .map(|s| (s.recording, s.start_ms, s.end_ms))
        .collect();
    assert_eq!(
        pieces,
        [
            ("live/cam1/0".to_string(), 0, 90_000),
            ("live/cam1/200000".to_string(), 200_000, 260_000),
            ("live/cam1/200000".to_string(), 290_000, 320_000),
        ]
    );
    let streams = c.recorded_streams().unwrap();
    assert_eq!(streams.len(), 1);
    assert_eq!((streams[0].first_ms, streams[0].recordings), (0, 2));
    assert_eq!(streams[0].bytes, 6 * 1000 + 10);
}

#[test]
fn imported_rows_never_replace_local_ones_and_name_their_bucket() {
    let c = sample();
    // a0.ts is local; c0.ts and c1.ts are only in the bucket of "shared".
    let remote = [
        seg("live/cam1/0", "a0.ts", 0, 30_000),
        seg("live/cam1/500000", "c0.ts", 500_000, 30_000),
        seg("live/cam1/500000", "c1.ts", 530_000, 30_000),
    ];
    let playlist = File {
        recording: "live/cam1/500000".into(),
        app: "live".into(),
        stream: "cam1".into(),
        kind: FileKind::Playlist,
        key: "c.m3u8".into(),
        start_ms: 500_000,
        end_ms: 560_000,
        bytes: 300,
    };
    let added = c
        .add_remote("shared", &remote, std::slice::from_ref(&playlist))
        .unwrap();
    assert_eq!(
        added,
        Added {
            segments: 2,
            files: 1
        }
    );
    // Again: nothing new.
    let again = c.add_remote("shared", &remote, &[playlist]).unwrap();
    assert_eq!(again, Added::default());
    assert_eq!(c.remote_of("a0.ts").unwrap(), None);
    assert_eq!(c.remote_of("c1.ts").unwrap().as_deref(), Some("shared"));
    assert_eq!(c.remote_of("c.m3u8").unwrap().as_deref(), Some("shared"));
    assert_eq!(c.remote_of("nowhere.ts").unwrap(), None);
    // The imported recording is one more span.
    let spans = c.spans("live", "cam1", 0, 1_000_000).unwrap();
    assert_eq!(spans.len(), 3);
    assert_eq!(spans[2].recording, "live/cam1/500000");
    assert_eq!(spans[2].objects, ["c.m3u8"]);
    // A local recorder writing the key later makes it local.
    c.add_segment(&seg("live/cam1/500000", "c1.ts", 530_000, 30_000))
        .unwrap();
    assert_eq!(c.remote_of("c1.ts").unwrap(), None);
}

#[test]
fn imports_remember_entity_tags_chapters_and_indexes_once() {
    let c = Catalog::in_memory().unwrap();
    assert_eq!(c.imported_etag("shared", "a.m3u8").unwrap(), None);
    c.set_imported("shared", "a.m3u8", "e1", Some("live/cam1/0"), false)
        .unwrap();
    c.set_imported("shared", "a.m3u8", "e2", Some("live/cam1/0"), false)
        .unwrap();
    c.set_imported("shared", "a.mp4", "e3", Some("live/cam1/0"), false)
        .unwrap();
    c.set_imported("shared", "i.m3u8", "e4", None, true)
        .unwrap();
    assert_eq!(
        c.imported_etag("shared", "a.m3u8").unwrap().as_deref(),
        Some("e2")
    );
    assert_eq!(c.imported_etag("other", "a.m3u8").unwrap(), None);
    assert_eq!(c.imported_counts("shared").unwrap(), (1, 1));
    let chapter = Chapter {
        app: "live".into(),
        stream: "cam1".into(),
        recording: "live/cam1/0".into(),
        at_ms: 5_000,
        title: "Goal".into(),
    };
    assert!(c.add_chapter_once(&chapter).unwrap());
    assert!(!c.add_chapter_once(&chapter).unwrap());
    assert_eq!(c.chapters("live", "cam1", 0, 10_000).unwrap().len(), 1);
    let index = IndexRecord {
        id: 1,
        app: "live".into(),
        stream: "cam1".into(),
        object: "indexes/a.m3u8".into(),
        start_ms: 0,
        end_ms: 10_000,
        duration: 10.0,
        width: 1280,
        height: 720,
        created_ms: 20_000,
    };
    // A local index took id 1 already: the imported one gets another.
    c.add_index(&NewIndex {
        app: "live".into(),
        stream: "cam1".into(),
        object: "indexes/local.m3u8".into(),
        start_ms: 0,
        end_ms: 1,
        duration: 0.0,
        width: 0,
        height: 0,
        created_ms: 1,
    })
    .unwrap();
    assert!(c.add_index_if_new(&index).unwrap());
    assert!(!c.add_index_if_new(&index).unwrap());
    let all = c.indexes(1, 10, false).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].object, "indexes/a.m3u8");
    assert_ne!(all[1].id, all[0].id);
}

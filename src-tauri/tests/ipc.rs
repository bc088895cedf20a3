//! The command layer through Tauri's IPC, on the mock runtime, over a real engine on a
//! temporary folder: what the window sends (JSON arguments in camelCase) and gets back
//! (JSON results, and typed errors `{kind, message, problems}`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

use std::sync::Arc;

use serde_json::{json, Value};
use tapedeck_studio::paths::Paths;
use tapedeck_studio::state::AppState;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, INVOKE_KEY};
use tauri::webview::InvokeRequest;

fn invoke(
    webview: &tauri::WebviewWindow<tauri::test::MockRuntime>,
    cmd: &str,
    args: Value,
) -> Result<Value, Value> {
    get_ipc_response(
        webview,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<Value>().unwrap())
}

#[test]
fn the_window_edits_templates_and_reads_live_streams_through_ipc() {
    let dir = std::env::temp_dir().join(format!("studio-ipc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.join("tapedeck.toml");
    let text = format!(
        "# kept\ndata_dir = {:?}\n[ingest]\nrtmp_listen = \"127.0.0.1:{port}\"\n[control]\nlisten = \"\"\n",
        dir.join("data").to_str().unwrap()
    );
    std::fs::write(&config, &text).unwrap();
    let state = AppState::with_credentials(
        Paths {
            config: config.clone(),
            data_dir: None,
            created: false,
        },
        Arc::new(tapedeck_storage::MemoryStore::default()),
    );
    let engine =
        tauri::async_runtime::block_on(state.start_without_window()).expect("the engine starts");
    let app = mock_builder()
        .manage(state)
        .manage(tapedeck_studio::recordings::Exports::default())
        .invoke_handler(tauri::generate_handler![
            tapedeck_studio::settings::config_get,
            tapedeck_studio::settings::template_validate,
            tapedeck_studio::settings::template_save,
            tapedeck_studio::settings::name_preview,
            tapedeck_studio::streams::live_streams,
            tapedeck_studio::streams::set_recording,
            tapedeck_studio::recordings::recorded_streams,
        ])
        .build(mock_context(noop_assets()))
        .unwrap();
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();

    // The built-in template, as the Templates screen gets it.
    let config_json = invoke(&webview, "config_get", json!({})).unwrap();
    let mut template = config_json["template"][0].clone();
    assert_eq!(template["app"], "*");

    // Validation as you type: a problem named by field; nothing written.
    template["m3u8"]["slice_duration"] = json!("0s");
    let problems = invoke(
        &webview,
        "template_validate",
        json!({"template": template, "index": 0}),
    )
    .unwrap();
    assert_eq!(
        problems[0]["field"], "template[0].m3u8.slice_duration",
        "{problems}"
    );
    let refused = invoke(
        &webview,
        "template_save",
        json!({"template": template, "index": 0}),
    )
    .unwrap_err();
    assert_eq!(refused["kind"], "invalid", "{refused}");
    assert_eq!(
        refused["problems"][0]["field"], "template[0].m3u8.slice_duration",
        "{refused}"
    );
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        text,
        "nothing written"
    );

    // A valid one is saved, the comment kept; the preview follows it.
    template["m3u8"]["slice_duration"] = json!("10s");
    template["app"] = json!("show");
    invoke(
        &webview,
        "template_save",
        json!({"template": template, "index": 0}),
    )
    .unwrap();
    let saved = std::fs::read_to_string(&config).unwrap();
    assert!(saved.starts_with("# kept\n"), "{saved}");
    assert!(saved.contains("app = \"show\""), "{saved}");
    let preview = invoke(
        &webview,
        "name_preview",
        json!({"app": "show", "stream": "cam1", "template": null}),
    )
    .unwrap();
    assert_eq!(preview["why"], "every stream of app show", "{preview}");
    assert!(
        preview["keys"]["playlist"]
            .as_str()
            .unwrap()
            .starts_with("record/show/cam1/"),
        "{preview}"
    );

    // The engine behind it: nothing live, a typed not_found for a stream that is not.
    assert_eq!(
        invoke(&webview, "live_streams", json!({})).unwrap(),
        json!([])
    );
    assert_eq!(
        invoke(&webview, "recorded_streams", json!({})).unwrap(),
        json!([])
    );
    let e = invoke(
        &webview,
        "set_recording",
        json!({"app": "show", "stream": "nobody", "on": false}),
    )
    .unwrap_err();
    assert_eq!(e["kind"], "not_found", "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("show/nobody"),
        "{e}"
    );

    tauri::async_runtime::block_on(engine.shutdown());
    let _ = std::fs::remove_dir_all(&dir);
}

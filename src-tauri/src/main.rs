//! `tapedeck-studio`: the desktop app. Everything lives in the library (`lib.rs`), so the
//! command layer can be tested without a window.

// No console window next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]
#![forbid(unsafe_code)]

use clap::Parser;

fn main() -> std::process::ExitCode {
    tapedeck_studio::webkit::configure();
    let args = tapedeck_studio::Args::parse();
    match tapedeck_studio::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Tapedeck Studio could not start: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./app/App";
import { ErrorBoundary } from "./app/ErrorBoundary";
import "./styles.css";

async function start() {
  // Outside the Tauri window (a plain browser) or with ?mock=1: the mock backend, so the
  // UI can be viewed and screenshotted. Loaded on demand: the app build does not run it.
  const search = window.location.search;
  if (!("__TAURI_INTERNALS__" in window) || new URLSearchParams(search).get("mock") === "1") {
    const { installMock, mockOptionsFrom } = await import("./mock/install");
    installMock(mockOptionsFrom(search));
  }
  const root = document.getElementById("root");
  if (root)
    createRoot(root).render(
      <StrictMode>
        <ErrorBoundary>
          <App />
        </ErrorBoundary>
      </StrictMode>,
    );
}

void start();

import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/react";
import { clearMocks } from "@tauri-apps/api/mocks";
import { afterEach } from "vitest";
import { installFakeCanvas } from "./canvas";

// jsdom has no canvas: the timeline draws on a recording fake (src/test/canvas.ts).
installFakeCanvas();

// jsdom: the mock IPC registers callbacks with window.crypto.getRandomValues.
if (!window.crypto?.getRandomValues) {
  Object.defineProperty(window, "crypto", { value: globalThis.crypto });
}

afterEach(() => {
  cleanup();
  clearMocks();
  window.location.hash = "";
});

/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Tauri serves ui/dist from its own origin; the dev server is what `tauri dev` opens.
// No remote fonts, CDNs or eval: the app runs under a strict CSP (src-tauri/tauri.conf.json).
export default defineConfig({
  base: "./",
  plugins: [react()],
  clearScreen: false,
  server: {
    port: 1420,
    strictPort: true,
    host: "127.0.0.1",
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebKitGTK 2.4x / WKWebView on macOS 11+: Safari 15 features, nothing newer.
    target: ["es2021", "safari15"],
    sourcemap: false,
    // hls.js (the Recordings preview) is one chunk of ~580 kB, loaded when a preview starts.
    chunkSizeWarningLimit: 700,
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    css: false,
    testTimeout: 15000,
  },
});

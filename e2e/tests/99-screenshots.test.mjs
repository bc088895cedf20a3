// Every screen's picture was taken by this run (the tests above take them) and is a real
// window-sized PNG, not an empty or blank one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";
import { SHOTS } from "../lib/harness.mjs";

export const SCREENSHOTS = [
  "live-empty",
  "live-streaming",
  "live-32-streams",
  "templates",
  "templates-error",
  "storage",
  "settings",
  "first-run",
  "recordings",
  "engine-failed",
];

test("screenshots: every screen's PNG is there, from this run, window-sized and not blank", (t) => {
  const started = Number(process.env.E2E_STARTED_MS ?? 0);
  const missing = SCREENSHOTS.filter((n) => !existsSync(join(SHOTS, `${n}.png`)) || statSync(join(SHOTS, `${n}.png`)).mtimeMs < started);
  assert.deepEqual(missing, [], `not taken by this run (did a test above fail or get skipped?)`);
  for (const n of SCREENSHOTS) {
    const png = readFileSync(join(SHOTS, `${n}.png`));
    assert.equal(png.subarray(1, 4).toString(), "PNG", `${n}.png is a PNG`);
    const [w, h] = [png.readUInt32BE(16), png.readUInt32BE(20)];
    assert.ok(w >= 900 && h >= 600, `${n}.png is ${w}x${h}`);
    // A rendered screen compresses far worse than a blank one.
    assert.ok(png.length > 20_000, `${n}.png has content (${png.length} bytes)`);
    t.diagnostic(`${n}.png ${w}x${h} ${png.length} bytes`);
  }
});

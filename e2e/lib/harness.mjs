// Helpers of the end-to-end tests: a fresh app per test on its own temporary config, DOM
// look-ups the way a person reads the window (labels, text, roles), waiting, screenshots,
// test streams from ffmpeg and an S3 server (s3s-fs).
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, readdirSync, existsSync, rmSync } from "node:fs";
import net from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Session } from "../wd.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
export const E2E = resolve(HERE, "..");
export const REPO = resolve(E2E, "..");
export const BIN = process.env.TAPEDECK_STUDIO_BIN ?? join(REPO, "target/debug/tapedeck-studio");
export const DRIVER = process.env.TAURI_DRIVER_URL ?? "http://127.0.0.1:4444";
export const SHOTS = process.env.E2E_SCREENSHOTS ?? join(REPO, "docs/screenshots");
export const TMP_ROOT = process.env.E2E_TMP ?? "/tmp";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP port nobody listens on right now. */
export function freePort() {
  return new Promise((res, rej) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

/** Polls `fn` until it returns something truthy; its last value or error is in the failure. */
export async function waitUntil(fn, { timeout = 15_000, interval = 250, what = "condition" } = {}) {
  const end = Date.now() + timeout;
  let last;
  let lastErr;
  for (;;) {
    try {
      last = await fn();
      lastErr = undefined;
      if (last) return last;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > end) {
      const why = lastErr ? `last error: ${lastErr.message}` : `last value: ${JSON.stringify(last)?.slice(0, 300)}`;
      throw new Error(`timed out after ${timeout} ms waiting for ${what} (${why})`);
    }
    await sleep(interval);
  }
}

// The in-page finder: runs in the webview. kind: "label" | "text" | "role" | "css".
const FIND = `
const [kind, query, opts, within] = arguments;
const o = opts || {};
o.within = within || null;
const norm = (s) => (s || "").replace(/\\s+/g, " ").trim();
const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
const root = o.within || document;
const match = (s) => o.exact === false ? norm(s).toLowerCase().includes(norm(query).toLowerCase()) : norm(s) === norm(query);
function name(el) {
  if (el.getAttribute("aria-label")) return el.getAttribute("aria-label");
  const lb = el.getAttribute("aria-labelledby");
  if (lb) return lb.split(/\\s+/).map((id) => document.getElementById(id)?.textContent || "").join(" ");
  if (el.labels && el.labels.length) return el.labels[0].textContent;
  if (el.tagName === "INPUT" && ["submit", "button"].includes(el.type)) return el.value;
  return el.textContent;
}
const ROLES = {
  button: "button, [role=button], input[type=submit], input[type=button]",
  link: "a[href], [role=link]",
  checkbox: "input[type=checkbox], [role=checkbox]",
  textbox: "input:not([type]), input[type=text], input[type=url], input[type=password], input[type=number], textarea",
  combobox: "select",
  heading: "h1, h2, h3, h4, h5, h6, [role=heading]",
  alert: "[role=alert]",
  status: "[role=status]",
  listitem: "li",
  img: "img, [role=img]",
  navigation: "nav",
  region: "section",
  table: "table",
  row: "tr",
};
let found = [];
if (kind === "label") {
  for (const l of root.querySelectorAll("label")) if (match(l.textContent) && l.control) found.push(l.control);
  for (const el of root.querySelectorAll("[aria-label]")) if (match(el.getAttribute("aria-label"))) found.push(el);
} else if (kind === "role") {
  for (const el of root.querySelectorAll(ROLES[o.role] || o.role)) if (query === null || match(name(el))) found.push(el);
} else if (kind === "text") {
  const scope = o.within || document.body;
  const all = [...scope.querySelectorAll("*")].filter((el) => match(el.textContent));
  // The innermost elements that hold the text.
  found = all.filter((el) => !all.some((c) => c !== el && el.contains(c)));
} else if (kind === "css") {
  found = [...root.querySelectorAll(query)];
}
found = [...new Set(found)];
if (!o.hidden) found = found.filter(visible);
return o.all ? found : (found[0] || null);
`;

/** One running app: its WebDriver session, its temporary folder, its ports. */
export class App {
  constructor(session, ctx) {
    this.s = session;
    Object.assign(this, ctx);
  }

  exec(script, ...args) {
    return this.s.exec(script, ...args);
  }

  /** Calls an app command from the page (only to read state the window does not show). */
  invoke(cmd, args = {}) {
    return this.s.execAsync(
      `const [cmd, args, done] = arguments;
       window.__TAURI_INTERNALS__.invoke(cmd, args).then((v) => done({ ok: v }), (e) => done({ err: e }));`,
      cmd,
      args,
    ).then((r) => {
      if (r && "err" in r) throw new Error(`${cmd}: ${JSON.stringify(r.err)}`);
      return r?.ok;
    });
  }

  query(kind, q, opts = {}) {
    // Element references travel as top-level arguments only (WebKitWebDriver does not
    // look inside objects).
    const { within, ...o } = opts;
    return this.s.exec(FIND, kind, q, o, within ?? null);
  }

  /** Waits for a visible element; `how`: {label} | {text} | {role, name} | {css}; opts.exact=false for "contains". */
  async get(how, { timeout = 10_000, ...opts } = {}) {
    const [kind, q, o] = parseHow(how, opts);
    try {
      return await waitUntil(() => this.query(kind, q, o), { timeout, what: `element ${JSON.stringify(how)}` });
    } catch (e) {
      // Say what the window showed instead, and keep a picture of it.
      const shown = await this.exec("return (document.querySelector('main') || document.body).innerText").catch(() => "");
      if (process.env.E2E_TMP) {
        try {
          writeFileSync(join(process.env.E2E_TMP, `failed-${Date.now()}.png`), await this.pixels());
        } catch {}
      }
      e.message += `\n--- the window showed:\n${String(shown).replace(/\n{2,}/g, "\n").slice(0, 3000)}`;
      throw e;
    }
  }

  /** All visible matches right now (no waiting). */
  all(how, opts = {}) {
    const [kind, q, o] = parseHow(how, { ...opts, all: true });
    return this.query(kind, q, o);
  }

  /** Whether a visible match exists right now. */
  async has(how, opts = {}) {
    const [kind, q, o] = parseHow(how, opts);
    return !!(await this.query(kind, q, o));
  }

  async click(how, opts) {
    const el = await this.get(how, opts);
    await this.exec("arguments[0].scrollIntoView({block: 'center'})", el);
    await el.click();
    return el;
  }

  /** Replaces a field's text by typing it (real key events). */
  async type(how, text, opts) {
    const el = await this.get(how, opts);
    await this.exec("arguments[0].scrollIntoView({block: 'center'})", el);
    await el.click();
    // Select what is there (Ctrl+A), delete it, type: React sees every keystroke.
    if (await el.prop("value")) {
      await el.sendKeys("\uE009a\uE000\uE003");
      const left = await el.prop("value");
      if (left) await el.sendKeys("\uE010" + "\uE003".repeat(String(left).length + 1)); // End, Backspace...
    }
    await el.sendKeys(text);
    await waitUntil(async () => String(await el.prop("value")) === String(text), { timeout: 3000, what: `the field to hold ${JSON.stringify(text)}` });
    return el;
  }

  /** Picks an <option> of a <select> by its visible text. */
  async select(how, optionText, opts) {
    const el = await this.get(how, opts);
    const opt = await this.query("text", optionText, { within: el, hidden: true });
    if (!opt) throw new Error(`no option ${optionText} in ${JSON.stringify(how)}`);
    // WebKitWebDriver clicks options reliably; the change event is what React listens to.
    await opt.click();
    await waitUntil(async () => (await el.prop("value")) === (await opt.prop("value")), { what: `option ${optionText} selected` });
    return el;
  }

  /** The <fieldset> whose legend reads `legend` (inside `within`, if given). */
  fieldset(legend, opts = {}) {
    return waitUntil(
      () =>
        this.exec(
          `const [legend, within] = arguments;
           const norm = (s) => (s || "").replace(/\\s+/g, " ").trim();
           return [...(within || document).querySelectorAll("fieldset")].find((f) => norm(f.querySelector("legend")?.textContent) === legend) || null;`,
          legend,
          opts.within ?? null,
        ),
      { what: `fieldset ${legend}`, timeout: opts.timeout ?? 10_000 },
    );
  }

  /** The problems shown right under a form control (its .field's error list). */
  fieldErrors(el) {
    return this.exec(
      `const el = arguments[0];
       const ids = (el.getAttribute("aria-describedby") || "").split(/\\s+/).filter(Boolean);
       const tied = ids.map((id) => document.getElementById(id)).filter((n) => n && n.classList.contains("field-errors"));
       const own = el.closest(".field")?.querySelector(".field-errors");
       return {
         invalid: el.getAttribute("aria-invalid") === "true",
         tied: tied.flatMap((n) => [...n.querySelectorAll("li")].map((li) => li.textContent.trim())),
         below: own ? [...own.querySelectorAll("li")].map((li) => li.textContent.trim()) : [],
       };`,
      el,
    );
  }

  /** Goes to a screen with the sidebar. */
  async nav(name) {
    const btn = await this.get({ role: "button", name }, { within: await this.get({ css: "nav.sidebar" }) });
    await btn.click();
    await waitUntil(async () => (await btn.attr("aria-current")) === "page", { what: `screen ${name}` });
    await this.get({ role: "heading", name, css: "h1" });
  }

  /** Text of the whole window, as a person would read it. */
  bodyText() {
    return this.exec("return document.body.innerText");
  }

  /** Waits until nothing is loading and no React update is pending, then saves a PNG. */
  async screenshot(name, { settle = 600, top = false, blur = true } = {}) {
    await waitUntil(async () => !(await this.has({ text: "Loading…" })), { timeout: 10_000, what: "no Loading… left" }).catch(() => {});
    if (blur) await this.exec("document.activeElement && document.activeElement.blur && document.activeElement.blur()");
    if (top) await this.exec("window.scrollTo(0, 0); for (const e of document.querySelectorAll('*')) if (e.scrollTop) e.scrollTop = 0;");
    await sleep(settle);
    mkdirSync(SHOTS, { recursive: true });
    const file = join(SHOTS, `${name}.png`);
    writeFileSync(file, await this.pixels());
    return file;
  }

  /**
   * The window as the X server shows it (ImageMagick's `import` of the root window, cut to
   * the window's rectangle): what a person sees, whatever WebKit's rendering mode.
   * WebKitWebDriver's own snapshot waits for a composited frame, which never comes for
   * some pages when WebKit renders without compositing (the app's choice on machines with
   * no GPU); it is the fallback where there is no X display or no `import`.
   */
  async pixels() {
    if (process.env.DISPLAY) {
      try {
        const r = await this.s.getWindowRect();
        const crop = `${Math.round(r.width)}x${Math.round(r.height)}+${Math.max(0, Math.round(r.x))}+${Math.max(0, Math.round(r.y))}`;
        return execFileSync("import", ["-silent", "-window", "root", "-crop", crop, "+repage", "png:-"], { maxBuffer: 64 << 20 });
      } catch {
        // no ImageMagick: WebDriver's snapshot below
      }
    }
    return this.s.screenshot();
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    const pids = [...new Set([...(this.pids ?? []), ...pidsWith(this.config)])];
    await this.s.delete();
    // The app must not outlive its test (single instance: the next start would only focus
    // it). A process is gone once it is a zombie or reaped: only then has it let go of its
    // D-Bus name.
    await waitUntil(() => pids.every((p) => !alive(p)) && pidsWith(this.config).length === 0, {
      timeout: 20_000,
      what: "the app to exit",
    }).catch(() => {
      for (const pid of [...pids, ...pidsWith(this.config)]) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      }
    });
    await waitSingleInstanceFree().catch(() => {});
  }
}

function parseHow(how, opts) {
  if (how.exact !== undefined) opts = { ...opts, exact: how.exact };
  if (how.label !== undefined) return ["label", how.label, opts];
  if (how.text !== undefined) return ["text", how.text, opts];
  if (how.role !== undefined) {
    if (how.css) return ["role", how.name ?? null, { ...opts, role: how.css }];
    return ["role", how.name ?? null, { ...opts, role: how.role }];
  }
  if (how.css !== undefined) return ["css", how.css, opts];
  throw new Error(`bad locator ${JSON.stringify(how)}`);
}

/** The D-Bus name the single-instance plugin holds while an app runs. */
export const SINGLE_INSTANCE_NAME = "app.tapedeck.studio.SingleInstance";

/** Whether some app still holds the single-instance name on this session bus. */
export function singleInstanceTaken() {
  if (!process.env.DBUS_SESSION_BUS_ADDRESS) return false;
  try {
    const out = execFileSync(
      "dbus-send",
      ["--session", "--dest=org.freedesktop.DBus", "--print-reply", "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", `string:${SINGLE_INSTANCE_NAME}`],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
    );
    return /boolean true/.test(out);
  } catch {
    return false; // no dbus-send: rely on the process checks
  }
}

/** Waits until no app holds the single-instance name: a new start would only focus it. */
export async function waitSingleInstanceFree(timeout = 15_000) {
  await waitUntil(() => !singleInstanceTaken(), { timeout, interval: 100, what: `${SINGLE_INSTANCE_NAME} to be free` });
}

/** Whether a process runs (a zombie does not: it has closed everything). */
export function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) [ZX]/s.test(stat);
  } catch {
    return false;
  }
}

/** Processes whose command line mentions `needle` (our own temporary folder). */
export function pidsWith(needle) {
  const out = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, "utf8");
      if (cmd.includes(needle)) out.push(Number(d));
    } catch {}
  }
  return out;
}

/** A temporary folder with a config that listens on free ports. */
export async function makeConfig(name, { firstRunDone = true, rtmpPort, extra = "", header = "" } = {}) {
  mkdirSync(TMP_ROOT, { recursive: true });
  const dir = mkdtempSync(join(TMP_ROOT, `tapedeck-e2e-${name}-`));
  const rtmp = rtmpPort ?? (await freePort());
  const control = await freePort();
  const dataDir = join(dir, "data");
  const config = join(dir, "tapedeck.toml");
  const text =
    header +
    `data_dir = ${JSON.stringify(dataDir)}\n\n` +
    `[ingest]\nrtmp_listen = "127.0.0.1:${rtmp}"\n\n` +
    `[control]\nlisten = "127.0.0.1:${control}"\n` +
    extra;
  writeFileSync(config, text);
  if (firstRunDone) writeFileSync(join(dir, "tapedeck.first-run-done"), "");
  return { dir, config, dataDir, rtmp, control, marker: join(dir, "tapedeck.first-run-done") };
}

/** Starts the app on a config made by makeConfig (or made here) and waits for its window. */
export async function startApp(name, opts = {}) {
  const ctx = opts.ctx ?? (await makeConfig(name, opts));
  if (!existsSync(BIN)) throw new Error(`no app binary at ${BIN}: build it first (see e2e/README.md)`);
  const caps = { alwaysMatch: { "tauri:options": { application: BIN, args: ["--config", ctx.config] } } };
  let session;
  for (let attempt = 1; ; attempt++) {
    await waitSingleInstanceFree();
    try {
      session = await Session.create(DRIVER, caps, 30_000);
      break;
    } catch (e) {
      // A previous app that is still letting go of its single-instance name makes this one
      // quit at once; one more try after it is gone.
      if (attempt >= 2) throw e;
      await sleep(2000);
    }
  }
  const app = new App(session, ctx);
  try {
    await waitUntil(() => app.exec("return !!document.querySelector('nav.sidebar, main.first-run')"), {
      timeout: 30_000,
      what: "the window to show the app",
    });
    app.pids = pidsWith(ctx.config);
  } catch (e) {
    await app.close();
    throw e;
  }
  return app;
}

/** Waits until the engine says it runs (its RTMP port is open). */
export async function waitEngineRunning(app, timeout = 30_000) {
  return waitUntil(
    async () => {
      const st = await app.invoke("engine_status");
      if (st?.state === "failed") throw Object.assign(new Error(`engine failed: ${JSON.stringify(st.error)}`), { fatal: true });
      return st?.state === "running" ? st : null;
    },
    { timeout, what: "engine running" },
  );
}

/** Publishes a test stream with ffmpeg; stop() ends it cleanly ('q'). */
export function publish(port, app, stream, { size = "1280x720", rate = 30, bitrate = "2500k", duration, gop } = {}) {
  const args = [
    "-hide_banner", "-loglevel", "error", "-nostats",
    "-re", "-f", "lavfi", "-i", `testsrc2=size=${size}:rate=${rate}`,
    "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
    ...(duration ? ["-t", String(duration)] : []),
    "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
    "-g", String(gop ?? rate * 2), "-b:v", bitrate,
    "-c:a", "aac", "-b:a", "64k",
    "-threads", "1",
    "-f", "flv", `rtmp://127.0.0.1:${port}/${app}/${stream}`,
  ];
  const proc = spawn("ffmpeg", args, { stdio: ["pipe", "ignore", "pipe"] });
  let err = "";
  proc.stderr.on("data", (d) => (err = (err + d).slice(-4000)));
  const exited = new Promise((res) => proc.on("exit", (code, sig) => res({ code, sig })));
  return {
    proc,
    exited,
    get stderr() {
      return err;
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode) return exited;
      try {
        proc.stdin.write("q");
      } catch {}
      const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}

/** An S3 server on a free port over a fresh folder, with one bucket. */
export async function startS3(dir, { bucket = "recordings", accessKey = "e2e-access", secretKey = "e2e-secret-key-123" } = {}) {
  const port = await freePort();
  const root = join(dir, "s3");
  mkdirSync(join(root, bucket), { recursive: true });
  const proc = spawn("s3s-fs", ["--host", "127.0.0.1", "--port", String(port), "--access-key", accessKey, "--secret-key", secretKey, root], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  proc.stderr.on("data", (d) => (err = (err + d).slice(-4000)));
  await waitUntil(
    () =>
      new Promise((res) => {
        const c = net.connect(port, "127.0.0.1", () => {
          c.end();
          res(true);
        });
        c.on("error", () => res(false));
      }),
    { timeout: 10_000, what: "s3s-fs to listen" },
  );
  return {
    port,
    root,
    bucket,
    accessKey,
    secretKey,
    endpoint: `http://127.0.0.1:${port}`,
    get stderr() {
      return err;
    },
    stop() {
      proc.kill("SIGTERM");
    },
  };
}

/** Every file under `dir`, as paths relative to it. */
export function walk(dir, base = dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p, base));
    else out.push(p.slice(base.length + 1));
  }
  return out;
}

export function ffprobe(file) {
  const out = execFileSync("ffprobe", ["-v", "error", "-show_entries", "stream=codec_type,codec_name,width,height:format=duration", "-of", "json", file], {
    encoding: "utf8",
  });
  return JSON.parse(out);
}

export function cleanup(ctx) {
  if (process.env.E2E_KEEP) return;
  try {
    rmSync(ctx.dir, { recursive: true, force: true });
  } catch {}
}

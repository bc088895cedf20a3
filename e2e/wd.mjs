// A tiny W3C WebDriver client over fetch: just what the end-to-end tests use.
// tauri-driver proxies it to WebKitWebDriver, which drives the app's real webview.

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

export class WebDriverError extends Error {
  constructor(method, path, status, value) {
    super(`${method} ${path} -> ${status}: ${value?.error ?? ""} ${value?.message ?? JSON.stringify(value)}`.trim());
    this.status = status;
    this.error = value?.error;
  }
}

async function request(base, method, path, body, timeoutMs = 90_000) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const res = await fetch(base + path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json; charset=utf-8" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: ac.signal,
    });
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new WebDriverError(method, path, res.status, { message: text.slice(0, 300) });
    }
    if (!res.ok || (json.value && json.value.error)) throw new WebDriverError(method, path, res.status, json.value);
    return json.value;
  } finally {
    clearTimeout(timer);
  }
}

/** An element handle: the id WebDriver gave it. */
export class Element {
  constructor(session, id) {
    this.s = session;
    this.id = id;
  }
  toJSON() {
    return { [ELEMENT]: this.id };
  }
  cmd(method, sub, body) {
    return this.s.cmd(method, `/element/${this.id}${sub}`, body);
  }
  click() {
    return this.cmd("POST", "/click", {});
  }
  /** Real key events (React sees them as typing). */
  sendKeys(text) {
    return this.cmd("POST", "/value", { text: String(text) });
  }
  text() {
    return this.cmd("GET", "/text");
  }
  attr(name) {
    return this.cmd("GET", `/attribute/${encodeURIComponent(name)}`);
  }
  prop(name) {
    return this.cmd("GET", `/property/${encodeURIComponent(name)}`);
  }
  displayed() {
    return this.cmd("GET", "/displayed");
  }
  enabled() {
    return this.cmd("GET", "/enabled");
  }
  screenshot() {
    return this.cmd("GET", "/screenshot");
  }
}

export class Session {
  constructor(base, id, capabilities) {
    this.base = base;
    this.id = id;
    this.capabilities = capabilities;
  }

  static async create(base, capabilities, timeoutMs = 120_000) {
    const v = await request(base, "POST", "/session", { capabilities }, timeoutMs);
    return new Session(base, v.sessionId, v.capabilities);
  }

  cmd(method, sub, body) {
    return request(this.base, method, `/session/${this.id}${sub}`, body);
  }

  async delete() {
    try {
      await request(this.base, "DELETE", `/session/${this.id}`, undefined, 30_000);
    } catch {
      // The app may already be gone.
    }
  }

  /** Runs `script` (a function body; `arguments` holds args) in the page. */
  exec(script, ...args) {
    return this.cmd("POST", "/execute/sync", { script, args }).then((v) => this.wrap(v));
  }

  /** Like exec, but the script calls `arguments[arguments.length - 1](result)` when done. */
  execAsync(script, ...args) {
    return this.cmd("POST", "/execute/async", { script, args }).then((v) => this.wrap(v));
  }

  wrap(v) {
    if (v && typeof v === "object") {
      if (ELEMENT in v) return new Element(this, v[ELEMENT]);
      if (Array.isArray(v)) return v.map((x) => this.wrap(x));
    }
    return v;
  }

  async find(using, value) {
    const v = await this.cmd("POST", "/element", { using, value });
    return new Element(this, v[ELEMENT]);
  }

  async findAll(using, value) {
    const v = await this.cmd("POST", "/elements", { using, value });
    return v.map((x) => new Element(this, x[ELEMENT]));
  }

  async screenshot() {
    return Buffer.from(await this.cmd("GET", "/screenshot"), "base64");
  }

  setWindowRect(rect) {
    return this.cmd("POST", "/window/rect", rect);
  }

  getWindowRect() {
    return this.cmd("GET", "/window/rect");
  }
}

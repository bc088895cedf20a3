// jsdom has no canvas: a 2D context that records what was drawn (and measures text at
// 6.5 px a character), so drawing code runs in tests and can be asserted.
export type DrawCall = { op: string; args: unknown[] };

export class FakeContext2D {
  calls: DrawCall[] = [];
  fillStyle: unknown = "#000";
  strokeStyle: unknown = "#000";
  globalAlpha = 1;
  lineWidth = 1;
  font = "12px sans-serif";
  textBaseline = "alphabetic";
  constructor(readonly canvas: HTMLCanvasElement | null = null) {}
  private rec(op: string, args: unknown[]) {
    this.calls.push({ op, args });
  }
  count(op: string) {
    return this.calls.filter((c) => c.op === op).length;
  }
  texts() {
    return this.calls.filter((c) => c.op === "fillText").map((c) => String(c.args[0]));
  }
  reset() {
    this.calls = [];
  }
  measureText(text: string) {
    return { width: Array.from(text).length * 6.5 } as TextMetrics;
  }
  createPattern() {
    return null;
  }
  fillRect(...a: unknown[]) { this.rec("fillRect", a); }
  clearRect(...a: unknown[]) { this.rec("clearRect", a); }
  strokeRect(...a: unknown[]) { this.rec("strokeRect", a); }
  fillText(...a: unknown[]) { this.rec("fillText", a); }
  beginPath() { this.rec("beginPath", []); }
  closePath() { this.rec("closePath", []); }
  moveTo(...a: unknown[]) { this.rec("moveTo", a); }
  lineTo(...a: unknown[]) { this.rec("lineTo", a); }
  fill() { this.rec("fill", []); }
  stroke() { this.rec("stroke", []); }
  setTransform(...a: unknown[]) { this.rec("setTransform", a); }
  save() {}
  restore() {}
}

const contexts = new WeakMap<HTMLCanvasElement, FakeContext2D>();

/** The fake context of a canvas (the one its getContext("2d") returned). */
export function contextOf(canvas: HTMLCanvasElement): FakeContext2D {
  let c = contexts.get(canvas);
  if (!c) {
    c = new FakeContext2D(canvas);
    contexts.set(canvas, c);
  }
  return c;
}

export function installFakeCanvas() {
  Object.defineProperty(HTMLCanvasElement.prototype, "getContext", {
    configurable: true,
    value(this: HTMLCanvasElement, kind: string) {
      return kind === "2d" ? contextOf(this) : null;
    },
  });
}

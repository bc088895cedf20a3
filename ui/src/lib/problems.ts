import type { Problem } from "../bindings/Problem";

/**
 * Problems keyed by the field inside one item: `template[0].m3u8.slice_duration` ->
 * `m3u8.slice_duration` for prefix `template`. Problems of other items are dropped;
 * problems naming the item itself go under "".
 */
export function problemsByField(problems: Problem[] | undefined, prefix: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const re = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?:\\[\\d*\\])?\\.?`);
  for (const p of problems ?? []) {
    const field = re.test(p.field) ? p.field.replace(re, "") : p.field;
    (out[field] ??= []).push(p.message);
  }
  return out;
}

/** The messages for fields no form control shows (so none is lost). */
export function unplaced(byField: Record<string, string[]>, shown: Iterable<string>): string[] {
  const set = new Set(shown);
  return Object.entries(byField)
    .filter(([f]) => !set.has(f))
    .flatMap(([f, msgs]) => msgs.map((m) => (f ? `${f}: ${m}` : m)));
}

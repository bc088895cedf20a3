import { describe, expect, it } from "vitest";
import { catalogs, langFor, translate } from ".";
import { en } from "./en";
import { zhCN } from "./zh-CN";

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("message catalog", () => {
  it("has identical keys in English and Simplified Chinese", () => {
    expect(Object.keys(zhCN).sort()).toEqual(Object.keys(en).sort());
  });

  it("has no empty message", () => {
    for (const cat of Object.values(catalogs)) for (const [k, v] of Object.entries(cat)) expect(v.trim(), k).not.toBe("");
  });

  it("uses the same placeholders in both languages", () => {
    for (const k of Object.keys(en) as (keyof typeof en)[]) {
      // Placeholder-like names in template help ({AppName}) are text, and the same too.
      expect(placeholders(zhCN[k]), k).toEqual(placeholders(en[k]));
    }
  });

  it("fills placeholders and leaves unknown ones", () => {
    expect(translate("en", "live.summary", { live: 3, recording: 2 })).toBe("3 live, 2 recording");
    expect(translate("zh-CN", "live.summary", { live: 3, recording: 2 })).toBe("3 路直播，2 路正在录制");
    expect(translate("en", "tpl.segmentNameHint")).toContain("{UnixTimestamp}");
  });

  it("uses singular and plural forms in English, none in Chinese", () => {
    expect(translate("en", "rec.streamFacts", { n: 1, size: "6.2 MB" })).toBe("1 recording · 6.2 MB");
    expect(translate("en", "rec.streamFacts", { n: 3, size: "6.2 MB" })).toBe("3 recordings · 6.2 MB");
    expect(translate("en", "rec.streamFacts", { n: 0, size: "0 B" })).toBe("0 recordings · 0 B");
    expect(translate("en", "rec.import.summary", { recordings: 1, files: 2, indexes: 1, newFiles: 1 })).toBe("Found 1 recording in 2 files and 1 index; 1 file was new.");
    expect(translate("en", "check.list.ok", { endpoint: "x", n: 1 })).toBe("Signed in at x: the keys can see 1 bucket.");
    expect(translate("zh-CN", "rec.streamFacts", { n: 1, size: "6.2 MB" })).toBe("1 段录像 · 6.2 MB");
    // No message of either language is left with a bare "1 …s" pattern of a plural.
    for (const [k, v] of Object.entries(en)) expect(v, k).not.toMatch(/\{\w+\} (recordings|files|buckets|segments|frames|indexes)\b/);
  });

  it("follows the system language", () => {
    expect(langFor("zh-CN")).toBe("zh-CN");
    expect(langFor("zh-Hans-SG")).toBe("zh-CN");
    expect(langFor("en-GB")).toBe("en");
    expect(langFor("de")).toBe("en");
    expect(langFor(undefined)).toBe("en");
  });
});

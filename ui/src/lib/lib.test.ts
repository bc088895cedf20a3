import { describe, expect, it } from "vitest";
import { bytes, formatSecs, hms, kbps, localTime, parseSecs, rate } from "./format";
import { problemsByField, unplaced } from "./problems";
import { derivedEndpoint, newProfile } from "./defaults";

describe("format", () => {
  it("shows time recorded as h:mm:ss", () => {
    expect(hms(0)).toBe("0:00:00");
    expect(hms(65)).toBe("0:01:05");
    expect(hms(3725)).toBe("1:02:05");
    expect(hms(36000 + 59)).toBe("10:00:59");
  });

  it("shows sizes and rates in decimal units", () => {
    expect(bytes(999)).toBe("999 B");
    expect(bytes(1_500_000_000)).toBe("1.5 GB");
    expect(bytes(412_000_000_000)).toBe("412 GB");
    expect(rate(2_500_000)).toBe("20.0 Mbit/s");
    expect(kbps(6000)).toBe("6.0 Mbit/s");
    expect(kbps(800)).toBe("800 kbit/s");
  });

  it("parses and writes durations like the engine", () => {
    for (const [text, s] of [["30s", 30], ["15m", 900], ["6h", 21600], ["1h30m", 5400], ["90", 90]] as const) expect(parseSecs(text)).toBe(s);
    for (const bad of ["", "5x", "h", "1.5h", "30 s", "5m3"]) expect(parseSecs(bad)).toBeNull();
    expect(formatSecs(21600)).toBe("6h");
    expect(formatSecs(900)).toBe("15m");
    expect(formatSecs(90)).toBe("90s");
    expect(formatSecs(0)).toBe("0s");
  });

  it("shows times in local time with the zone", () => {
    const s = localTime(Date.UTC(2026, 11, 6, 13, 3, 22), "en");
    expect(s).toMatch(/\d{2}:\d{2}:\d{2}/);
    expect(s).toMatch(/UTC|GMT|[A-Z]{2,5}/);
    expect(localTime("not a time", "en")).toBe("–");
  });
});

describe("problems", () => {
  it("places problems by the field inside the item", () => {
    const by = problemsByField(
      [
        { field: "template[0].m3u8.slice_duration", message: "too long" },
        { field: "template[0].app", message: "bad app" },
        { field: "template[].run[1].command", message: "no program" },
        { field: "other", message: "x" },
      ],
      "template",
    );
    expect(by["m3u8.slice_duration"]).toEqual(["too long"]);
    expect(by.app).toEqual(["bad app"]);
    expect(by["run[1].command"]).toEqual(["no program"]);
    expect(unplaced(by, ["app", "m3u8.slice_duration", "run[1].command"])).toEqual(["other: x"]);
  });
});

describe("defaults", () => {
  it("derives each provider's endpoint", () => {
    expect(derivedEndpoint({ ...newProfile("oss"), region: "cn-shanghai" })).toBe("https://s3.oss-cn-shanghai.aliyuncs.com");
    expect(derivedEndpoint({ ...newProfile("r2"), account_id: "abc" })).toBe("https://abc.r2.cloudflarestorage.com");
    expect(derivedEndpoint({ ...newProfile("aws"), region: "eu-west-1" })).toBe("https://s3.eu-west-1.amazonaws.com");
    expect(derivedEndpoint({ ...newProfile("custom"), endpoint: "http://m:9000" })).toBe("http://m:9000");
  });
});

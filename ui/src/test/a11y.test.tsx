import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { App } from "../app/App";
import { axeViolations } from "./axe";
import { backend } from "./helpers";

/** Renders the app on the mock backend, opens a screen, waits for its data. */
async function open(name: string, ready: () => Promise<unknown>) {
  const user = userEvent.setup();
  const { container } = render(<App />);
  await user.click(await screen.findByRole("button", { name }));
  await ready();
  return { container, user };
}

describe("accessibility (axe-core)", () => {
  it("Live with streams, pulls and OBS has no violations", async () => {
    backend({ streams: 12 });
    const { container } = await open("Live", () => screen.findByRole("list", { name: "Live streams" }));
    await screen.findByDisplayValue("rtmp://127.0.0.1:1935/live");
    expect(await axeViolations(container)).toEqual([]);
  });

  it("the chapter dialog has no violations", async () => {
    backend({ streams: 1 });
    const { container, user } = await open("Live", () => screen.findByRole("list", { name: "Live streams" }));
    await user.click(screen.getByRole("button", { name: "Add a chapter to live/cam1" }));
    expect(await axeViolations(container)).toEqual([]);
  });

  it("Templates with a form open and problems shown has no violations", async () => {
    backend();
    const { container, user } = await open("Templates", () => screen.findByRole("button", { name: /live\/cam1/ }));
    await user.click(screen.getByRole("button", { name: /live\/cam1/ }));
    await user.click(screen.getByRole("button", { name: "Add a program" }));
    await waitFor(() => expect(screen.getByText(/Name the program to run/)).toBeInTheDocument());
    expect(await axeViolations(container)).toEqual([]);
  });

  it("Storage with a profile, a test result and the queue has no violations", async () => {
    backend();
    const { container, user } = await open("Storage", () => screen.findByRole("table", { name: "Upload queue" }));
    await user.click(screen.getByRole("button", { name: /oss-hangzhou/ }));
    await user.click(await screen.findByRole("button", { name: "Test connection" }));
    await screen.findByText(/Ready: recordings will upload/);
    expect(await axeViolations(container)).toEqual([]);
  });

  it("Settings with a test callback has no violations", async () => {
    backend();
    const { container, user } = await open("Settings", () => screen.findByLabelText("Listen address"));
    await user.click(screen.getByRole("button", { name: "Send test callback" }));
    await screen.findByText(/callbacks work/);
    expect(await axeViolations(container)).toEqual([]);
  });

  it("Recordings has no violations", async () => {
    backend();
    const { container } = await open("Recordings", () => screen.findByTestId("timeline"));
    await screen.findAllByRole("heading", { name: "studio/cam1" });
    expect(await axeViolations(container)).toEqual([]);
  });

  it("Recordings with nothing recorded has no violations", async () => {
    backend({ recordings: "none" });
    const { container } = await open("Recordings", () => screen.findByText(/Recordings will appear here/));
    expect(await axeViolations(container)).toEqual([]);
  });

  it("the engine-failed state has no violations", async () => {
    backend({ error: true });
    const { container } = await open("Live", () => screen.findByText(/its recorder could not start/));
    expect(await axeViolations(container)).toEqual([]);
  });

  it("every first-run step has no violations", async () => {
    backend({ empty: true });
    const user = userEvent.setup();
    const { container } = render(<App />);
    await screen.findByRole("heading", { level: 1, name: "Welcome to Tapedeck Studio" });
    await waitFor(() => expect(screen.getByLabelText("Recordings folder")).toHaveValue("/home/me/tapedeck-data"));
    expect(await axeViolations(container)).toEqual([]);
    await user.click(screen.getByRole("button", { name: "Next" }));
    await screen.findByRole("heading", { name: "Upload to a bucket too? (optional)" });
    expect(await axeViolations(container)).toEqual([]);
    await user.click(screen.getByRole("button", { name: /Skip: keep recordings/ }));
    await screen.findByDisplayValue("rtmp://127.0.0.1:1935/live");
    expect(await axeViolations(container)).toEqual([]);
  });
});

import { screen, waitFor, within } from "@testing-library/react";
import { render } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { backend } from "../test/helpers";
import { App } from "./App";

describe("App", () => {
  it("navigates between screens from the sidebar", async () => {
    backend({ streams: 2 });
    const user = userEvent.setup();
    render(<App />);
    const nav = await screen.findByRole("navigation", { name: "Main" });
    expect(within(nav).getByRole("button", { name: "Live" })).toHaveAttribute("aria-current", "page");
    expect(await screen.findByRole("heading", { level: 1, name: "Live" })).toBeInTheDocument();
    await user.click(within(nav).getByRole("button", { name: "Templates" }));
    expect(screen.getByRole("heading", { level: 1, name: "Templates" })).toBeInTheDocument();
    expect(window.location.hash).toBe("#templates");
    await user.click(within(nav).getByRole("button", { name: "Recordings" }));
    expect(screen.getByRole("heading", { level: 1, name: "Recordings" })).toBeInTheDocument();
    expect(await screen.findByRole("navigation", { name: "Recorded streams" })).toBeInTheDocument();
  });

  it("reaches every screen with the keyboard", async () => {
    backend({ streams: 0 });
    const user = userEvent.setup();
    render(<App />);
    await screen.findByRole("navigation", { name: "Main" });
    await user.tab(); // skip link
    expect(screen.getByText("Skip to content")).toHaveFocus();
    await user.tab();
    expect(screen.getByRole("button", { name: "Live" })).toHaveFocus();
    await user.tab();
    await user.tab();
    await user.tab();
    expect(screen.getByRole("button", { name: "Storage" })).toHaveFocus();
    await user.keyboard("{Enter}");
    expect(screen.getByRole("heading", { level: 1, name: "Storage" })).toBeInTheDocument();
  });

  it("says when the engine failed to start and what to do", async () => {
    backend({ error: true });
    const user = userEvent.setup();
    render(<App />);
    const banner = (await screen.findByText("Tapedeck is not recording: its recorder could not start.")).closest("[role=alert]")!;
    expect(banner).toHaveTextContent(/port 1935 on 127.0.0.1 is already used by another program/);
    expect(banner).toHaveTextContent(/Tapedeck starts its recorder again once the settings are saved/);
    // Said once: the panels whose commands need the recorder only say they wait for it.
    await waitFor(() => expect(screen.getAllByText("Not available while the recorder is stopped.").length).toBeGreaterThan(2));
    expect(screen.getAllByText(/port 1935 on 127.0.0.1 is already used/)).toHaveLength(1);
    // One wording for the retry.
    expect(within(banner as HTMLElement).getByRole("button", { name: "Try again" })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Check again" })).toBeNull();
    await user.click(screen.getByRole("button", { name: "Open Settings" }));
    expect(screen.getByRole("heading", { level: 1, name: "Settings" })).toBeInTheDocument();
    // Fixing the port restarts it; the banner goes.
    const listen = await screen.findByLabelText("Listen address");
    await user.clear(listen);
    await user.type(listen, "127.0.0.1:1936");
    await user.click(screen.getByRole("button", { name: "Save settings" }));
    await waitFor(() => expect(screen.queryByText(/its recorder could not start/)).toBeNull());
  });

  it("follows the saved language and switches to Simplified Chinese", async () => {
    const b = backend({ streams: 0 });
    b.state.lang = "zh-CN";
    render(<App />);
    expect(await screen.findByRole("heading", { level: 1, name: "直播" })).toBeInTheDocument();
    expect(document.documentElement.lang).toBe("zh-CN");
    expect(screen.getByRole("button", { name: "录制模板" })).toBeInTheDocument();
  });

  it("switches language from Settings without a restart", async () => {
    const b = backend({ streams: 0 });
    const user = userEvent.setup();
    render(<App />);
    await user.click(await screen.findByRole("button", { name: "Settings" }));
    await user.selectOptions(await screen.findByLabelText("Language"), "zh-CN");
    expect(await screen.findByRole("heading", { level: 1, name: "设置" })).toBeInTheDocument();
    expect(b.of("language_set")).toEqual([{ lang: "zh-CN" }]);
  });
});

describe("first run", () => {
  it("guides through folder, bucket and OBS, then remembers it is done", async () => {
    const b = backend({ empty: true }, { pick_folder: () => "/media/streams" });
    const user = userEvent.setup();
    render(<App />);
    expect(await screen.findByRole("heading", { level: 1, name: "Welcome to Tapedeck Studio" })).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Choose…" }));
    await user.click(screen.getByRole("button", { name: "Next" }));
    expect(b.of("settings_save")[0]).toMatchObject({ dataDir: "/media/streams" });
    // The bucket: fill it, save and test.
    await screen.findByRole("heading", { name: "Upload to a bucket too? (optional)" });
    await user.type(screen.getByLabelText("Bucket"), "my-vods");
    await user.type(screen.getByLabelText("Access key ID"), "AK");
    await user.type(screen.getByLabelText("Secret access key"), "SK");
    await user.click(screen.getByRole("button", { name: "Save and test" }));
    expect(await screen.findByText("Saved as oss-my-vods: every stream uploads to it.")).toBeInTheDocument();
    expect(b.of("storage_set_keys")).toEqual([{ name: "oss-my-vods", accessKeyId: "AK", secretAccessKey: "SK" }]);
    // The file had no template: the built-in one (index 0) is written out with the bucket.
    expect(b.of("template_save")[0]).toMatchObject({ index: 0, template: { app: "*", stream: "*", storage: "oss-my-vods" } });
    expect(await screen.findByText("Ready: recordings will upload to this bucket.")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Next" }));
    // OBS: the values to copy and "Set up OBS for me".
    expect(await screen.findByDisplayValue("rtmp://127.0.0.1:1935/live")).toBeInTheDocument();
    expect(screen.getByRole("heading", { name: "Set up OBS for me" })).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Connect" }));
    await user.click(await screen.findByRole("button", { name: "Point OBS at Tapedeck" }));
    expect(b.of("obs_setup_stream")).toHaveLength(1);
    await user.click(screen.getByRole("button", { name: "Finish" }));
    expect(b.of("first_run_done")).toHaveLength(1);
    expect(await screen.findByRole("heading", { level: 1, name: "Live" })).toBeInTheDocument();
  });

  it("can be skipped at once", async () => {
    const b = backend({ empty: true });
    const user = userEvent.setup();
    render(<App />);
    await user.click(await screen.findByRole("button", { name: "Skip setup" }));
    expect(b.of("first_run_done")).toHaveLength(1);
    expect(await screen.findByRole("heading", { level: 1, name: "Live" })).toBeInTheDocument();
    expect(b.of("settings_save")).toHaveLength(0);
  });

  it("the bucket step can be skipped", async () => {
    const b = backend({ empty: true });
    const user = userEvent.setup();
    render(<App />);
    await user.click(await screen.findByRole("button", { name: "Next" }));
    await user.click(await screen.findByRole("button", { name: "Skip: keep recordings on this computer only" }));
    expect(await screen.findByRole("button", { name: "Finish" })).toBeInTheDocument();
    expect(b.of("storage_save")).toHaveLength(0);
  });
});

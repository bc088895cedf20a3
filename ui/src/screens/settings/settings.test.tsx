import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { backend, renderIn } from "../../test/helpers";
import { SettingsScreen, randomKey } from "./SettingsScreen";

const props = () => ({ langPref: null, onLanguage: vi.fn(async () => {}), onSaved: vi.fn() });

describe("Settings", () => {
  it("shows the saved settings and says what restarts the engine", async () => {
    backend();
    renderIn(<SettingsScreen {...props()} />);
    expect(await screen.findByLabelText("Listen address")).toHaveValue("0.0.0.0:1935");
    expect(screen.getByLabelText("Recordings folder")).toHaveValue("/home/me/Videos/Tapedeck");
    expect(screen.getByLabelText("Reconnect window for every stream")).toHaveValue(180);
    expect(screen.getByLabelText("Callback address")).toHaveValue("https://example.com/tapedeck/hook");
    expect(screen.getByText(/A change of the listen address or of the recordings folder restarts/)).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Save settings" })).toBeDisabled();
  });

  it("chooses the recordings folder with the native dialog and saves with settings_save", async () => {
    const b = backend({}, { pick_folder: () => "/mnt/big/recordings" });
    const p = props();
    const user = userEvent.setup();
    renderIn(<SettingsScreen {...p} />);
    const section = await screen.findByRole("region", { name: "Recordings" });
    await user.click(within(section).getByRole("button", { name: "Choose…" }));
    expect(b.of("pick_folder")).toEqual([{ title: "Where should Tapedeck save recordings?" }]);
    expect(screen.getByLabelText("Recordings folder")).toHaveValue("/mnt/big/recordings");
    await user.click(screen.getByRole("button", { name: "Save settings" }));
    expect(await screen.findByText("Saved. Tapedeck's recorder restarted to use the new settings.")).toBeInTheDocument();
    const args = b.of("settings_save")[0];
    expect(args.dataDir).toBe("/mnt/big/recordings");
    expect(args.ingest).toMatchObject({ rtmp_listen: "0.0.0.0:1935", publish_key: "s3cret" });
    expect(args.callback).toMatchObject({ url: "https://example.com/tapedeck/hook" });
    expect(args.watch).toHaveLength(1);
    expect(p.onSaved).toHaveBeenCalled();
  });

  it("shows settings problems next to their field", async () => {
    backend();
    const user = userEvent.setup();
    renderIn(<SettingsScreen {...props()} />);
    const listen = await screen.findByLabelText("Listen address");
    await user.clear(listen);
    await user.type(listen, "localhost");
    await user.click(screen.getByRole("button", { name: "Save settings" }));
    await waitFor(() => expect(listen).toHaveAttribute("aria-invalid", "true"));
    expect(screen.getByText("Write an address and a port, like 0.0.0.0:1935.")).toBeInTheDocument();
  });

  it("saves the reconnect window on the template for every stream", async () => {
    const b = backend();
    const user = userEvent.setup();
    renderIn(<SettingsScreen {...props()} />);
    const win = await screen.findByLabelText("Reconnect window for every stream");
    await user.clear(win);
    await user.type(win, "300");
    await user.click(screen.getByRole("button", { name: "Save settings" }));
    await screen.findByText("Saved.");
    expect(b.of("template_save")[0]).toMatchObject({ index: 0, template: { app: "*", stream: "*", interruption_window: "5m" } });
  });

  it("sends a test callback and shows the request and the answer", async () => {
    const b = backend();
    const user = userEvent.setup();
    renderIn(<SettingsScreen {...props()} />);
    await user.click(await screen.findByRole("button", { name: "Send test callback" }));
    expect(await screen.findByText("Your service answered 200: callbacks work.")).toBeInTheDocument();
    expect(screen.getByText(/POST https:\/\/example.com\/tapedeck\/hook/)).toHaveTextContent('"event":"record_started"');
    expect(b.of("send_test_callback")).toHaveLength(1);
  });

  it("says a new address waits for the recorder's restart when the shell did not restart it", async () => {
    backend({}, { settings_save: () => ({ restarted: false }) });
    const user = userEvent.setup();
    renderIn(<SettingsScreen {...props()} />);
    const listen = await screen.findByLabelText("Listen address");
    await user.clear(listen);
    await user.type(listen, "0.0.0.0:1936");
    await user.click(screen.getByRole("button", { name: "Save settings" }));
    expect(await screen.findByText(/The new settings apply once Tapedeck's recorder restarts; it restarts by itself as soon as no stream is live/)).toBeInTheDocument();
  });

  it("adds a watched folder", async () => {
    const b = backend({}, { pick_folder: () => "/home/me/OBS" });
    const user = userEvent.setup();
    renderIn(<SettingsScreen {...props()} />);
    await user.click(await screen.findByRole("button", { name: "Add a folder" }));
    const folder2 = screen.getByRole("group", { name: "Folder 2" });
    expect(within(folder2).getByLabelText("Folder")).toHaveValue("/home/me/OBS");
    await user.click(screen.getByRole("button", { name: "Save settings" }));
    await screen.findByText("Saved. Tapedeck's recorder restarted to use the new settings.");
    expect((b.of("settings_save")[0].watch as unknown[])[1]).toMatchObject({ path: "/home/me/OBS", delete_after_upload: false });
  });

  it("turns start at login on and switches the language", async () => {
    const b = backend();
    const p = props();
    const user = userEvent.setup();
    renderIn(<SettingsScreen {...p} />);
    await user.click(await screen.findByRole("checkbox", { name: "Start Tapedeck when I log in" }));
    expect(b.of("autostart_set")).toEqual([{ enabled: true }]);
    await waitFor(() => expect(screen.getByRole("checkbox", { name: "Start Tapedeck when I log in" })).toBeChecked());
    await user.selectOptions(screen.getByLabelText("Language"), "zh-CN");
    expect(p.onLanguage).toHaveBeenCalledWith("zh-CN");
    await user.selectOptions(screen.getByLabelText("Language"), "system");
    expect(p.onLanguage).toHaveBeenLastCalledWith(null);
  });

  it("makes publish keys OBS can carry as they are", () => {
    const k = randomKey();
    expect(k).toMatch(/^[a-z2-9]{12}$/);
    expect(randomKey()).not.toBe(k);
  });
});

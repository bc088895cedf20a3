import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { validateTemplate, matchTemplate } from "../../mock/backend";
import { newTemplate, onlyBuiltIn } from "../../lib/defaults";
import { NameKeys } from "./NamePreviewBox";
import { backend, renderIn } from "../../test/helpers";
import { TemplatesScreen } from "./TemplatesScreen";

/** The element that describes a control (its problems and hint). */
function describedText(el: HTMLElement): string {
  return (el.getAttribute("aria-describedby") ?? "")
    .split(" ")
    .filter(Boolean)
    .map((id) => document.getElementById(id)?.textContent ?? "")
    .join(" ");
}

describe("Templates", () => {
  it("lists the templates of the config", async () => {
    backend();
    renderIn(<TemplatesScreen />);
    expect(await screen.findByRole("button", { name: /\*\/\*/ })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: /studio\/\*.*uploads to oss-hangzhou/ })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: /live\/cam1.*mp4 \+ flv/ })).toBeInTheDocument();
  });

  it("says what happens without templates", async () => {
    backend({ empty: true });
    renderIn(<TemplatesScreen />);
    expect(await screen.findByText(/No templates yet: every stream is recorded as HLS/)).toBeInTheDocument();
  });

  it("validates as you type and shows the engine's problem next to its field", async () => {
    const b = backend({}, {
      template_validate: (a) => {
        const t = a.template as ReturnType<typeof newTemplate>;
        return t.m3u8.slice_duration === "3s" ? [{ field: "template[1].m3u8.slice_duration", message: "A segment lasts from 5 to 30 seconds here." }] : [];
      },
    });
    const user = userEvent.setup();
    renderIn(<TemplatesScreen />);
    await user.click(await screen.findByRole("button", { name: /studio\/\*/ }));
    const slice = screen.getByLabelText("Segment length");
    await user.clear(slice);
    await user.type(slice, "3");
    await waitFor(() => expect(describedText(slice)).toContain("A segment lasts from 5 to 30 seconds here."));
    expect(slice).toHaveAttribute("aria-invalid", "true");
    // Not next to another field.
    expect(describedText(screen.getByLabelText("Playlist name"))).not.toContain("A segment lasts");
    // The engine got the draft and the template's index.
    const last = b.of("template_validate").at(-1)!;
    expect(last.index).toBe(1);
    expect((last.template as { m3u8: { slice_duration: string } }).m3u8.slice_duration).toBe("3s");
  });

  it("shows one message for a field: the engine's, not the form's range check as well", async () => {
    backend({}, {
      template_validate: (a) => {
        const t = a.template as ReturnType<typeof newTemplate>;
        return t.m3u8.slice_duration === "0s" ? [{ field: "template[1].m3u8.slice_duration", message: "0s is outside 1s-60s" }] : [];
      },
    });
    const user = userEvent.setup();
    renderIn(<TemplatesScreen />);
    await user.click(await screen.findByRole("button", { name: /studio\/\*/ }));
    const slice = screen.getByLabelText("Segment length");
    await user.clear(slice);
    await user.type(slice, "0");
    await waitFor(() => expect(describedText(slice)).toContain("0s is outside 1s-60s"));
    expect(describedText(slice)).not.toContain("Choose 5 to 30 seconds.");
    // Where the engine says nothing, the form's own range check speaks.
    await user.clear(slice);
    await user.type(slice, "45");
    await waitFor(() => expect(describedText(slice)).toContain("Choose 5 to 30 seconds."));
    expect(describedText(slice)).not.toContain("0s is outside");
  });

  it("marks the engine's built-in template and says editing saves it; deleting it shows the engine's refusal", async () => {
    const b = backend({ empty: true });
    const user = userEvent.setup();
    renderIn(<TemplatesScreen />);
    const item = await screen.findByRole("button", { name: /\*\/\*.*Built-in: every app and stream/ });
    expect(screen.getByText(/No templates yet/)).toBeInTheDocument();
    await user.click(item);
    expect(screen.getByText(/This is Tapedeck's built-in template/)).toHaveTextContent(/Saving your changes writes it to the settings file/);
    await user.click(screen.getByRole("button", { name: "Delete" }));
    await user.click(screen.getByRole("button", { name: "Delete template" }));
    expect(await screen.findByText(/This is the built-in template that records every stream/)).toBeInTheDocument();
    // Saving writes it out: then it is the user's own, no longer marked built-in.
    await user.click(screen.getByLabelText("MP4 file"));
    await user.click(screen.getByRole("button", { name: "Save" }));
    await screen.findByText("Template saved. It applies from the next stream that starts.");
    expect(b.of("template_save").at(-1)).toMatchObject({ index: 0 });
    await waitFor(() => expect(screen.queryByText("Built-in: every app and stream")).toBeNull());
    expect(screen.queryByText(/No templates yet/)).toBeNull();
  });

  it("a saved template with other values is not taken for the built-in one", () => {
    expect(onlyBuiltIn([newTemplate()])).toBe(true);
    expect(onlyBuiltIn([{ ...newTemplate(), interruption_window: "180s", formats: ["mp4", "m3u8"] }])).toBe(true);
    expect(onlyBuiltIn([{ ...newTemplate(), storage: "oss" }])).toBe(false);
    expect(onlyBuiltIn([newTemplate(), { ...newTemplate(), app: "live" }])).toBe(false);
  });

  it("lets a file name break only between its folders", () => {
    const { container } = renderIn(<NameKeys keys={{ playlist: null, segment: null, mp4: "record/show/interview/2026-12-06-18-06-22.mp4", flv: null, daily: null }} />);
    const dd = container.querySelector("dd")!;
    expect(dd.textContent).toBe("record/show/interview/2026-12-06-18-06-22.mp4");
    expect(dd.querySelectorAll("wbr")).toHaveLength(3);
    // Each break opportunity follows a "/" ("… .mp / 4" cannot happen there).
    dd.querySelectorAll("wbr").forEach((w) => expect(w.previousSibling?.textContent).toBe("/"));
  });

  it("places the mock engine's rules on app, names and commands", async () => {
    backend();
    const user = userEvent.setup();
    renderIn(<TemplatesScreen />);
    await user.click(await screen.findByRole("button", { name: "New template" }));
    const app = within(screen.getByRole("form", { name: "New template" })).getByLabelText("App name");
    await user.clear(app);
    await user.type(app, "bad app!");
    const playlist = screen.getByLabelText("Playlist name");
    await user.clear(playlist);
    await user.type(playlist, "record/x");
    await user.click(screen.getByRole("button", { name: "Add a program" }));
    await waitFor(() => expect(describedText(app)).toMatch(/letters, digits, - and _/));
    expect(describedText(playlist)).toMatch(/must contain the start and end time/);
    expect(describedText(screen.getByLabelText("Program and its arguments"))).toMatch(/Name the program to run/);
  });

  it("checks the cycle range the UI offers (15 to 360 minutes)", async () => {
    const b = backend();
    const user = userEvent.setup();
    renderIn(<TemplatesScreen />);
    await user.click(await screen.findByRole("button", { name: /live\/cam1/ }));
    const mp4 = screen.getByRole("group", { name: "MP4 file" });
    const cycle = within(mp4).getByLabelText("Start a new file after");
    expect(cycle).toHaveValue(120);
    await user.clear(cycle);
    await user.type(cycle, "5");
    expect(describedText(cycle)).toContain("Choose 15 to 360 minutes.");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(b.of("template_save")).toHaveLength(0);
  });

  it("previews the file names for a sample stream and updates them", async () => {
    backend();
    const user = userEvent.setup();
    renderIn(<TemplatesScreen />);
    await user.click(await screen.findByRole("button", { name: /live\/cam1/ }));
    const preview = screen.getByRole("region", { name: "File names for a stream starting now" });
    await waitFor(() => expect(within(preview).getByText(/^shows\/live\/cam1\/.*\.mp4$/)).toBeInTheDocument());
    const stream = within(preview).getByLabelText("Example stream name");
    await user.clear(stream);
    await user.type(stream, "cam7");
    await waitFor(() => expect(within(preview).getByText(/^shows\/live\/cam7\/.*\.mp4$/)).toBeInTheDocument());
    expect(within(preview).getByText(/^record\/live\/cam7\/.*\.flv$/)).toBeInTheDocument();
  });

  it("saves a new template with index null and shows it in the list", async () => {
    const b = backend();
    const user = userEvent.setup();
    renderIn(<TemplatesScreen />);
    await user.click(await screen.findByRole("button", { name: "New template" }));
    const app = within(screen.getByRole("form", { name: "New template" })).getByLabelText("App name");
    await user.clear(app);
    await user.type(app, "gaming");
    await user.click(screen.getByRole("checkbox", { name: "FLV file" }));
    await user.click(screen.getByRole("button", { name: "Save" }));
    await screen.findByText(/Template saved/);
    const saved = b.of("template_save")[0];
    expect(saved.index).toBeNull();
    expect(saved.template).toMatchObject({ app: "gaming", stream: "*", formats: ["m3u8", "mp4", "flv"] });
    expect(await screen.findByRole("button", { name: /gaming\/\*/ })).toBeInTheDocument();
    // Saving again edits the same template.
    await user.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() => expect(b.of("template_save")[1].index).toBe(3));
  });

  it("shows problems of a refused save by field", async () => {
    backend({}, {
      template_save: () =>
        Promise.reject({ kind: "invalid", message: "The template has problems; fix the fields marked below.", problems: [{ field: "template[0].timezone", message: "Mars/Olympus is not a time zone." }, { field: "template[0].unknown_thing", message: "Something else." }] }),
    });
    const user = userEvent.setup();
    renderIn(<TemplatesScreen />);
    await user.click(await screen.findByRole("button", { name: /\*\/\*/ }));
    await user.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() => expect(describedText(screen.getByLabelText("Time zone of dates in names"))).toContain("Mars/Olympus is not a time zone."));
    expect(screen.getByText("unknown_thing: Something else.")).toBeInTheDocument();
  });

  it("writes post-recording commands one argument per line", async () => {
    const b = backend();
    const user = userEvent.setup();
    renderIn(<TemplatesScreen />);
    await user.click(await screen.findByRole("button", { name: /live\/cam1/ }));
    const cmd = screen.getByLabelText("Program and its arguments");
    expect(cmd).toHaveValue("ffprobe\n-v\nerror\n{Path}");
    await user.type(cmd, "\n");
    await user.click(screen.getByRole("checkbox", { name: "FLV file", checked: false }));
    await user.click(screen.getByRole("button", { name: "Save" }));
    await screen.findByText(/Template saved/);
    expect(b.of("template_save")[0].template).toMatchObject({ run: [{ on: ["mp4", "flv"], command: ["ffprobe", "-v", "error", "{Path}"], timeout: "10m" }] });
  });

  it("deletes a template after asking", async () => {
    const b = backend();
    const user = userEvent.setup();
    renderIn(<TemplatesScreen />);
    await user.click(await screen.findByRole("button", { name: /studio\/\*/ }));
    await user.click(screen.getByRole("button", { name: "Delete" }));
    await user.click(screen.getByRole("button", { name: "Delete template" }));
    expect(b.of("template_delete")).toEqual([{ index: 1 }]);
    await waitFor(() => expect(screen.queryByRole("button", { name: /studio\/\*/ })).toBeNull());
  });

  it("answers which template applies to a stream and why", async () => {
    const b = backend();
    const user = userEvent.setup();
    renderIn(<TemplatesScreen />);
    const which = await screen.findByRole("region", { name: "Which template records a stream?" });
    await waitFor(() => expect(within(which).getByText("live/cam1 is recorded by the template live/cam1 (exact match).")).toBeInTheDocument());
    // Labelled apart from the editor's own app and stream fields.
    const app = within(which).getByLabelText("Try a stream: app");
    expect(within(which).getByLabelText("Try a stream: stream")).toHaveValue("cam1");
    expect(within(which).queryAllByLabelText(/^App name$/)).toHaveLength(0);
    await user.clear(app);
    await user.type(app, "studio");
    await waitFor(() => expect(within(which).getByText("studio/cam1 is recorded by the template studio/* (every stream of app studio).")).toBeInTheDocument());
    expect(b.of("name_preview").at(-1)).toEqual({ app: "studio", stream: "cam1", template: null });
    await act(async () => {});
  });
});

describe("mock engine rules", () => {
  it("the most specific template wins", () => {
    const all = newTemplate();
    const app = { ...newTemplate(), app: "live" };
    const exact = { ...newTemplate(), app: "live", stream: "cam1" };
    expect(matchTemplate([all, app, exact], "live", "cam1")?.t).toBe(exact);
    expect(matchTemplate([all, app, exact], "live", "cam2")?.t).toBe(app);
    expect(matchTemplate([all, app, exact], "other", "x")?.why).toBe("every app and stream");
    expect(matchTemplate([app], "other", "x")).toBeNull();
  });

  it("names each problem's field with the template index", () => {
    const t = { ...newTemplate(), formats: [], interruption_window: "7h" } as ReturnType<typeof newTemplate>;
    expect(validateTemplate(t, 4).map((p) => p.field)).toEqual(["template[4].formats", "template[4].interruption_window"]);
    expect(validateTemplate(newTemplate(), 0)).toEqual([]);
  });
});

import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { axeViolations } from "../../test/axe";
import { backend, renderIn } from "../../test/helpers";
import { RecordingsScreen } from "./RecordingsScreen";

// "Now" of the mock catalog: fixed, so the data (and the tests) repeat.
const NOW = Date.UTC(2026, 11, 6, 18, 0, 0);

async function openScreen(opts = {}, overrides = {}) {
  const b = backend({ now: NOW, ...opts }, overrides);
  const user = userEvent.setup();
  const r = renderIn(<RecordingsScreen />);
  const canvas = await screen.findByTestId("timeline");
  await waitFor(() => expect(b.of("spans").length).toBeGreaterThan(0));
  await waitFor(() => expect(canvas.getAttribute("aria-label")).toMatch(/chapters/));
  return { b, user, canvas, ...r };
}

describe("Recordings screen", () => {
  it("lists recorded streams grouped by app and shows the first on the timeline", async () => {
    const { canvas } = await openScreen();
    const nav = screen.getByRole("navigation", { name: "Recorded streams" });
    expect(within(nav).getByRole("heading", { name: "studio" })).toBeInTheDocument();
    expect(within(nav).getByRole("heading", { name: "live" })).toBeInTheDocument();
    expect(within(nav).getAllByRole("button")).toHaveLength(3);
    expect(canvas.getAttribute("aria-label")).toMatch(/^Timeline of live\/cam1/);
  });
});

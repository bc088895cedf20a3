import axe from "axe-core";

/**
 * axe-core on a rendered screen. jsdom has no layout, so the rules that need one
 * (colour contrast) are left to the real webview; everything else must pass.
 */
export async function axeViolations(node: Element): Promise<string[]> {
  const result = await axe.run(node, {
    rules: { "color-contrast": { enabled: false } },
    resultTypes: ["violations"],
  });
  return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
}

import type { Config } from "../../bindings/Config";
import type { Template } from "../../bindings/Template";
import { newTemplate } from "../../lib/defaults";
import * as ipc from "../../ipc";

/**
 * The template for every app and stream (`*`/`*`): where app-wide settings such as the
 * reconnect window and the first-run bucket live. A config without templates records
 * with an implicit one; saving makes it explicit.
 */
export function catchAll(config: Config): { index: number | null; template: Template } {
  const index = config.template.findIndex((t) => t.app === "*" && t.stream === "*");
  return index >= 0 ? { index, template: config.template[index] } : { index: null, template: newTemplate() };
}

export async function saveCatchAll(config: Config, patch: Partial<Template>): Promise<void> {
  const { index, template } = catchAll(config);
  await ipc.templateSave({ ...template, ...patch }, index);
}

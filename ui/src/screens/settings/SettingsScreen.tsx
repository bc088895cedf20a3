import type { Lang } from "../../ipc/types";
export function SettingsScreen(_: { langPref: Lang | null; onLanguage: (l: Lang | null) => Promise<void>; onSaved: () => void }) {
  return <div className="screen" />;
}

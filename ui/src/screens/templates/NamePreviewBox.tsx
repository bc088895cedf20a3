import type { ReactNode } from "react";
import type { NamePreview } from "../../ipc/types";
import { useT, type MessageKey } from "../../i18n";

const ORDER: [keyof NamePreview["keys"], MessageKey][] = [
  ["playlist", "preview.playlist"],
  ["segment", "preview.segment"],
  ["mp4", "preview.mp4"],
  ["flv", "preview.flv"],
  ["daily", "preview.daily"],
];

/**
 * A key with a line-break opportunity after each "/", so a long key wraps between its
 * folders (".mp4" stays whole); CSS breaks inside a part only when one part is too long.
 */
export function breakAtSlashes(key: string): ReactNode[] {
  return key.split("/").flatMap((part, i, all) => (i < all.length - 1 ? [part, "/", <wbr key={i} />] : [part]));
}

/** The exact file names a stream starting now would get. */
export function NameKeys({ keys }: { keys: NamePreview["keys"] }) {
  const t = useT();
  const rows = ORDER.filter(([k]) => keys[k]);
  if (!rows.length) return <p className="muted">{t("preview.none")}</p>;
  return (
    <dl>
      {rows.map(([k, label]) => (
        <div key={k} style={{ display: "contents" }}>
          <dt>{t(label)}</dt>
          <dd>{breakAtSlashes(keys[k] ?? "")}</dd>
        </div>
      ))}
    </dl>
  );
}

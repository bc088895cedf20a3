import { useState } from "react";
import type { Template } from "../../bindings/Template";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n";
import * as ipc from "../../ipc";
import { newTemplate, onlyBuiltIn } from "../../lib/defaults";
import { useLoad } from "../../lib/useLoad";
import { TemplateForm } from "./TemplateForm";
import { WhichTemplate } from "./WhichTemplate";

type Editing = { index: number | null; template: Template; key: number } | null;

/** Recording templates: which streams are recorded, in which formats, under which names. */
export function TemplatesScreen() {
  const t = useT();
  const config = useLoad(ipc.configGet);
  const [editing, setEditing] = useState<Editing>(null);
  const [version, setVersion] = useState(0);
  const templates = config.data?.template ?? [];
  const storages = (config.data?.storage ?? []).map((s) => s.name);
  // The file has no templates: the engine shows its built-in */* (not a saved one).
  const builtIn = onlyBuiltIn(templates);
  const open = (index: number | null, template: Template) => setEditing({ index, template: structuredClone(template), key: Date.now() });
  const refresh = async () => {
    await config.reload();
    setVersion((v) => v + 1);
  };

  return (
    <div className="screen">
      <h1>{t("nav.templates")}</h1>
      <ErrorNotice error={config.error} onRetry={config.reload} />
      <div className="list-detail">
        <section className="card" aria-labelledby="tpl-list-h">
          <h2 id="tpl-list-h">{t("tpl.list")}</h2>
          {config.data && (templates.length === 0 || builtIn) ? <p className="muted">{t("tpl.defaultOnly")}</p> : null}
          <ul className="item-list">
            {templates.map((tp, i) => (
              <li key={`${tp.app}/${tp.stream}`}>
                <button type="button" aria-current={editing?.index === i ? "true" : undefined} onClick={() => open(i, tp)}>
                  <strong className="mono">
                    {tp.app}/{tp.stream}
                  </strong>
                  <span className="sub">
                    {tp.formats.join(" + ") || "–"} · {tp.storage ? t("tpl.uploadsTo", { name: tp.storage }) : t("tpl.localOnly")}
                  </span>
                  {builtIn ? <span className="badge off">{t("tpl.builtIn")}</span> : null}
                </button>
              </li>
            ))}
          </ul>
          <div className="actions">
            <button type="button" className="primary" onClick={() => open(null, newTemplate())} disabled={!config.data}>
              {t("tpl.add")}
            </button>
          </div>
        </section>
        <div className="stack">
          {editing ? (
            <TemplateForm
              key={editing.key}
              initial={editing.template}
              index={editing.index}
              builtIn={builtIn && editing.index === 0}
              storages={storages}
              onSaved={() => {
                // A new template is now the last one: further saves edit it.
                if (editing.index === null) setEditing({ ...editing, index: templates.length });
                void refresh();
              }}
              onDeleted={() => {
                setEditing(null);
                void refresh();
              }}
              onCancel={() => setEditing(null)}
            />
          ) : (
            <div className="card muted">{t("tpl.pick")}</div>
          )}
          <WhichTemplate version={version} />
        </div>
      </div>
    </div>
  );
}

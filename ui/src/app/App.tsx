import { useCallback, useEffect, useState } from "react";
import { I18nProvider, systemLang, useT, type MessageKey } from "../i18n";
import * as ipc from "../ipc";
import type { EngineStatus, Lang } from "../ipc/types";
import { LiveScreen } from "../screens/live/LiveScreen";
import { RecordingsScreen } from "../screens/recordings/RecordingsScreen";
import { TemplatesScreen } from "../screens/templates/TemplatesScreen";
import { StorageScreen } from "../screens/storage/StorageScreen";
import { SettingsScreen } from "../screens/settings/SettingsScreen";
import { FirstRun } from "../screens/firstrun/FirstRun";
import { EngineBanner } from "./EngineBanner";
import { EngineProvider } from "./engine";

export const SCREENS = ["live", "recordings", "templates", "storage", "settings"] as const;
export type Screen = (typeof SCREENS)[number];

const LABEL: Record<Screen, MessageKey> = {
  live: "nav.live",
  recordings: "nav.recordings",
  templates: "nav.templates",
  storage: "nav.storage",
  settings: "nav.settings",
};

function screenFromHash(): Screen {
  const h = window.location.hash.replace(/^#\/?/, "");
  return (SCREENS as readonly string[]).includes(h) ? (h as Screen) : "live";
}

/** The whole window: the language, the first-run setup, the engine banner, the screens. */
export function App() {
  const [langPref, setLangPref] = useState<Lang | null>(null);
  const [ready, setReady] = useState(false);
  useEffect(() => {
    ipc
      .languageGet()
      .then((l) => setLangPref(l))
      .catch(() => setLangPref(null))
      .finally(() => setReady(true));
  }, []);
  const lang = langPref ?? systemLang();
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  const changeLang = useCallback(async (l: Lang | null) => {
    setLangPref(l);
    await ipc.languageSet(l);
  }, []);
  if (!ready) return null;
  return (
    <I18nProvider lang={lang}>
      <Shell langPref={langPref} onLanguage={changeLang} />
    </I18nProvider>
  );
}

function Shell({ langPref, onLanguage }: { langPref: Lang | null; onLanguage: (l: Lang | null) => Promise<void> }) {
  const t = useT();
  const [screen, setScreen] = useState<Screen>(screenFromHash);
  const [engine, setEngine] = useState<EngineStatus | null>(null);
  const [firstRun, setFirstRun] = useState<boolean | null>(null);

  const checkEngine = useCallback(async () => {
    try {
      setEngine(await ipc.engineStatus());
    } catch {
      // A shell without engine_status: commands say it themselves when they fail.
      setEngine(null);
    }
  }, []);

  useEffect(() => {
    void checkEngine();
    ipc
      .firstRun()
      .then(setFirstRun)
      .catch(() => setFirstRun(false));
  }, [checkEngine]);

  // While the engine is not running, look again every few seconds: it restarts after
  // the settings that stopped it are fixed.
  useEffect(() => {
    if (!engine || engine.state === "running") return;
    const id = window.setInterval(() => void checkEngine(), 3000);
    return () => window.clearInterval(id);
  }, [engine, checkEngine]);

  useEffect(() => {
    const onHash = () => setScreen(screenFromHash());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  const go = (s: Screen) => {
    setScreen(s);
    if (window.location.hash !== `#${s}`) window.history.replaceState(null, "", `#${s}`);
  };

  if (firstRun === null) return null;
  if (firstRun)
    return (
      <FirstRun
        onDone={() => {
          setFirstRun(false);
          void checkEngine();
        }}
      />
    );

  return (
    <div className="app">
      <a href="#main" className="skip-link">
        {t("nav.skip")}
      </a>
      <nav className="sidebar" aria-label={t("nav.label")}>
        <div className="brand" aria-hidden="true">
          <span className="logo">●</span> Tapedeck
        </div>
        <ul>
          {SCREENS.map((s) => (
            <li key={s}>
              <button type="button" aria-current={screen === s ? "page" : undefined} onClick={() => go(s)}>
                {t(LABEL[s])}
              </button>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        <EngineBanner status={engine} onSettings={() => go("settings")} onRetry={checkEngine} />
        <EngineProvider status={engine}>
          {/* Keyed by up/down: once the recorder runs again, the screen asks again. */}
          <div className="screen-host" key={engine?.state === "failed" ? "down" : "up"}>
            {screen === "live" ? <LiveScreen /> : null}
            {screen === "recordings" ? <RecordingsScreen /> : null}
            {screen === "templates" ? <TemplatesScreen /> : null}
            {screen === "storage" ? <StorageScreen /> : null}
            {screen === "settings" ? <SettingsScreen langPref={langPref} onLanguage={onLanguage} onSaved={checkEngine} /> : null}
          </div>
        </EngineProvider>
      </main>
    </div>
  );
}

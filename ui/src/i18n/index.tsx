// One message catalog for every string of the UI, in English and Simplified Chinese.
// The language follows the system (navigator.language) unless the streamer picked one
// (language_get / language_set). Messages take {name} placeholders.
import { createContext, useCallback, useContext, useMemo, type ReactNode } from "react";
import { en, type MessageKey } from "./en";
import { zhCN } from "./zh-CN";
import type { Lang } from "../ipc/types";

export type { MessageKey } from "./en";

export const catalogs: Record<Lang, Record<MessageKey, string>> = { en, "zh-CN": zhCN };

export type Vars = Record<string, string | number>;
export type T = (key: MessageKey, vars?: Vars) => string;

/** The language for a BCP 47 tag like `zh-Hans-CN` or `en-GB`. */
export function langFor(tag: string | undefined | null): Lang {
  return tag && tag.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export function systemLang(): Lang {
  return langFor(typeof navigator !== "undefined" ? navigator.language : "en");
}

const pluralRules = new Map<Lang, Intl.PluralRules>();

/** "one" or "other" (what English needs; Chinese messages use no plural forms). */
function pluralOf(lang: Lang, n: number): string {
  let rules = pluralRules.get(lang);
  if (!rules) pluralRules.set(lang, (rules = new Intl.PluralRules(lang)));
  return rules.select(n);
}

/**
 * A message with its {name} placeholders filled. `{n?recording|recordings}` picks the
 * singular or plural form by the number in `n` (Intl.PluralRules of the language).
 */
export function translate(lang: Lang, key: MessageKey, vars?: Vars): string {
  const text = catalogs[lang][key] ?? en[key] ?? key;
  if (!vars) return text;
  return text
    .replace(/\{(\w+)\?([^|{}]*)\|([^{}]*)\}/g, (m, name: string, one: string, other: string) =>
      name in vars ? (pluralOf(lang, Number(vars[name])) === "one" ? one : other) : m,
    )
    .replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m));
}

type I18n = { lang: Lang; t: T };

const I18nContext = createContext<I18n>({
  lang: "en",
  t: (key, vars) => translate("en", key, vars),
});

export function I18nProvider({ lang, children }: { lang: Lang; children: ReactNode }) {
  const t = useCallback<T>((key, vars) => translate(lang, key, vars), [lang]);
  const value = useMemo(() => ({ lang, t }), [lang, t]);
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  return useContext(I18nContext);
}

export function useT(): T {
  return useContext(I18nContext).t;
}

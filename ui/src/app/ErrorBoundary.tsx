import { Component, type ErrorInfo, type ReactNode } from "react";
import { systemLang, translate } from "../i18n";

type State = { error: Error | null };

/**
 * A screen that throws shows what happened and a way back, instead of a blank window.
 * Recording goes on in the engine either way: the UI is only a view of it.
 */
export class ErrorBoundary extends Component<{ children: ReactNode }, State> {
  state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  componentDidCatch(error: Error, info: ErrorInfo) {
    console.error("Tapedeck Studio: a screen failed", error, info.componentStack);
  }

  render() {
    const { error } = this.state;
    if (!error) return this.props.children;
    const lang = systemLang();
    return (
      <main className="crash" role="alert">
        <h1>{translate(lang, "crash.title")}</h1>
        <p>{translate(lang, "crash.body")}</p>
        <pre className="crash-detail">{error.message}</pre>
        <button type="button" onClick={() => window.location.reload()}>
          {translate(lang, "crash.reload")}
        </button>
      </main>
    );
  }
}

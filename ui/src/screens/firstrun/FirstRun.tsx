export function FirstRun(_: { onDone: () => void }) {
  return <div className="screen" />;
}

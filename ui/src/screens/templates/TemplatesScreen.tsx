export function TemplatesScreen() {
  return <div className="screen" />;
}

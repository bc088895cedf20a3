export function StorageScreen() {
  return <div className="screen" />;
}

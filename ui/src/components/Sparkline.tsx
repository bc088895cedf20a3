import { memo } from "react";

/**
 * x,y of each value: one point per second, newest on the right. Fewer values than
 * `span` (a stream that just started) are spread over the whole width, so a new
 * stream's graph is readable at once instead of a sliver at the right edge; a single
 * value is a flat line.
 */
export function sparkPoints(values: number[], width: number, height: number, span = 120): [number, number][] {
  const vals = values.length === 1 ? [values[0], values[0]] : values.slice(-span);
  if (vals.length < 2) return [];
  const max = Math.max(1, ...vals);
  const step = width / (vals.length - 1);
  return vals.map((v, i) => [i * step, height - 2 - (v / max) * (height - 4)]);
}

/**
 * The bitrate of the last seconds (up to `span`) as an SVG line over a visible
 * baseline. Drawn from the numbers alone: no chart library.
 */
export const Sparkline = memo(function Sparkline({
  values,
  label,
  width = 180,
  height = 36,
  span = 120,
}: {
  values: number[];
  label: string;
  width?: number;
  height?: number;
  span?: number;
}) {
  const pts = sparkPoints(values, width, height, span)
    .map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`)
    .join(" ");
  return (
    <svg className="sparkline" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
      <line x1="0" y1={height - 1} x2={width} y2={height - 1} className="axis" />
      {pts ? (
        <>
          <polygon points={`0,${height - 1} ${pts} ${width},${height - 1}`} className="area" />
          <polyline points={pts} className="line" />
        </>
      ) : null}
    </svg>
  );
});

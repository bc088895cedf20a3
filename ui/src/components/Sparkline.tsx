import { memo } from "react";

/**
 * The bitrate of the last 120 seconds as an SVG line (one point per second, newest on
 * the right). Drawn from the numbers alone: no chart library.
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
  const max = Math.max(1, ...values);
  const step = width / (span - 1);
  const offset = (span - values.length) * step;
  const pts = values
    .map((v, i) => `${(offset + i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`)
    .join(" ");
  return (
    <svg className="sparkline" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
      <line x1="0" y1={height - 1} x2={width} y2={height - 1} className="axis" />
      {values.length > 1 ? (
        <>
          <polygon points={`${offset.toFixed(1)},${height - 1} ${pts} ${width},${height - 1}`} className="area" />
          <polyline points={pts} className="line" />
        </>
      ) : null}
    </svg>
  );
});

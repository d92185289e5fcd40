/**
 * The chart helpers the dashboard and `tether sim --report` share: thin wrappers over uPlot
 * (bundled by esbuild, no CDN). Every chart also keeps its numbers in a data attribute, so a
 * test (or a screen reader) can read what is drawn.
 */
import uPlot from "uplot";

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2"];

function width(el: HTMLElement): number {
  return Math.max(280, Math.min(900, el.clientWidth || 600));
}

/** Bars over category labels (battery buckets, versions). */
export function barChart(el: HTMLElement, labels: string[], values: number[], label: string): uPlot {
  el.innerHTML = "";
  el.dataset.values = JSON.stringify(values);
  const xs = labels.map((_, i) => i);
  return new uPlot(
    {
      width: width(el),
      height: 200,
      legend: { show: false },
      scales: { x: { time: false, range: [-0.5, labels.length - 0.5] }, y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] } },
      axes: [{ values: (_u, ticks) => ticks.map((t) => labels[t] ?? "") , splits: () => xs }, { size: 50 }],
      series: [{}, { label, fill: "#93c5fd", stroke: COLORS[0], paths: uPlot.paths.bars!({ size: [0.7, 80] }), points: { show: false } }],
    },
    [xs, values],
    el,
  );
}

/** Lines over time (x in ms since epoch); null values leave gaps. */
export function timeChart(el: HTMLElement, xsMs: number[], series: { label: string; values: (number | null)[]; scale?: string }[], height = 220): uPlot {
  el.innerHTML = "";
  el.dataset.values = JSON.stringify(series.map((s) => s.values));
  const scales: uPlot.Scales = { x: { time: true } };
  const axes: uPlot.Axis[] = [{}];
  const seen = new Set<string>();
  for (const s of series) {
    const k = s.scale ?? "y";
    if (seen.has(k)) continue;
    seen.add(k);
    scales[k] = {};
    axes.push({ scale: k, side: seen.size === 1 ? 3 : 1, size: 50, grid: { show: seen.size === 1 } });
  }
  return new uPlot(
    {
      width: width(el),
      height,
      scales,
      axes,
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 2, scale: s.scale ?? "y", spanGaps: false }))],
    },
    [xsMs.map((x) => x / 1000), ...series.map((s) => s.values)] as uPlot.AlignedData,
    el,
  );
}

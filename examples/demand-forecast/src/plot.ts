/**
 * Two SVG charts written as plain strings (no dependencies): the loss per federated
 * round, and one shop's forecast against actual sales over the test weeks.
 */
import type { SalesData } from './data.ts';
import { METHODS, type Method, type ShopEvaluation } from './evaluate.ts';
import type { RoundRecord } from './federated.ts';

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  readonly color: string;
  readonly dashed?: boolean;
  /** Draw a dot at each point. */
  readonly markers?: boolean;
  /** Plot against the right-hand axis. */
  readonly right?: boolean;
}

export interface Band {
  readonly from: number;
  readonly to: number;
  readonly label: string;
}

export interface LineChart {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly yRightLabel?: string;
  readonly series: readonly Series[];
  /** Tick label of an x value (default: the number). */
  readonly xTick?: (x: number) => string;
  /** Fixed x tick positions (default: nice steps). */
  readonly xTicks?: readonly number[];
  /** Shaded vertical bands (e.g. holidays), behind the lines. */
  readonly bands?: readonly Band[];
  readonly yFromZero?: boolean;
  /** Logarithmic left axis (all left-axis values must be > 0). */
  readonly logY?: boolean;
  readonly formatY?: (y: number) => string;
  readonly formatYRight?: (y: number) => string;
  readonly width?: number;
  readonly height?: number;
}

const FONT = 'font-family="Helvetica, Arial, sans-serif"';

/** A line chart with axes, ticks, grid, optional right axis and a legend below the plot. */
export function lineChartSvg(chart: LineChart): string {
  const width = chart.width ?? 820;
  const hasRight = chart.series.some((s) => s.right === true);
  const left = 78;
  const right = hasRight ? 78 : 28;
  const legend = layoutLegend(
    chart.series.map((s) => s.name + (s.right === true ? ' (right axis)' : '')),
    width - left - right,
  );
  const legendRows = legend.reduce((n, e) => Math.max(n, e.row + 1), 0);
  const height = (chart.height ?? 420) + legendRows * 20;
  const m = { top: 46, right, bottom: 64 + legendRows * 20, left };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;

  const all = chart.series.flatMap((s) => s.points);
  if (all.length === 0) throw new RangeError(`lineChartSvg: "${chart.title}" has no points`);
  const xs = all.map((p) => p[0]);
  const [x0, x1] = padRange(Math.min(...xs), Math.max(...xs));
  const valuesOf = (right: boolean): number[] =>
    chart.series.filter((s) => (s.right === true) === right).flatMap((s) => s.points.map((p) => p[1]));
  const yRange = (right: boolean): [number, number] => {
    const ys = valuesOf(right);
    if (ys.length === 0) return [0, 1];
    const lo = chart.yFromZero === true ? Math.min(0, ...ys) : Math.min(...ys);
    return niceRange(lo, Math.max(...ys));
  };
  const logY = chart.logY === true;
  if (logY && valuesOf(false).some((y) => !(y > 0))) throw new RangeError(`lineChartSvg: "${chart.title}" has values <= 0 on a log axis`);
  const [yl0, yl1] = logY ? logRange(valuesOf(false)) : yRange(false);
  const [yr0, yr1] = yRange(true);
  const sx = (x: number): number => m.left + ((x - x0) / (x1 - x0)) * pw;
  const syL = logY
    ? (y: number): number => m.top + ph - ((Math.log10(y) - Math.log10(yl0)) / (Math.log10(yl1) - Math.log10(yl0))) * ph
    : (y: number): number => m.top + ph - ((y - yl0) / (yl1 - yl0)) * ph;
  const syR = (y: number): number => m.top + ph - ((y - yr0) / (yr1 - yr0)) * ph;
  const fmtY = chart.formatY ?? fmtNumber;
  const fmtYR = chart.formatYRight ?? fmtNumber;
  const fmtX = chart.xTick ?? fmtNumber;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
  );
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${width / 2}" y="26" text-anchor="middle" font-size="16" font-weight="bold">${esc(chart.title)}</text>`);

  for (const b of chart.bands ?? []) {
    const a = Math.max(m.left, sx(b.from));
    const z = Math.min(m.left + pw, sx(b.to));
    if (z <= a) continue;
    out.push(`<rect x="${f(a)}" y="${m.top}" width="${f(z - a)}" height="${ph}" fill="#f2e7c9"/>`);
    out.push(
      `<text x="${f((a + z) / 2)}" y="${m.top + 12}" text-anchor="middle" font-size="10" fill="#8a6d1f">${esc(b.label)}</text>`,
    );
  }

  // Grid and left axis ticks.
  for (const y of logY ? logTicks(yl0, yl1) : ticks(yl0, yl1)) {
    const py = syL(y);
    out.push(`<line x1="${m.left}" y1="${f(py)}" x2="${m.left + pw}" y2="${f(py)}" stroke="#e3e3e3"/>`);
    out.push(`<text x="${m.left - 8}" y="${f(py + 4)}" text-anchor="end">${esc(fmtY(y))}</text>`);
  }
  if (hasRight) {
    for (const y of ticks(yr0, yr1)) {
      out.push(`<text x="${m.left + pw + 8}" y="${f(syR(y) + 4)}" text-anchor="start">${esc(fmtYR(y))}</text>`);
    }
  }
  for (const x of chart.xTicks ?? ticks(x0, x1)) {
    if (x < x0 || x > x1) continue;
    const px = sx(x);
    out.push(`<line x1="${f(px)}" y1="${m.top + ph}" x2="${f(px)}" y2="${m.top + ph + 5}" stroke="#333"/>`);
    out.push(`<text x="${f(px)}" y="${m.top + ph + 19}" text-anchor="middle">${esc(fmtX(x))}</text>`);
  }
  // Axes.
  out.push(`<line x1="${m.left}" y1="${m.top + ph}" x2="${m.left + pw}" y2="${m.top + ph}" stroke="#333"/>`);
  out.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + ph}" stroke="#333"/>`);
  if (hasRight) out.push(`<line x1="${m.left + pw}" y1="${m.top}" x2="${m.left + pw}" y2="${m.top + ph}" stroke="#333"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${m.top + ph + 40}" text-anchor="middle">${esc(chart.xLabel)}</text>`);
  out.push(
    `<text transform="translate(20 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(chart.yLabel)}</text>`,
  );
  if (hasRight && chart.yRightLabel !== undefined) {
    out.push(
      `<text transform="translate(${width - 16} ${m.top + ph / 2}) rotate(90)" text-anchor="middle">${esc(chart.yRightLabel)}</text>`,
    );
  }

  // Series.
  for (const s of chart.series) {
    const sy = s.right === true ? syR : syL;
    const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${f(sx(p[0]))},${f(sy(p[1]))}`).join(' ');
    out.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    if (s.markers === true) {
      for (const p of s.points) out.push(`<circle cx="${f(sx(p[0]))}" cy="${f(sy(p[1]))}" r="2.8" fill="${s.color}"/>`);
    }
  }

  // Legend, below the x-axis label, entries flowing left to right.
  const legendTop = m.top + ph + 58;
  chart.series.forEach((s, i) => {
    const e = legend[i] as LegendSlot;
    const lx = m.left + e.x;
    const ly = legendTop + e.row * 20;
    out.push(
      `<line x1="${f(lx)}" y1="${ly}" x2="${f(lx + 26)}" y2="${ly}" stroke="${s.color}" stroke-width="2.5"${s.dashed === true ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    if (s.markers === true) out.push(`<circle cx="${f(lx + 13)}" cy="${ly}" r="2.8" fill="${s.color}"/>`);
    out.push(`<text x="${f(lx + 32)}" y="${ly + 4}">${esc(e.text)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Training loss of the federated rounds, with the pooled test WAPE on the right axis where recorded. */
export function lossChartSvg(history: readonly RoundRecord[], title = 'Federated training: loss per round'): string {
  const series: Series[] = [
    {
      name: 'global model, before local training',
      points: history.map((r) => [r.round, r.lossBefore] as const),
      color: '#1f5fa8',
      markers: true,
    },
    {
      name: 'after local training (mean over shops)',
      points: history.map((r) => [r.round, r.lossAfter] as const),
      color: '#7aa6d6',
      dashed: true,
      markers: true,
    },
  ];
  const vals = history.filter((r) => r.validationWape !== undefined).map((r) => [r.round, (r.validationWape as number) * 100] as const);
  if (vals.length > 0) {
    series.push({ name: 'validation WAPE of the new global model (chooses the round)', points: vals, color: '#8e44ad', markers: true, right: true });
  }
  const wapes = history.filter((r) => r.testWape !== undefined).map((r) => [r.round, (r.testWape as number) * 100] as const);
  if (wapes.length > 0) {
    series.push({ name: 'test WAPE of the new global model (diagnostic only)', points: wapes, color: '#c0392b', dashed: true, markers: true, right: true });
  }
  return lineChartSvg({
    title,
    xLabel: 'round',
    yLabel: 'training loss, log scale (normalised demand)',
    yRightLabel: 'WAPE (%)',
    series,
    logY: history.every((r) => r.lossBefore > 0 && r.lossAfter > 0),
    xTicks: integerTicks(history.map((r) => r.round)),
    formatYRight: (y) => `${fmtNumber(y)}%`,
  });
}

/** Methods drawn in the forecast chart (the others are in the tables only, to keep it legible). */
const PLOTTED: readonly Method[] = ['personalised', 'federated', 'local', 'glm', 'naive'];

const METHOD_STYLE: Readonly<Record<Method, { readonly label: string; readonly color: string; readonly dashed?: boolean }>> = {
  personalised: { label: "the shop's chosen model", color: '#8e44ad' },
  federated: { label: 'federated', color: '#1f5fa8' },
  local: { label: 'local only', color: '#e67e22', dashed: true },
  centralised: { label: 'centralised', color: '#27ae60', dashed: true },
  glm: { label: 'Poisson GLM (per shop)', color: '#16a085', dashed: true },
  snaive4: { label: '4-week same-weekday mean', color: '#95a5a6', dashed: true },
  naive: { label: 'seasonal naive (t−7)', color: '#7f8c8d', dashed: true },
  oracle: { label: 'generator expectation', color: '#bbbbbb', dashed: true },
};

/** Daily units (all products) of one shop over the test weeks: actual and each evaluated method. */
export function forecastChartSvg(data: SalesData, shop: ShopEvaluation): string {
  const days = [...new Set(shop.day)].sort((a, b) => a - b);
  const index = new Map(days.map((d, i) => [d, i] as const));
  const total = (values: Float32Array): (readonly [number, number])[] => {
    const sums = new Float64Array(days.length);
    for (let i = 0; i < values.length; i++) {
      const k = index.get(shop.day[i] as number) as number;
      sums[k] = (sums[k] as number) + (values[i] as number);
    }
    return days.map((d, i) => [d, sums[i] as number] as const);
  };
  const series: Series[] = [{ name: 'actual', points: total(shop.actual), color: '#111111', markers: true }];
  for (const m of METHODS) {
    const f = shop.forecasts[m];
    if (f === undefined || !PLOTTED.includes(m)) continue;
    const st = METHOD_STYLE[m];
    series.push({ name: `${st.label} (WAPE ${pct(shop.metrics[m]?.wape)})`, points: total(f), color: st.color, dashed: st.dashed ?? false });
  }
  const bands: Band[] = [];
  for (const d of days) {
    if (data.holiday[d] !== 1) continue;
    const last = bands.at(-1);
    if (last !== undefined && last.to === d - 0.5) bands[bands.length - 1] = { from: last.from, to: d + 0.5, label: 'holidays' };
    else bands.push({ from: d - 0.5, to: d + 0.5, label: 'holiday' });
  }
  const first = days[0] ?? 0;
  return lineChartSvg({
    title: `${shop.shopId}: forecast vs actual, test weeks (${data.dates[first] ?? ''} to ${data.dates[days.at(-1) ?? 0] ?? ''})`,
    xLabel: 'date (ticks on Mondays)',
    yLabel: 'units sold per day, all products',
    series,
    bands,
    yFromZero: true,
    xTicks: days.filter((d) => data.dayOfWeek[d] === 0),
    xTick: (d) => shortDate(data.dates[Math.round(d)] ?? ''),
  });
}

function shortDate(iso: string): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const mo = Number(iso.slice(5, 7));
  return `${months[mo - 1] ?? '?'} ${iso.slice(8, 10)}`;
}

function pct(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? 'n/a' : `${(v * 100).toFixed(1)}%`;
}

function integerTicks(values: readonly number[]): number[] {
  if (values.length === 0) return [];
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const step = Math.max(1, Math.ceil((hi - lo) / 10));
  const out: number[] = [];
  for (let v = lo; v <= hi; v += step) out.push(v);
  return out;
}

interface LegendSlot {
  readonly text: string;
  readonly x: number;
  readonly row: number;
}

/** Places legend entries (26 px swatch + text) in rows of at most `width` px, estimating 6.6 px per character at 12 px. */
function layoutLegend(texts: readonly string[], width: number): LegendSlot[] {
  const slots: LegendSlot[] = [];
  let x = 0;
  let row = 0;
  for (const text of texts) {
    const w = 32 + text.length * 6.6 + 24;
    if (x > 0 && x + w > width) {
      x = 0;
      row++;
    }
    slots.push({ text, x, row });
    x += w;
  }
  return slots;
}

/** Decades around the data, on a 1–2–5 grid. */
function logRange(values: readonly number[]): [number, number] {
  const grid = (v: number, up: boolean): number => {
    const mag = Math.pow(10, Math.floor(Math.log10(v)));
    const steps = [1, 2, 5, 10];
    const n = v / mag;
    const pick = up ? steps.find((s) => s >= n - 1e-9) : [...steps].reverse().find((s) => s <= n + 1e-9);
    return (pick ?? 1) * mag;
  };
  const lo = grid(Math.min(...values), false);
  const hi = grid(Math.max(...values), true);
  return hi > lo ? [lo, hi] : [lo / 2, hi * 2];
}

function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const s of [1, 2, 5]) {
      const v = Number((s * Math.pow(10, e)).toPrecision(12));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
    }
  }
  return out;
}

function padRange(lo: number, hi: number): [number, number] {
  if (hi > lo) return [lo, hi];
  return [lo - 1, hi + 1];
}

function niceStep(span: number, count = 5): number {
  const raw = span / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
}

function niceRange(lo: number, hi: number): [number, number] {
  if (!(hi > lo)) return [lo - 1, hi + 1];
  const step = niceStep(hi - lo);
  return [Math.floor(lo / step) * step, Math.ceil(hi / step) * step];
}

function ticks(lo: number, hi: number): number[] {
  const step = niceStep(hi - lo);
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmtNumber(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 10) return Number(v.toFixed(1)).toString();
  if (a >= 0.01) return Number(v.toFixed(3)).toString();
  return v.toExponential(1);
}

function f(v: number): string {
  return Number(v.toFixed(2)).toString();
}

/** Escapes text for SVG/XML content and attribute values. */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

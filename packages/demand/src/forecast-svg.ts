/**
 * The forecast as one SVG: a small panel per product, recent sales (solid) then the
 * forecast (dashed), on the product's own scale. Plain SVG 1.1, no scripts or
 * external references, so any browser or image viewer shows it.
 */
import type { Forecast } from './forecast.ts';

const PANEL_W = 360;
const PANEL_H = 170;
const COLS = 2;
const PAD = { left: 44, right: 12, top: 28, bottom: 28 };

export function forecastSvg(f: Pick<Forecast, 'dates' | 'products'>, title: string): string {
  const n = f.products.length;
  const rows = Math.max(1, Math.ceil(n / COLS));
  const width = COLS * PANEL_W;
  const height = rows * PANEL_H + 36;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="12" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  f.products.forEach((p, i) => {
    const x0 = (i % COLS) * PANEL_W;
    const y0 = 36 + Math.floor(i / COLS) * PANEL_H;
    const series = [...p.recent, ...p.forecast];
    const max = Math.max(1, ...series) * 1.1;
    const w = PANEL_W - PAD.left - PAD.right;
    const h = PANEL_H - PAD.top - PAD.bottom;
    const count = series.length;
    const px = (k: number): number => x0 + PAD.left + (count <= 1 ? 0 : (k / (count - 1)) * w);
    const py = (v: number): number => y0 + PAD.top + h - (v / max) * h;
    const path = (from: number, values: readonly number[]): string => values.map((v, k) => `${k === 0 ? 'M' : 'L'}${px(from + k).toFixed(1)},${py(v).toFixed(1)}`).join(' ');
    parts.push(`<g><text x="${x0 + PAD.left}" y="${y0 + 16}" font-weight="bold">${esc(p.product)}</text>`);
    parts.push(`<line x1="${x0 + PAD.left}" y1="${y0 + PAD.top + h}" x2="${x0 + PAD.left + w}" y2="${y0 + PAD.top + h}" stroke="#999"/>`);
    parts.push(`<line x1="${x0 + PAD.left}" y1="${y0 + PAD.top}" x2="${x0 + PAD.left}" y2="${y0 + PAD.top + h}" stroke="#999"/>`);
    parts.push(`<text x="${x0 + PAD.left - 4}" y="${y0 + PAD.top + 4}" text-anchor="end">${Math.round(max)}</text>`);
    parts.push(`<text x="${x0 + PAD.left - 4}" y="${y0 + PAD.top + h}" text-anchor="end">0</text>`);
    const firstDate = p.recentDates[0] ?? f.dates[0] ?? '';
    parts.push(`<text x="${x0 + PAD.left}" y="${y0 + PAD.top + h + 14}">${esc(firstDate)}</text>`);
    parts.push(`<text x="${x0 + PAD.left + w}" y="${y0 + PAD.top + h + 14}" text-anchor="end">${esc(f.dates[f.dates.length - 1] ?? '')}</text>`);
    if (p.recent.length > 0) parts.push(`<path d="${path(0, p.recent)}" fill="none" stroke="#1f5fa8" stroke-width="1.5"><title>recent sales</title></path>`);
    // The forecast line starts at the last actual day so the two join.
    const joined = p.recent.length > 0 ? [p.recent[p.recent.length - 1]!, ...p.forecast] : p.forecast;
    const from = p.recent.length > 0 ? p.recent.length - 1 : 0;
    parts.push(`<path d="${path(from, joined)}" fill="none" stroke="#d9480f" stroke-width="2" stroke-dasharray="5,3"><title>forecast</title></path>`);
    parts.push('</g>');
  });
  parts.push(`<g transform="translate(${width - 220},14)"><line x1="0" y1="0" x2="24" y2="0" stroke="#1f5fa8" stroke-width="1.5"/><text x="30" y="4">recent sales</text>`);
  parts.push(`<line x1="110" y1="0" x2="134" y2="0" stroke="#d9480f" stroke-width="2" stroke-dasharray="5,3"/><text x="140" y="4">forecast</text></g>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

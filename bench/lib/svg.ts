/** One bar series (a colour in the legend). */
export interface Series {
  name: string;
  color: string;
}

/** A labelled group of bars, one per series (missing values leave a gap). */
export interface Group {
  label: string;
  values: (number | undefined)[];
}

/** A horizontal bar chart of ratios. */
export interface RatioChart {
  title: string;
  subtitle?: string;
  series: Series[];
  groups: Group[];
  /** Dashed reference lines, e.g. 1.0 (parity) and 0.85 (the raw-driver target). */
  refs?: { at: number; label: string }[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * Renders ratios as horizontal bars on a log scale (so 0.5× and 2× are the same distance from 1×), with the
 * value written at the end of each bar. Plain SVG 1.1, no script, no external fonts.
 */
export function ratioChart(c: RatioChart): string {
  const bar = 14;
  const gap = 10;
  const labelW = 250;
  const plotW = 520;
  const top = 58 + (c.subtitle ? 16 : 0);
  const all = c.groups.flatMap((g) => g.values).filter((v): v is number => v !== undefined && Number.isFinite(v) && v > 0);
  const refs = c.refs ?? [];
  const lo = Math.log2(Math.min(0.5, ...all, ...refs.map((r) => r.at)) / 1.1);
  const hi = Math.log2(Math.max(2, ...all, ...refs.map((r) => r.at)) * 1.25);
  const x = (v: number) => labelW + ((Math.log2(v) - lo) / (hi - lo)) * plotW;
  const groupH = c.series.length * bar + gap;
  const height = top + c.groups.length * groupH + 44 + 11 * (c.refs?.length ?? 0);
  const width = labelW + plotW + 70;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="600">${esc(c.title)}</text>`,
  ];
  if (c.subtitle) out.push(`<text x="12" y="40" fill="#555">${esc(c.subtitle)}</text>`);
  // Legend.
  let lx = 12;
  const ly = top - 14;
  for (const s of c.series) {
    out.push(
      `<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${s.color}"/>`,
      `<text x="${lx + 14}" y="${ly}">${esc(s.name)}</text>`,
    );
    lx += 24 + s.name.length * 6.5;
  }
  // Axis ticks at powers of two.
  const bottom = top + c.groups.length * groupH;
  for (let p = Math.ceil(lo); p <= Math.floor(hi); p++) {
    const v = 2 ** p;
    out.push(
      `<line x1="${x(v).toFixed(1)}" y1="${top}" x2="${x(v).toFixed(1)}" y2="${bottom}" stroke="#eee"/>`,
      `<text x="${x(v).toFixed(1)}" y="${bottom + 14}" text-anchor="middle" fill="#555">${v >= 1 ? v : `1/${1 / v}`}×</text>`,
    );
  }
  c.groups.forEach((g, gi) => {
    const y0 = top + gi * groupH;
    out.push(`<text x="${labelW - 8}" y="${y0 + (c.series.length * bar) / 2 + 4}" text-anchor="end">${esc(g.label)}</text>`);
    g.values.forEach((v, si) => {
      if (v === undefined || !Number.isFinite(v) || v <= 0) return;
      const y = y0 + si * bar;
      const x1 = x(1);
      const x2 = x(v);
      out.push(
        `<rect x="${Math.min(x1, x2).toFixed(1)}" y="${y + 1}" width="${Math.max(1, Math.abs(x2 - x1)).toFixed(1)}" height="${bar - 2}" fill="${c.series[si]!.color}"><title>${esc(`${g.label} — ${c.series[si]!.name}: ${v.toFixed(2)}×`)}</title></rect>`,
        `<text x="${(Math.max(x1, x2) + 4).toFixed(1)}" y="${y + bar - 3}" font-size="10" fill="#333">${v.toFixed(2)}</text>`,
      );
    });
  });
  for (const [ri, r] of refs.entries()) {
    out.push(
      `<line x1="${x(r.at).toFixed(1)}" y1="${top - 4}" x2="${x(r.at).toFixed(1)}" y2="${bottom}" stroke="#c00" stroke-dasharray="4 3"/>`,
      `<text x="${x(r.at).toFixed(1)}" y="${bottom + 28 + 11 * ri}" text-anchor="middle" fill="#c00" font-size="10">${esc(r.label)}</text>`,
    );
  }
  out.push(
    `<text x="${labelW + plotW / 2}" y="${height - 4}" text-anchor="middle" fill="#555">ours ÷ contender (throughput; right of 1× = ours faster)</text>`,
    '</svg>',
  );
  return out.join('\n') + '\n';
}

// Charts. Bars are drawn by Chart.js (tree-shaken to the bar chart: about
// 60 kB of the bundle), each with its numbers in a table beside it for
// screen readers and for anyone who wants the figures. The R×F heatmap is
// a plain HTML grid: it is a table of 25 counts, and Chart.js has no
// heatmap without a plugin.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  Tooltip,
  type ChartDataset,
} from "chart.js";
import { useEffect, useRef } from "preact/hooks";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);
Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
Chart.defaults.animation = false;

export const palette = ["#1f4e8c", "#d9822b", "#3a9d5d", "#c23b3b", "#7a5cc2", "#5f6b7a"];

export interface Series {
  label: string;
  values: number[];
  color?: string;
}

/**
 * BarChart draws one bar per label for each series, vertical unless
 * horizontal; format writes a value for the axis, tooltips and the table.
 */
export function BarChart(props: {
  id: string;
  title: string;
  labels: string[];
  series: Series[];
  horizontal?: boolean;
  format?: (v: number) => string;
  colors?: string[];
  height?: number;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const fmt = props.format ?? ((v: number) => v.toLocaleString("en-US"));
  useEffect(() => {
    const datasets: ChartDataset<"bar">[] = props.series.map((s, i) => ({
      label: s.label,
      data: s.values,
      backgroundColor: props.colors ?? s.color ?? palette[i % palette.length],
      borderRadius: 3,
    }));
    const valueAxis = { beginAtZero: true, ticks: { precision: 0, callback: (v: string | number) => fmt(Number(v)) } };
    const chart = new Chart(canvas.current!, {
      type: "bar",
      data: { labels: props.labels, datasets },
      options: {
        indexAxis: props.horizontal ? "y" : "x",
        maintainAspectRatio: false,
        plugins: {
          legend: { display: props.series.length > 1 },
          tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${fmt(Number(ctx.raw))}` } },
        },
        scales: props.horizontal ? { x: valueAxis } : { y: valueAxis },
      },
    });
    return () => chart.destroy();
  }, [JSON.stringify([props.labels, props.series, props.horizontal])]);

  return (
    <figure class="chart" id={props.id}>
      <figcaption>{props.title}</figcaption>
      <div class="canvas" style={{ height: `${props.height ?? 220}px` }}>
        <canvas ref={canvas} role="img" aria-label={props.title} />
      </div>
      <table class="sr-only">
        <thead>
          <tr>
            <th />
            {props.series.map((s) => (
              <th>{s.label}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.labels.map((l, i) => (
            <tr>
              <th>{l}</th>
              {props.series.map((s) => (
                <td>{fmt(s.values[i])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

/**
 * Heatmap draws a rows × columns grid of counts, shaded by count; cell(r, c)
 * gives the count of row r, column c.
 */
export function Heatmap(props: {
  id: string;
  title: string;
  rows: { label: string; key: number }[];
  columns: { label: string; key: number }[];
  rowTitle: string;
  columnTitle: string;
  cell: (row: number, column: number) => number;
}) {
  let max = 0;
  for (const r of props.rows) for (const c of props.columns) max = Math.max(max, props.cell(r.key, c.key));
  return (
    <figure class="chart" id={props.id}>
      <figcaption>{props.title}</figcaption>
      <table class="heatmap">
        <thead>
          <tr>
            <th class="corner">
              {props.rowTitle} ↓ · {props.columnTitle} →
            </th>
            {props.columns.map((c) => (
              <th scope="col">{c.label}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((r) => (
            <tr>
              <th scope="row">{r.label}</th>
              {props.columns.map((c) => {
                const n = props.cell(r.key, c.key);
                const share = max ? n / max : 0;
                return (
                  <td
                    data-row={r.key}
                    data-column={c.key}
                    style={{
                      backgroundColor: `rgba(31, 78, 140, ${(0.06 + 0.94 * share).toFixed(3)})`,
                      color: share > 0.45 ? "#fff" : "inherit",
                    }}
                  >
                    {n.toLocaleString("en-US")}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

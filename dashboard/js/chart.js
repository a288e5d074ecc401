// A small price chart per snipe: an SVG step line of the prices seen, the maximum as a dashed line.

const NS = "http://www.w3.org/2000/svg";
const WIDTH = 240;
const HEIGHT = 56;
const PAD = 4;

function svg(tag, attributes) {
  const element = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  return element;
}

export function priceChart(points, maxBid, label) {
  const root = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    class: "chart",
    role: "img",
    "aria-label": label,
    preserveAspectRatio: "none",
  });
  if (!points || points.length === 0) return root;
  const series = points.length === 1 ? [points[0], [points[0][0] + 1, points[0][1]]] : points;
  const values = series.map((p) => p[1]);
  const top = Math.max(...values, maxBid || 0);
  const lowest = Math.min(...values);
  // Some room under the lowest price, so a flat line does not sit on the floor.
  const bottom = lowest - Math.max(1, top - lowest) * 0.25;
  const span = Math.max(1, top - bottom);
  const t0 = series[0][0];
  const tSpan = Math.max(1, series[series.length - 1][0] - t0);
  const x = (t) => PAD + ((t - t0) / tSpan) * (WIDTH - 2 * PAD);
  const y = (v) => HEIGHT - PAD - ((v - bottom) / span) * (HEIGHT - 2 * PAD);
  let path = `M ${x(series[0][0]).toFixed(1)} ${y(series[0][1]).toFixed(1)}`;
  for (let i = 1; i < series.length; i += 1) {
    path += ` H ${x(series[i][0]).toFixed(1)} V ${y(series[i][1]).toFixed(1)}`;
  }
  const area = `${path} V ${HEIGHT - PAD} H ${x(series[0][0]).toFixed(1)} Z`;
  root.append(svg("path", { d: area, class: "chart-area" }));
  if (maxBid) {
    const yMax = y(maxBid).toFixed(1);
    root.append(svg("line", { x1: PAD, x2: WIDTH - PAD, y1: yMax, y2: yMax, class: "chart-max" }));
  }
  root.append(svg("path", { d: path, class: "chart-line" }));
  const last = series[series.length - 1];
  root.append(svg("circle", { cx: x(last[0]).toFixed(1), cy: y(last[1]).toFixed(1), r: 3, class: "chart-dot" }));
  return root;
}

#!/usr/bin/env python3
"""Draws the plots of a bench run from its results.jsonl, as SVG written by
hand (no dependencies beyond Python 3), so that any machine that runs the
bench can draw them:

    python3 bench/plot.py [--results bench/results.jsonl] [--out bench/plots]

- size.svg: throughput (MB/s) against message size, 1p→1c, log-log, one line
  per implementation (the rows of the size sweep);
- rtt.svg:  ping-pong round-trip percentiles (p50, p99, p99.9) per
  implementation, 8 B and 64 KiB, log scale;
- pc.svg:   the producers × consumers sweep as heatmaps (M messages/s), one
  per implementation, and wq's ratio to the recipe.

A plot whose rows are missing from the results is not drawn (and an old
file of that name is left alone).
"""

import argparse
import json
import math
import os
from html import escape

# One colour per implementation, the same in every plot.
COLORS = {
    "wq-c": "#1f77b4", "wq-rust": "#17becf", "boost-recipe": "#d62728", "boost-mq": "#ff7f0e",
    "posix-mq": "#9467bd", "pipe": "#8c564b", "iceoryx2": "#2ca02c", "iceoryx2-spin": "#98df8a",
}


def color(impl):
    return COLORS.get(impl, "#7f7f7f")


def human(size):
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} B"


def short(v):
    """A bar's label: 1.03, 65.3, 812, 8.1k, 12k."""
    if v >= 10_000:
        return f"{v / 1000:.0f}k"
    if v >= 1000:
        return f"{v / 1000:.1f}k"
    return f"{v:.3g}"


def si(v):
    """1500 -> "1.5k", 2e6 -> "2M", 0.5 -> "0.5"."""
    for unit, f in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= f:
            return f"{v / f:g}{unit}"
    return f"{v:g}"


class Svg:
    def __init__(self, width, height):
        self.w, self.h = width, height
        self.items = [f'<rect width="{width}" height="{height}" fill="white"/>']

    def add(self, item):
        self.items.append(item)

    def text(self, x, y, s, anchor="start", size=12, bold=False, rotate=None, fill="black"):
        tr = f' transform="rotate({rotate} {x:.1f} {y:.1f})"' if rotate is not None else ""
        weight = ' font-weight="bold"' if bold else ""
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-family="sans-serif" '
                 f'font-size="{size}" fill="{fill}"{weight}{tr}>{escape(s)}</text>')

    def line(self, x1, y1, x2, y2, stroke="black", width=1, dash=None):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" '
                 f'stroke-width="{width}"{d}/>')

    def rect(self, x, y, w, h, fill, title=None, stroke="none"):
        t = f"<title>{escape(title)}</title>" if title else ""
        self.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
                 f'fill="{fill}" stroke="{stroke}">{t}</rect>')

    def save(self, path):
        with open(path, "w") as f:
            f.write(f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.w}" height="{self.h}" '
                    f'viewBox="0 0 {self.w} {self.h}">\n')
            f.write("\n".join(self.items))
            f.write("\n</svg>\n")


class LogAxis:
    """Maps values on a log scale to pixels between `p0` and `p1`; `pad`:
    a decade more below when the smallest value is near a decade's start
    (so that its bar or point stays visible)."""

    def __init__(self, lo, hi, p0, p1, pad=False):
        self.lo = math.floor(math.log10(lo) - (0.3 if pad else 0))
        self.hi = math.ceil(math.log10(hi))
        if self.hi == self.lo:
            self.hi += 1
        self.p0, self.p1 = p0, p1

    def __call__(self, v):
        f = (math.log10(v) - self.lo) / (self.hi - self.lo)
        return self.p0 + f * (self.p1 - self.p0)

    def decades(self):
        return [10.0 ** k for k in range(self.lo, self.hi + 1)]


def header(svg, title, subtitle):
    svg.text(svg.w / 2, 22, title, "middle", 15, True)
    svg.text(svg.w / 2, 40, subtitle, "middle", 11, fill="#555")


def legend(svg, impls, x, y):
    for i, impl in enumerate(impls):
        svg.rect(x, y + i * 18 - 9, 14, 10, color(impl))
        svg.text(x + 20, y + i * 18, impl)


def subtitle(rows):
    r = rows[0]
    cal = f"; calibration {r['calib_ns']} ns cross-core round trip" if "calib_ns" in r else ""
    return f"{r.get('date', '?')}; {r.get('machine', '?')}{cal}"


def plot_sizes(rows, path):
    sweep = [r for r in rows if r.get("sweep") == "size" and r["bytes_per_s"] > 0]
    if not sweep:
        return False
    svg = Svg(820, 520)
    header(svg, "Throughput against message size, 1 producer → 1 consumer (median MB/s)", subtitle(rows))
    left, right, top, bottom = 80, 640, 60, 460
    sizes = sorted({r["size"] for r in sweep})
    xs = LogAxis(min(sizes), max(sizes), left, right)
    ys = LogAxis(min(r["bytes_per_s"] for r in sweep) / 1e6, max(r["bytes_per_s"] for r in sweep) / 1e6,
                 bottom, top, pad=True)
    for d in ys.decades():
        y = ys(d)
        svg.line(left, y, right, y, "#ddd")
        svg.text(left - 6, y + 4, si(d), "end")
    for x in sizes:
        svg.line(xs(x), top, xs(x), bottom, "#eee")
        svg.text(xs(x), bottom + 16, human(x), "middle")
    svg.line(left, bottom, right, bottom)
    svg.line(left, top, left, bottom)
    svg.text(left - 55, (top + bottom) / 2, "MB/s (log)", "middle", rotate=-90)
    svg.text((left + right) / 2, bottom + 36, "message size (log)", "middle")
    impls = list(dict.fromkeys(r["impl"] for r in sweep))
    for impl in impls:
        pts = sorted((r["size"], r["bytes_per_s"] / 1e6) for r in sweep if r["impl"] == impl)
        path_d = " ".join(f"{'M' if i == 0 else 'L'}{xs(x):.1f},{ys(v):.1f}" for i, (x, v) in enumerate(pts))
        dash = ' stroke-dasharray="5,3"' if impl.startswith("iceoryx2") else ""
        svg.add(f'<path d="{path_d}" fill="none" stroke="{color(impl)}" stroke-width="2"{dash}/>')
        for x, v in pts:
            svg.add(f'<circle cx="{xs(x):.1f}" cy="{ys(v):.1f}" r="3.5" fill="{color(impl)}">'
                    f'<title>{escape(impl)} {human(x)}: {v:.0f} MB/s</title></circle>')
    legend(svg, impls, right + 25, top + 10)
    svg.save(path)
    return True


def plot_rtt(rows, path):
    rtt = [r for r in rows if r["metric"] == "rtt_us"]
    if not rtt:
        return False
    groups = list(dict.fromkeys(r["workload"] for r in rtt))
    pcts = [("p50", 1.0), ("p99", 0.65), ("p999", 0.35)]
    svg = Svg(820, 70 + 330 * len(groups))
    header(svg, "Ping-pong round trip, blocking pops (iceoryx2-spin: polling) — p50 / p99 / p99.9, µs",
           subtitle(rows))
    vals = [r["median"][k] for r in rtt for k, _ in pcts if r["median"][k] > 0]
    for gi, g in enumerate(groups):
        picked = [r for r in rtt if r["workload"] == g]
        left, right, top = 80, 780, 70 + gi * 330
        bottom = top + 230
        ys = LogAxis(min(vals), max(vals), bottom, top, pad=True)
        svg.text(left, top - 8, f"{human(picked[0].get('size', 8))} messages", bold=True)
        for d in ys.decades():
            svg.line(left, ys(d), right, ys(d), "#ddd")
            svg.text(left - 6, ys(d) + 4, si(d), "end")
        svg.line(left, bottom, right, bottom)
        svg.line(left, top, left, bottom)
        svg.text(left - 55, (top + bottom) / 2, "µs (log)", "middle", rotate=-90)
        slot = (right - left) / len(picked)
        bw = slot * 0.8 / len(pcts)
        base = ys.decades()[0]
        for i, r in enumerate(picked):
            x0 = left + i * slot + slot * 0.1
            for j, (k, alpha) in enumerate(pcts):
                v = r["median"][k]
                if v <= 0:
                    continue
                y = ys(v)
                svg.add(f'<rect x="{x0 + j * bw:.1f}" y="{y:.1f}" width="{bw - 1:.1f}" '
                        f'height="{ys(base) - y:.1f}" fill="{color(r["impl"])}" fill-opacity="{alpha}">'
                        f'<title>{escape(r["impl"])} {k}: {v:.2f} µs</title></rect>')
                svg.text(x0 + j * bw + bw / 2, y - 3, short(v), "middle", 9)
            svg.text(x0 + slot * 0.4, bottom + 16, r["impl"], "middle", 11)
        svg.text(right, bottom + 34, "bars: p50 (solid), p99, p99.9 (lighter)", "end", 10, fill="#555")
    svg.save(path)
    return True


def heat(v, lo, hi):
    """White (lo) to blue (hi), on a log scale."""
    f = 0.0 if hi <= lo else (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo))
    r, g, b = (int(255 - f * (255 - c)) for c in (31, 119, 180))
    return f"#{r:02x}{g:02x}{b:02x}", f > 0.6


def ratio_color(v):
    """Green above 1× (full at 10×), red below (full at 0.1×), white at 1×."""
    f = min(1.0, abs(math.log10(max(v, 1e-9))))
    rgb = (44, 160, 44) if v >= 1 else (214, 39, 40)
    r, g, b = (int(255 - f * (255 - c)) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}", f > 0.6


def plot_pc(rows, path):
    pcs = [r for r in rows if r.get("sweep") == "pc" and r["median"] > 0]
    if not pcs:
        return False
    impls = list(dict.fromkeys(r["impl"] for r in pcs))
    ps = sorted({r["producers"] for r in pcs})
    cs = sorted({r["consumers"] for r in pcs})
    cell = 56
    panel = cell * len(cs) + 90
    ratio_impls = [i for i in impls if i != "boost-recipe" and "boost-recipe" in impls]
    svg = Svg(max(820, 40 + panel * (len(impls) + len(ratio_impls))), 150 + cell * len(ps))
    header(svg, "Producers × consumers, 8 B messages (M messages/s, median)", subtitle(rows))
    lo, hi = min(r["median"] for r in pcs), max(r["median"] for r in pcs)
    get = {(r["impl"], r["producers"], r["consumers"]): r["median"] for r in pcs}
    panels = [(i, i, None) for i in impls] + [(f"{i} / boost-recipe", i, "boost-recipe") for i in ratio_impls]
    for k, (title, impl, base) in enumerate(panels):
        x0, y0 = 80 + k * panel, 90
        svg.text(x0 + cell * len(cs) / 2, y0 - 12, title, "middle", 12, True)
        for a, p in enumerate(ps):
            svg.text(x0 - 8, y0 + a * cell + cell / 2 + 4, f"{p}p", "end")
            for b, c in enumerate(cs):
                v = get.get((impl, p, c))
                if v is None:
                    continue
                if base:
                    bv = get.get((base, p, c))
                    if not bv:
                        continue
                    v = v / bv
                    fill, dark = ratio_color(v)
                    label = f"{v:.1f}×"
                else:
                    fill, dark = heat(v, lo, hi)
                    label = f"{v / 1e6:.2f}"
                svg.rect(x0 + b * cell, y0 + a * cell, cell - 2, cell - 2, fill, f"{title} {p}p→{c}c: {label}",
                         "#ccc")
                svg.text(x0 + b * cell + cell / 2 - 1, y0 + a * cell + cell / 2 + 4, label, "middle", 11,
                         fill="white" if dark else "black")
        for b, c in enumerate(cs):
            svg.text(x0 + b * cell + cell / 2, y0 + len(ps) * cell + 14, f"{c}c", "middle")
    svg.text(40, svg.h - 12, "rows: producer processes (CPU 0); columns: consumer processes (CPU 1)", size=11,
             fill="#555")
    svg.save(path)
    return True


def draw_all(results, out):
    """Draws every plot of `results` (a results.jsonl) into the directory `out`."""
    with open(results) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    os.makedirs(out, exist_ok=True)
    for name, draw in (("size.svg", plot_sizes), ("rtt.svg", plot_rtt), ("pc.svg", plot_pc)):
        path = os.path.join(out, name)
        print(f"{path}: {'written' if rows and draw(rows, path) else 'no rows for it, not drawn'}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default=os.path.join(here, "results.jsonl"))
    ap.add_argument("--out", default=os.path.join(here, "plots"))
    args = ap.parse_args()
    draw_all(args.results, args.out)


if __name__ == "__main__":
    main()

#include "smx/plot/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace smx::plot {
namespace {

constexpr double kPanelW = 460, kPanelH = 300, kLeft = 62, kRight = 16, kTop = 34, kBottom = 46;
const char* const kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else
      out += c;
  }
  return out;
}

// About five round tick values covering [lo, hi].
std::vector<double> ticks(double lo, double hi) {
  const double span = hi - lo;
  const double raw = span / 5;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * magnitude) {
      step = m * magnitude;
      break;
    }
  std::vector<double> out;
  for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9 * span; t += step)
    out.push_back(std::abs(t) < 1e-9 * step ? 0.0 : t);  // no "-0" labels
  return out;
}

std::string panel_svg(const Panel& p, double ox, double oy) {
  double x0 = std::numeric_limits<double>::max(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& s : p.series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]);
      y1 = std::max(y1, s.y[i]);
    }
  std::string svg = fmt::format(
      "<g transform=\"translate({},{})\">\n<text x=\"{}\" y=\"20\" font-size=\"14\" "
      "text-anchor=\"middle\" font-weight=\"bold\">{}</text>\n",
      ox, oy, kPanelW / 2, escape(p.title));
  const double w = kPanelW - kLeft - kRight, h = kPanelH - kTop - kBottom;
  svg += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888\"/>\n", kLeft,
      kTop, w, h);
  if (x0 > x1) return svg + "<text x=\"200\" y=\"150\">no data</text></g>\n";
  if (x1 - x0 < 1e-12) x1 = x0 + 1;
  if (y1 - y0 < 1e-12) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const double pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  auto sx = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * w; };
  auto sy = [&](double y) { return kTop + h - (y - y0) / (y1 - y0) * h; };
  for (double t : ticks(x0, x1))
    svg += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#eee\"/><text x=\"{0}\" "
        "y=\"{3}\" font-size=\"11\" text-anchor=\"middle\">{4:g}</text>\n",
        sx(t), kTop, kTop + h, kTop + h + 15, t);
  for (double t : ticks(y0, y1))
    svg += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#eee\"/><text x=\"{3}\" "
        "y=\"{4}\" font-size=\"11\" text-anchor=\"end\">{5:.3g}</text>\n",
        kLeft, sy(t), kLeft + w, kLeft - 5, sy(t) + 4, t);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">{}</text>\n",
                     kLeft + w / 2, kPanelH - 8, escape(p.x_label));
  svg += fmt::format(
      "<text transform=\"translate(14,{}) rotate(-90)\" font-size=\"12\" "
      "text-anchor=\"middle\">{}</text>\n",
      kTop + h / 2, escape(p.y_label));
  for (size_t k = 0; k < p.series.size(); ++k) {
    const auto& s = p.series[k];
    const char* colour = kColours[k % (sizeof(kColours) / sizeof(kColours[0]))];
    std::string points;
    for (size_t i = 0; i < s.x.size(); ++i)
      points += fmt::format("{:.1f},{:.1f} ", sx(s.x[i]), sy(s.y[i]));
    svg +=
        fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.6\" points=\"{}\"/>\n",
                    colour, points);
    if (s.x.size() == 1)
      svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n", sx(s.x[0]),
                         sy(s.y[0]), colour);
    svg += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"3\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" "
        "font-size=\"11\">{}</text>\n",
        kLeft + 8, kTop + 10 + 15 * k, colour, kLeft + 24, kTop + 15 + 15 * k, escape(s.name));
  }
  return svg + "</g>\n";
}

}  // namespace

std::string render_svg(const std::vector<Panel>& panels, int columns) {
  const int cols = std::max(1, std::min(columns, static_cast<int>(panels.size())));
  const int rows = (static_cast<int>(panels.size()) + cols - 1) / cols;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "font-family=\"sans-serif\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      cols * kPanelW, rows * kPanelH);
  for (size_t i = 0; i < panels.size(); ++i)
    svg += panel_svg(panels[i], static_cast<double>(i % cols) * kPanelW,
                     static_cast<double>(i / cols) * kPanelH);
  return svg + "</svg>\n";
}

}  // namespace smx::plot

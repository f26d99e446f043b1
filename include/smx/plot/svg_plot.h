// A small self-contained SVG line-chart renderer for training curves (no plotting library needed).
#pragma once

#include <string>
#include <vector>

namespace smx::plot {

struct Series {
  std::string name;
  std::vector<double> x, y;
};

struct Panel {
  std::string title, x_label, y_label;
  std::vector<Series> series;  // colour by position: series i of every panel share a colour
};

// Lays the panels out in a grid of `columns` and returns a standalone SVG document.
std::string render_svg(const std::vector<Panel>& panels, int columns = 2);

}  // namespace smx::plot

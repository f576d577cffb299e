#pragma once
// Reads the charts of a kakuren HTML report back (header-only test helper): each <svg> chart's
// attributes, its polylines and rects, and the mapping from data to pixels.
#include <cmath>
#include <cstdlib>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace kakuren::report::testing {

using Attributes = std::map<std::string, std::string>;

inline Attributes attributes(const std::string& tag) {
    Attributes out;
    static const std::regex attr(R"(([a-zA-Z][a-zA-Z0-9_-]*)="([^"]*)\")");
    for (auto it = std::sregex_iterator(tag.begin(), tag.end(), attr); it != std::sregex_iterator();
         ++it) {
        out[(*it)[1].str()] = (*it)[2].str();
    }
    return out;
}

struct Chart {
    Attributes svg;
    std::vector<Attributes> polylines, rects;
};

/// Charts by their data-chart name (the first of each name).
inline std::map<std::string, Chart> charts(const std::string& html) {
    std::map<std::string, Chart> out;
    std::size_t pos = 0;
    while ((pos = html.find("<svg ", pos)) != std::string::npos) {
        const std::size_t end = html.find("</svg>", pos);
        const std::string body = html.substr(pos, end - pos);
        Chart c;
        c.svg = attributes(body.substr(0, body.find('>')));
        static const std::regex poly(R"(<polyline [^>]*>)"), rect(R"(<rect [^>]*>)");
        for (auto it = std::sregex_iterator(body.begin(), body.end(), poly);
             it != std::sregex_iterator(); ++it) {
            c.polylines.push_back(attributes(it->str()));
        }
        for (auto it = std::sregex_iterator(body.begin(), body.end(), rect);
             it != std::sregex_iterator(); ++it) {
            c.rects.push_back(attributes(it->str()));
        }
        out.emplace(c.svg["data-chart"], std::move(c));
        pos = end;
    }
    return out;
}

/// "x,y;x,y" (data-values) or "x,y x,y" (points).
inline std::vector<std::pair<double, double>> pairs(const std::string& text, char separator) {
    std::vector<std::pair<double, double>> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, separator)) {
        if (item.empty()) {
            continue;
        }
        const std::size_t comma = item.find(',');
        out.emplace_back(std::strtod(item.substr(0, comma).c_str(), nullptr),
                         std::strtod(item.substr(comma + 1).c_str(), nullptr));
    }
    return out;
}

/// Maps data to pixels as the chart says it does (data-x-min ... data-plot).
inline std::pair<double, double> to_pixels(const Attributes& svg, double x, double y) {
    const auto num = [&](const char* key) { return std::strtod(svg.at(key).c_str(), nullptr); };
    double left = 0, top = 0, width = 0, height = 0;
    std::stringstream(svg.at("data-plot")) >> left >> top >> width >> height;
    const double x0 = num("data-x-min"), x1 = num("data-x-max");
    const double y0 = num("data-y-min"), y1 = num("data-y-max");
    const bool log = svg.at("data-y-log") == "1";
    const double ty = log ? (std::log10(y) - std::log10(y0)) / (std::log10(y1) - std::log10(y0))
                          : (y - y0) / (y1 - y0);
    return {left + (x - x0) / (x1 - x0) * width, top + (1 - ty) * height};
}

} // namespace kakuren::report::testing

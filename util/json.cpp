#include "util/json.hpp"

#include <charconv>
#include <cmath>
#include <system_error>

namespace kakuren::util {

namespace {

void append_quoted(std::string& out, std::string_view s) {
    static constexpr char k_hex[] = "0123456789abcdef";
    out.push_back('"');
    for (const char c : s) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default: {
            const auto u = static_cast<unsigned char>(c);
            if (u < 0x20 || u == 0x7f) {
                out += "\\u00";
                out.push_back(k_hex[u >> 4]);
                out.push_back(k_hex[u & 0xf]);
            } else {
                // UTF-8 bytes pass through unchanged: JSON text is UTF-8.
                out.push_back(c);
            }
        }
        }
    }
    out.push_back('"');
}

void append_double(std::string& out, double d) {
    if (!std::isfinite(d)) {
        out += "null"; // JSON has no NaN/Inf; MLPerf tooling rejects them as numbers.
        return;
    }
    char buf[64];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
    if (ec != std::errc()) {
        out += "null";
        return;
    }
    const std::string_view text(buf, static_cast<std::size_t>(end - buf));
    out += text;
    // Keep a double recognisable as one (Python writes 1.0, not 1), as readers of our
    // logs compare against Python's json output.
    if (text.find_first_of(".e") == std::string_view::npos)
        out += ".0";
}

void newline(std::string& out, int indent, int depth) {
    out.push_back('\n');
    out.append(static_cast<std::size_t>(indent) * static_cast<std::size_t>(depth), ' ');
}

} // namespace

std::string json_quote(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    append_quoted(out, s);
    return out;
}

Json Json::measured(double d) {
    if (std::isnan(d)) {
        return Json("nan");
    }
    if (std::isinf(d)) {
        return Json(d > 0 ? "inf" : "-inf");
    }
    return Json(d);
}

std::string Json::dump() const {
    std::string out;
    write(out, -1, 0);
    return out;
}

std::string Json::dump_pretty() const {
    std::string out;
    write(out, 2, 0);
    return out;
}

std::string Json::dump_spaced() const {
    std::string out;
    write(out, 0, 0);
    return out;
}

// indent < 0: compact; indent == 0: one line with ", " and ": "; indent > 0: pretty.
void Json::write(std::string& out, int indent, int depth) const {
    const char* item_sep = indent < 0 ? "," : (indent == 0 ? ", " : ",");
    const char* key_sep = indent < 0 ? ":" : ": ";
    if (std::holds_alternative<std::monostate>(m_v)) {
        out += "null";
    } else if (const auto* b = std::get_if<bool>(&m_v)) {
        out += *b ? "true" : "false";
    } else if (const auto* i = std::get_if<std::int64_t>(&m_v)) {
        out += std::to_string(*i);
    } else if (const auto* d = std::get_if<double>(&m_v)) {
        append_double(out, *d);
    } else if (const auto* s = std::get_if<std::string>(&m_v)) {
        append_quoted(out, *s);
    } else if (const auto* a = std::get_if<JsonArray>(&m_v)) {
        if (a->empty()) {
            out += "[]";
            return;
        }
        out.push_back('[');
        for (std::size_t k = 0; k < a->size(); ++k) {
            if (k > 0)
                out += item_sep;
            if (indent > 0)
                newline(out, indent, depth + 1);
            (*a)[k].write(out, indent, depth + 1);
        }
        if (indent > 0)
            newline(out, indent, depth);
        out.push_back(']');
    } else if (const auto* o = std::get_if<JsonObject>(&m_v)) {
        if (o->empty()) {
            out += "{}";
            return;
        }
        out.push_back('{');
        for (std::size_t k = 0; k < o->size(); ++k) {
            if (k > 0)
                out += item_sep;
            if (indent > 0)
                newline(out, indent, depth + 1);
            append_quoted(out, (*o)[k].first);
            out += key_sep;
            (*o)[k].second.write(out, indent, depth + 1);
        }
        if (indent > 0)
            newline(out, indent, depth);
        out.push_back('}');
    }
}

} // namespace kakuren::util

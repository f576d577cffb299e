#include "report/json_reader.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace kakuren::report {

namespace {

const JsonValue k_null;
const std::string k_empty_string;
const JsonValue::Array k_empty_array;
const JsonValue::Object k_empty_object;

class Parser {
  public:
    explicit Parser(std::string_view text) : m_text(text) {}

    JsonValue document() {
        JsonValue v = value(0);
        skip_space();
        if (m_pos != m_text.size()) {
            fail("unexpected text after the value");
        }
        return v;
    }

  private:
    static constexpr int k_max_depth = 256; // guards the stack against hostile nesting

    [[noreturn]] void fail(const std::string& what) const {
        throw JsonParseError("invalid JSON at byte " + std::to_string(m_pos) + ": " + what);
    }

    void skip_space() {
        while (m_pos < m_text.size()) {
            const char c = m_text[m_pos];
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                break;
            }
            ++m_pos;
        }
    }

    bool consume(std::string_view word) {
        if (m_text.substr(m_pos, word.size()) == word) {
            m_pos += word.size();
            return true;
        }
        return false;
    }

    JsonValue value(int depth) {
        if (depth > k_max_depth) {
            fail("nested too deeply");
        }
        skip_space();
        if (m_pos >= m_text.size()) {
            fail("expected a value, found the end");
        }
        switch (m_text[m_pos]) {
        case '{':
            return object(depth);
        case '[':
            return array(depth);
        case '"':
            return JsonValue(string());
        case 't':
            if (consume("true")) {
                return JsonValue(true);
            }
            break;
        case 'f':
            if (consume("false")) {
                return JsonValue(false);
            }
            break;
        case 'n':
            if (consume("null")) {
                return {};
            }
            break;
        default:
            return number();
        }
        fail("expected a value");
    }

    JsonValue object(int depth) {
        ++m_pos; // '{'
        JsonValue::Object members;
        members.reserve(8); // an :::MLLOG record has 6 members, its metadata 3 or 4
        skip_space();
        if (m_pos < m_text.size() && m_text[m_pos] == '}') {
            ++m_pos;
            return JsonValue(std::move(members));
        }
        while (true) {
            skip_space();
            if (m_pos >= m_text.size() || m_text[m_pos] != '"') {
                fail("expected a member name in quotes");
            }
            std::string key = string();
            skip_space();
            if (m_pos >= m_text.size() || m_text[m_pos] != ':') {
                fail("expected ':' after a member name");
            }
            ++m_pos;
            members.emplace_back(std::move(key), value(depth + 1));
            skip_space();
            if (m_pos < m_text.size() && m_text[m_pos] == ',') {
                ++m_pos;
                continue;
            }
            if (m_pos < m_text.size() && m_text[m_pos] == '}') {
                ++m_pos;
                return JsonValue(std::move(members));
            }
            fail("expected ',' or '}' in an object");
        }
    }

    JsonValue array(int depth) {
        ++m_pos; // '['
        JsonValue::Array elements;
        skip_space();
        if (m_pos < m_text.size() && m_text[m_pos] == ']') {
            ++m_pos;
            return JsonValue(std::move(elements));
        }
        while (true) {
            elements.push_back(value(depth + 1));
            skip_space();
            if (m_pos < m_text.size() && m_text[m_pos] == ',') {
                ++m_pos;
                continue;
            }
            if (m_pos < m_text.size() && m_text[m_pos] == ']') {
                ++m_pos;
                return JsonValue(std::move(elements));
            }
            fail("expected ',' or ']' in an array");
        }
    }

    unsigned hex4() {
        if (m_pos + 4 > m_text.size()) {
            fail("a \\u escape needs four hex digits");
        }
        unsigned code = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = m_text[m_pos++];
            code <<= 4U;
            if (c >= '0' && c <= '9') {
                code |= static_cast<unsigned>(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                code |= static_cast<unsigned>(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                code |= static_cast<unsigned>(c - 'A' + 10);
            } else {
                fail("a \\u escape needs four hex digits");
            }
        }
        return code;
    }

    static void append_utf8(std::string& out, unsigned code) {
        if (code < 0x80) {
            out.push_back(static_cast<char>(code));
        } else if (code < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (code >> 6)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
        } else if (code < 0x10000) {
            out.push_back(static_cast<char>(0xE0 | (code >> 12)));
            out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
        } else {
            out.push_back(static_cast<char>(0xF0 | (code >> 18)));
            out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
        }
    }

    std::string string() {
        ++m_pos; // '"'
        std::string out;
        while (true) {
            // Copy the plain run up to the next quote or escape in one go (the common case).
            const std::size_t start = m_pos;
            while (m_pos < m_text.size() && m_text[m_pos] != '"' && m_text[m_pos] != '\\') {
                if (static_cast<unsigned char>(m_text[m_pos]) < 0x20) {
                    fail("control character in a string");
                }
                ++m_pos;
            }
            out.append(m_text.substr(start, m_pos - start));
            if (m_pos >= m_text.size()) {
                fail("unterminated string");
            }
            if (m_text[m_pos] == '"') {
                ++m_pos;
                return out;
            }
            ++m_pos; // '\\'
            if (m_pos >= m_text.size()) {
                fail("unterminated escape");
            }
            const char e = m_text[m_pos++];
            switch (e) {
            case '"':
            case '\\':
            case '/':
                out.push_back(e);
                break;
            case 'b':
                out.push_back('\b');
                break;
            case 'f':
                out.push_back('\f');
                break;
            case 'n':
                out.push_back('\n');
                break;
            case 'r':
                out.push_back('\r');
                break;
            case 't':
                out.push_back('\t');
                break;
            case 'u': {
                unsigned code = hex4();
                if (code >= 0xD800 && code < 0xDC00 && consume("\\u")) {
                    const unsigned low = hex4();
                    code = 0x10000 + ((code - 0xD800) << 10U) + (low - 0xDC00);
                }
                append_utf8(out, code);
                break;
            }
            default:
                fail(std::string("unknown escape \\") + e);
            }
        }
    }

    JsonValue number() {
        const std::size_t start = m_pos;
        if (m_pos < m_text.size() && m_text[m_pos] == '-') {
            ++m_pos;
        }
        bool integral = true;
        bool digits = false;
        while (m_pos < m_text.size()) {
            const char c = m_text[m_pos];
            if (c >= '0' && c <= '9') {
                digits = true;
            } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
                integral = false;
            } else {
                break;
            }
            ++m_pos;
        }
        if (!digits) {
            m_pos = start;
            fail("expected a value");
        }
        const std::string_view text = m_text.substr(start, m_pos - start);
        double d = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
        if (ec != std::errc() || end != text.data() + text.size()) {
            m_pos = start;
            fail("malformed number '" + std::string(text) + "'");
        }
        std::int64_t i = 0;
        if (integral) {
            const auto [iend, iec] = std::from_chars(text.data(), text.data() + text.size(), i);
            if (iec != std::errc() || iend != text.data() + text.size()) {
                integral = false; // out of int64 range: keep the double
            }
        }
        return {d, integral, integral ? i : static_cast<std::int64_t>(0)};
    }

    std::string_view m_text;
    std::size_t m_pos = 0;
};

} // namespace

bool JsonValue::as_bool(bool fallback) const {
    return is_bool() ? std::get<bool>(m_v) : fallback;
}

double JsonValue::as_double(double fallback) const {
    return is_number() ? std::get<Number>(m_v).d : fallback;
}

std::int64_t JsonValue::as_int(std::int64_t fallback) const {
    if (!is_number()) {
        return fallback;
    }
    const Number& n = std::get<Number>(m_v);
    return n.integral ? n.i : static_cast<std::int64_t>(std::llround(n.d));
}

const std::string& JsonValue::as_string() const {
    return is_string() ? std::get<std::string>(m_v) : k_empty_string;
}

const JsonValue::Array& JsonValue::as_array() const {
    return is_array() ? std::get<Array>(m_v) : k_empty_array;
}

const JsonValue::Object& JsonValue::as_object() const {
    return is_object() ? std::get<Object>(m_v) : k_empty_object;
}

const JsonValue* JsonValue::find(std::string_view key) const {
    for (const auto& [name, value] : as_object()) {
        if (name == key) {
            return &value;
        }
    }
    return nullptr;
}

const JsonValue& JsonValue::operator[](std::string_view key) const {
    const JsonValue* v = find(key);
    return v != nullptr ? *v : k_null;
}

const JsonValue& JsonValue::operator[](std::size_t index) const {
    const Array& a = as_array();
    return index < a.size() ? a[index] : k_null;
}

std::size_t JsonValue::size() const {
    if (is_array()) {
        return std::get<Array>(m_v).size();
    }
    if (is_object()) {
        return std::get<Object>(m_v).size();
    }
    return 0;
}

JsonValue parse_json(std::string_view text) {
    return Parser(text).document();
}

} // namespace kakuren::report

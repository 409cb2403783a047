#include "agent/sync/destinations/cdm_model_check.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <optional>

namespace linkwatch::sync {
namespace {

using nlohmann::json;

constexpr size_t kMaxNameLength = 256;
constexpr size_t kMaxDescriptionLength = 4000;
constexpr std::string_view kDataTypes[] = {"unclassified", "string",  "int64",    "double",
                                           "date",         "time",    "dateTime", "dateTimeOffset",
                                           "decimal",      "boolean", "guid",     "json"};

// Characters as JSON Schema counts them (code points), for UTF-8 text.
size_t CodePoints(std::string_view s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string Show(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return s.size() > 400 ? s.substr(0, 397) + "..." : s;
}

class Checker {
 public:
  std::vector<std::string> problems;

  void Fail(const std::string& where, const std::string& what) {
    problems.push_back("model.json: " + (where.empty() ? std::string() : where + ": ") + what);
  }

  // A name: string of 1..256 characters, no white space at either end; for
  // entities also no '.' or '"' inside (the schema's name patterns).
  void Name(const json& o, const char* key, const std::string& where, bool entity = false,
            bool required = true) {
    if (!o.contains(key)) {
      if (required) Fail(where, std::string("no \"") + key + "\" (required)");
      return;
    }
    const json& v = o[key];
    if (!v.is_string()) {
      Fail(where, std::string("\"") + key + "\" is " + Show(v) + ", not a string");
      return;
    }
    const std::string s = v.get<std::string>();
    const size_t n = CodePoints(s);
    if (n < 1 || n > kMaxNameLength) {
      Fail(where,
           std::string("\"") + key + "\" must have 1 to 256 characters, has " + std::to_string(n));
      return;
    }
    if (IsSpace(s.front()) || IsSpace(s.back())) {
      Fail(where, std::string("\"") + key + "\" " + Show(v) + " starts or ends with white space");
    }
    if (entity && s.size() > 2 &&
        s.substr(1, s.size() - 2).find_first_of(".\"") != std::string::npos) {
      Fail(where, std::string("\"") + key + "\" " + Show(v) +
                      " holds '.' or '\"' (not allowed in an entity name)");
    }
  }

  void OptionalString(const json& o, const char* key, const std::string& where,
                      size_t max_length = 0) {
    if (!o.contains(key)) return;
    const json& v = o[key];
    if (!v.is_string()) {
      Fail(where, std::string("\"") + key + "\" is " + Show(v) + ", not a string");
    } else if (max_length > 0 && CodePoints(v.get<std::string>()) > max_length) {
      Fail(where, std::string("\"") + key + "\" is longer than " + std::to_string(max_length) +
                      " characters");
    }
  }

  void OptionalBool(const json& o, const char* key, const std::string& where) {
    if (o.contains(key) && !o[key].is_boolean()) {
      Fail(where, std::string("\"") + key + "\" is " + Show(o[key]) + ", not a boolean");
    }
  }

  void Uri(const json& o, const char* key, const std::string& where, bool required) {
    if (!o.contains(key)) {
      if (required) Fail(where, std::string("no \"") + key + "\" (required)");
      return;
    }
    const json& v = o[key];
    if (!v.is_string()) {
      Fail(where, std::string("\"") + key + "\" is " + Show(v) + ", not a string");
    } else if (!IsAbsoluteUri(v.get<std::string>())) {
      Fail(where, std::string("\"") + key + "\" " + Show(v) +
                      " is not an absolute URI (readers such as Spark's CDM connector resolve "
                      "nothing else)");
    }
  }

  // `o[key]`, when present, must be an array; calls each(item, where) for
  // its items.
  template <typename F>
  void Array(const json& o, const char* key, const std::string& where, bool required, F each) {
    if (!o.contains(key)) {
      if (required) Fail(where, std::string("no \"") + key + "\" array (required)");
      return;
    }
    const json& v = o[key];
    if (!v.is_array()) {
      Fail(where, std::string("\"") + key + "\" is not an array");
      return;
    }
    for (size_t i = 0; i < v.size(); ++i) {
      std::string item =
          (where.empty() ? std::string() : where + ": ") + key + "[" + std::to_string(i) + "]";
      const json& x = v[i];
      if (x.is_object() && x.contains("name") && x["name"].is_string()) {
        item += " (" + x["name"].get<std::string>() + ")";
      }
      if (!x.is_object()) {
        Fail(item, "not an object");
        continue;
      }
      each(x, item);
    }
  }

  void Annotations(const json& o, const std::string& where) {
    Array(o, "annotations", where, false, [&](const json& a, const std::string& w) {
      Name(a, "name", w);
      if (a.contains("value") && !a["value"].is_string()) {
        Fail(w, "\"value\" is " + Show(a["value"]) + ", not a string");
      }
    });
  }

  // cdm:traits (lake-format.md): [{"traitReference": NAME, "arguments":
  // [{"name": ..., "value": ...}]}].
  void Traits(const json& a, const std::string& where, const std::string& data_type) {
    bool shaped = false;
    Array(a, "cdm:traits", where, false, [&](const json& t, const std::string& w) {
      if (!t.contains("traitReference") || !t["traitReference"].is_string() ||
          t["traitReference"].get<std::string>().empty()) {
        Fail(w, "no \"traitReference\" name");
        return;
      }
      const std::string ref = t["traitReference"].get<std::string>();
      std::vector<std::pair<std::string, json>> args;
      Array(t, "arguments", w, false, [&](const json& arg, const std::string& aw) {
        if (!arg.contains("name") || !arg["name"].is_string()) {
          Fail(aw, "an argument without a \"name\"");
        } else if (!arg.contains("value")) {
          Fail(aw, "an argument without a \"value\"");
        } else {
          args.emplace_back(arg["name"].get<std::string>(), arg["value"]);
        }
      });
      if (ref == "is.dataFormat.numeric.shaped") {
        shaped = true;
        if (data_type != "decimal") Fail(w, "is.dataFormat.numeric.shaped on a " + data_type);
        auto integer = [&](const char* name) -> std::optional<long long> {
          for (const auto& [n, v] : args) {
            if (n != name) continue;
            if (v.is_number_integer()) return v.get<long long>();
            if (v.is_string()) {
              const std::string s = v.get<std::string>();
              if (!s.empty() && s.size() < 4 &&
                  std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
                return std::stoll(s);
              }
            }
            Fail(w, std::string("\"") + name + "\" is " + Show(v) + ", not an integer");
            return std::nullopt;
          }
          Fail(w, std::string("no \"") + name + "\" argument");
          return std::nullopt;
        };
        const auto p = integer("precision");
        const auto s = integer("scale");
        if (p && (*p < 1 || *p > 38)) Fail(w, "precision " + std::to_string(*p) + " not in 1..38");
        if (p && s && (*s < 0 || *s > *p)) {
          Fail(w, "scale " + std::to_string(*s) + " not in 0..precision");
        }
      }
    });
    if (data_type == "decimal" && !shaped) {
      Fail(where,
           "a decimal without the is.dataFormat.numeric.shaped trait (precision and scale; "
           "readers such as dataverse-to-sql refuse the model)");
    }
  }

  void Attribute(const json& a, const std::string& where) {
    Name(a, "name", where);
    OptionalString(a, "description", where, kMaxDescriptionLength);
    std::string type;
    if (!a.contains("dataType")) {
      Fail(where, "no \"dataType\" (required)");
    } else if (!a["dataType"].is_string() || !IsCdmDataType(a["dataType"].get<std::string>())) {
      Fail(where, "dataType " + Show(a["dataType"]) +
                      " is not a CDM model.json dataType (unclassified, string, int64, double, "
                      "date, time, dateTime, dateTimeOffset, decimal, boolean, guid, json)");
    } else {
      type = a["dataType"].get<std::string>();
    }
    Annotations(a, where);
    Traits(a, where, type);
  }

  void Partition(const json& p, const std::string& where) {
    Name(p, "name", where);
    OptionalString(p, "description", where, kMaxDescriptionLength);
    OptionalString(p, "refreshTime", where);
    Uri(p, "location", where, false);
    OptionalBool(p, "isHidden", where);
    if (p.contains("fileFormatSettings")) {
      const json& f = p["fileFormatSettings"];
      const std::string w = where + ": fileFormatSettings";
      if (!f.is_object()) {
        Fail(w, "not an object");
        return;
      }
      if (f.value("$type", json()) != "CsvFormatSettings") {
        Fail(w, "\"$type\" must be \"CsvFormatSettings\"");
      }
      OptionalBool(f, "columnHeaders", w);
      OptionalString(f, "delimiter", w);
      auto one_of = [&](const char* key, std::initializer_list<const char*> allowed) {
        if (!f.contains(key)) return;
        for (const char* x : allowed) {
          if (f[key] == x) return;
        }
        Fail(w, std::string("\"") + key + "\" " + Show(f[key]) + " is not allowed");
      };
      one_of("quoteStyle", {"QuoteStyle.Csv", "QuoteStyle.None"});
      one_of("csvStyle", {"CsvStyle.QuoteAlways", "CsvStyle.QuoteAfterDelimiter"});
    }
  }

  void Entity(const json& e, const std::string& where) {
    std::string type;
    if (!e.contains("$type")) {
      Fail(where, "no \"$type\" (required)");
    } else if (e["$type"] != "LocalEntity" && e["$type"] != "ReferenceEntity") {
      Fail(where, "\"$type\" " + Show(e["$type"]) + " is neither LocalEntity nor ReferenceEntity");
    } else {
      type = e["$type"].get<std::string>();
    }
    Name(e, "name", where, /*entity=*/true);
    OptionalString(e, "description", where, kMaxDescriptionLength);
    OptionalBool(e, "isHidden", where);
    Annotations(e, where);
    if (type == "ReferenceEntity") {
      for (const char* key : {"source", "modelId"}) {
        if (!e.contains(key) || !e[key].is_string()) {
          Fail(where, std::string("a ReferenceEntity needs \"") + key + "\" (a string)");
        }
      }
      return;
    }
    Array(e, "attributes", where, /*required=*/true,
          [&](const json& a, const std::string& w) { Attribute(a, w); });
    Array(e, "partitions", where, false,
          [&](const json& p, const std::string& w) { Partition(p, w); });
  }

  void Model(const json& m) {
    if (!m.is_object()) {
      Fail("", "not a JSON object");
      return;
    }
    Name(m, "name", "");
    OptionalString(m, "description", "", kMaxDescriptionLength);
    if (!m.contains("version")) {
      Fail("", "no \"version\" (required)");
    } else if (m["version"] != "1.0") {
      Fail("", "\"version\" is " + Show(m["version"]) + ", not \"1.0\"");
    }
    for (const char* key : {"application", "culture", "modifiedTime"}) OptionalString(m, key, "");
    OptionalBool(m, "isHidden", "");
    Annotations(m, "");
    Array(m, "entities", "", /*required=*/true,
          [&](const json& e, const std::string& w) { Entity(e, w); });
    Array(m, "referenceModels", "", false, [&](const json& r, const std::string& w) {
      if (!r.contains("id") || !r["id"].is_string()) Fail(w, "no \"id\" (required, a string)");
      Uri(r, "location", w, true);
    });
    Array(m, "relationships", "", false, [&](const json& r, const std::string& w) {
      if (r.value("$type", json()) != "SingleKeyRelationship") {
        Fail(w, "\"$type\" must be \"SingleKeyRelationship\"");
      }
      for (const char* end : {"fromAttribute", "toAttribute"}) {
        const std::string ew = w + ": " + end;
        if (!r.contains(end) || !r[end].is_object()) {
          Fail(w, std::string("no \"") + end + "\" object (required)");
          continue;
        }
        Name(r[end], "entityName", ew);
        Name(r[end], "attributeName", ew);
      }
    });
  }
};

}  // namespace

bool IsCdmDataType(std::string_view type) {
  return std::find(std::begin(kDataTypes), std::end(kDataTypes), type) != std::end(kDataTypes);
}

bool IsAbsoluteUri(std::string_view s) {
  // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"
  const size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  if (!std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (size_t i = 1; i < colon; ++i) {
    const char c = s[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  if (colon + 1 == s.size()) return false;
  // The rest: unreserved, reserved (gen-delims and sub-delims) and %HH.
  constexpr std::string_view kAllowed = "-._~:/?#[]@!$&'()*+,;=";
  for (size_t i = colon + 1; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
        return false;
      }
      i += 2;
      continue;
    }
    if (static_cast<unsigned char>(c) >= 0x80) return false;
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        kAllowed.find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

std::vector<std::string> CheckCdmModel(const nlohmann::json& model) {
  Checker c;
  c.Model(model);
  return std::move(c.problems);
}

}  // namespace linkwatch::sync

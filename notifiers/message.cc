#include "notifiers/message.h"

#include <yaml-cpp/yaml.h>

#include <kainjow/mustache.hpp>
#include <nlohmann/json.hpp>
#include <set>

#include "agent/core/problem.h"
#include "agent/core/yaml_util.h"
#include "notifiers/notification.h"
#include "notifiers/registry.h"

namespace linkwatch::notifiers {

namespace mustache = kainjow::mustache;

// kainjow keeps the line of a section that renders nothing, so sections
// that may be empty open and close inside a line of text.
const std::string_view kDefaultText =
    "{{#alerts}}\n"
    "{{line}}\n"
    "{{#labelPairs}}\n"
    "  {{name}}: {{value}}\n"
    "{{/labelPairs}}\n"
    "{{#annotationPairs}}\n"
    "  {{name}}: {{value}}\n"
    "{{/annotationPairs}}\n"
    "  started: {{startsAt}}\n"
    "{{#ended}}  ended: {{endsAt}}\n{{/ended}}"
    "  {{generatorURL}}\n"
    "{{/alerts}}\n"
    "{{#truncatedAlerts}}and {{truncatedAlerts}} more alerts\n{{/truncatedAlerts}}";

const std::string_view kDefaultLine = "{{#alerts}}\n{{line}}\n{{/alerts}}\n";

const std::string_view kDefaultHtml =
    "<!DOCTYPE html>\n"
    "<html><body style=\"font-family: sans-serif\">\n"
    "<h2>{{title}}</h2>\n"
    "{{#alerts}}\n"
    "<h3 style=\"color: {{color}}\">{{line}}</h3>\n"
    "<table cellpadding=\"3\">\n"
    "{{#labelPairs}}\n"
    "<tr><td><b>{{name}}</b></td><td>{{value}}</td></tr>\n"
    "{{/labelPairs}}\n"
    "{{#annotationPairs}}\n"
    "<tr><td><i>{{name}}</i></td><td>{{value}}</td></tr>\n"
    "{{/annotationPairs}}\n"
    "<tr><td>started</td><td>{{startsAt}}</td></tr>\n"
    "{{#ended}}<tr><td>ended</td><td>{{endsAt}}</td></tr>\n{{/ended}}"
    "</table>\n"
    "<p><a href=\"{{generatorURL}}\">Open in linkwatch</a></p>\n"
    "{{/alerts}}\n"
    "{{#truncatedAlerts}}<p>and {{truncatedAlerts}} more alerts</p>\n{{/truncatedAlerts}}"
    "</body></html>\n";

namespace {

mustache::data FromJson(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      mustache::data d{mustache::data::type::object};
      for (const auto& [k, v] : j.items()) d.set(k, FromJson(v));
      return d;
    }
    case nlohmann::json::value_t::array: {
      mustache::data d{mustache::data::type::list};
      for (const auto& v : j) d.push_back(FromJson(v));
      return d;
    }
    case nlohmann::json::value_t::string:
      return mustache::data{j.get<std::string>()};
    case nlohmann::json::value_t::boolean:
      return mustache::data{j.get<bool>() ? mustache::data::type::bool_true
                                          : mustache::data::type::bool_false};
    case nlohmann::json::value_t::null:
      return mustache::data{mustache::data::type::bool_false};
    default:
      return mustache::data{j.dump()};
  }
}

nlohmann::json Pairs(const nlohmann::json& object) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [k, v] : object.items()) out.push_back({{"name", k}, {"value", v}});
  return out;
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// The values templates see (the header lists them).
mustache::data TemplateData(const Notification& n) {
  nlohmann::json body = WebhookBody(n);
  nlohmann::json firing = nlohmann::json::array();
  nlohmann::json resolved = nlohmann::json::array();
  for (auto& a : body["alerts"]) {
    const nlohmann::json& labels = a["labels"];
    const nlohmann::json& annotations = a["annotations"];
    std::string target;
    for (const char* key : {"profile", "entity"}) {
      if (labels.contains(key) && labels[key].is_string()) {
        if (!target.empty()) target += '/';
        target += labels[key].get<std::string>();
      }
    }
    std::string summary;
    for (const char* key : {"summary", "description", "message"}) {
      if (annotations.contains(key) && annotations[key].is_string()) {
        summary = annotations[key].get<std::string>();
        break;
      }
    }
    const bool is_firing = a["status"] == "firing";
    const std::string alertname = labels.value("alertname", std::string("alert"));
    std::string line = Upper(a["status"].get<std::string>()) + " " + alertname;
    if (!target.empty()) line += " " + target;
    if (!summary.empty()) line += ": " + summary;
    a["statusUpper"] = Upper(a["status"].get<std::string>());
    a["alertname"] = alertname;
    a["target"] = target;
    a["summary"] = summary;
    a["line"] = line;
    a["color"] = is_firing ? "#8C1A1A" : "#2DC72D";
    a["ended"] = !is_firing;
    a["labelPairs"] = Pairs(labels);
    a["annotationPairs"] = Pairs(annotations);
    (is_firing ? firing : resolved).push_back(a);
  }
  body["title"] = n.Title();
  body["statusUpper"] = Upper(n.StatusText());
  body["firingCount"] = n.FiringCount();
  body["resolvedCount"] = n.ResolvedCount();
  body["alertCount"] = n.alerts.size();
  body["firing"] = std::move(firing);
  body["resolved"] = std::move(resolved);
  body["groupLabelPairs"] = Pairs(body["groupLabels"]);
  body["commonLabelPairs"] = Pairs(body["commonLabels"]);
  body["commonAnnotationPairs"] = Pairs(body["commonAnnotations"]);
  // A section {{#truncatedAlerts}} shows only when some were left out.
  if (body["truncatedAlerts"] == 0) body["truncatedAlerts"] = false;
  return FromJson(body);
}

// Names used as plain variables ({{x}}, {{{x}}}, {{&x}}) and as sections, read
// off the text: a variable that resolves to nothing is an error, a section
// that does is just empty. Off when the template changes its delimiters.
struct TagNames {
  std::set<std::string> variables;
  std::set<std::string> sections;
  bool strict = true;
};

std::string Trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

TagNames ScanTags(std::string_view text) {
  TagNames out;
  size_t pos = 0;
  while ((pos = text.find("{{", pos)) != std::string_view::npos) {
    const bool triple = text.substr(pos, 3) == "{{{";
    const size_t start = pos + (triple ? 3 : 2);
    const size_t end = text.find(triple ? "}}}" : "}}", start);
    if (end == std::string_view::npos) break;
    std::string tag = Trim(text.substr(start, end - start));
    pos = end + (triple ? 3 : 2);
    if (tag.empty()) continue;
    const char sigil = tag[0];
    if (sigil == '=') {
      out.strict = false;
      continue;
    }
    if (sigil == '!' || sigil == '>' || sigil == '/') continue;
    if (sigil == '#' || sigil == '^') {
      out.sections.insert(Trim(tag.substr(1)));
      continue;
    }
    if (sigil == '&') tag = Trim(tag.substr(1));
    if (tag != ".") out.variables.insert(tag);
  }
  return out;
}

class StrictContext final : public mustache::context<std::string> {
 public:
  StrictContext(const mustache::data* data, const TagNames& names)
      : mustache::context<std::string>(data), names_(names) {}
  const mustache::data* get(const std::string& name) const override {
    const mustache::data* found = mustache::context<std::string>::get(name);
    if (found == nullptr && names_.strict && names_.variables.count(name) &&
        !names_.sections.count(name) && missing_.empty()) {
      missing_ = name;
    }
    return found;
  }
  const std::string& missing() const { return missing_; }

 private:
  const TagNames& names_;
  mutable std::string missing_;
};

}  // namespace

struct MessageTemplates::Field {
  std::string key;
  bool html = false;
  bool custom = false;  // the receiver overrode the default
  std::string text;
  TagNames names;
  std::string default_text;
  TagNames default_names;
};

const std::string& RenderedMessage::operator[](const std::string& key) const {
  static const std::string kEmpty;
  auto it = fields.find(key);
  return it == fields.end() ? kEmpty : it->second;
}

MessageTemplates::MessageTemplates() = default;
MessageTemplates::~MessageTemplates() = default;
MessageTemplates::MessageTemplates(const MessageTemplates&) = default;
MessageTemplates& MessageTemplates::operator=(const MessageTemplates&) = default;
MessageTemplates::MessageTemplates(MessageTemplates&&) noexcept = default;
MessageTemplates& MessageTemplates::operator=(MessageTemplates&&) noexcept = default;

std::vector<std::string> MessageTemplates::FieldKeys(const std::vector<MessageField>& fields) {
  std::vector<std::string> keys;
  for (const auto& f : fields) keys.push_back(f.key);
  return keys;
}

MessageTemplates MessageTemplates::Defaults(std::vector<MessageField> fields) {
  MessageTemplates out;
  for (auto& f : fields) {
    auto field = std::make_shared<Field>();
    field->key = f.key;
    field->html = f.html;
    field->default_text = std::string(f.default_template);
    field->default_names = ScanTags(field->default_text);
    field->text = field->default_text;
    field->names = field->default_names;
    out.fields_.push_back(std::move(field));
  }
  return out;
}

MessageTemplates MessageTemplates::FromYaml(const YAML::Node& spec, const ReceiverContext& ctx,
                                            std::vector<MessageField> fields) {
  MessageTemplates out = Defaults(std::move(fields));
  if (!spec.IsMap()) return out;
  for (auto& field : out.fields_) {
    const YAML::Node& node = spec[field->key];
    if (!node) continue;
    const std::string what = ctx.What("") + field->key + " template";
    auto text = GetString(node, ctx.problems, what);
    if (!text) continue;
    mustache::mustache compiled{*text};
    if (!compiled.is_valid()) {
      ctx.problems.Add(node, what + ": " + compiled.error_message());
      continue;
    }
    auto f = std::make_shared<Field>(*field);
    f->custom = true;
    f->text = *text;
    f->names = ScanTags(*text);
    field = std::move(f);
  }
  return out;
}

RenderedMessage MessageTemplates::Render(const Notification& n) const {
  RenderedMessage out;
  if (fields_.empty()) return out;
  const mustache::data data = TemplateData(n);
  auto render = [&](const std::string& text, const TagNames& names, bool html,
                    std::string& error) -> std::string {
    mustache::mustache tmpl{text};
    if (!html) tmpl.set_custom_escape([](const std::string& s) { return s; });
    StrictContext context(&data, names);
    std::string result = tmpl.render(context);
    if (!tmpl.is_valid()) {
      error = tmpl.error_message();
    } else if (!context.missing().empty()) {
      error = "{{" + context.missing() + "}} names nothing";
    }
    return result;
  };
  for (const auto& field : fields_) {
    std::string error;
    std::string text = render(field->text, field->names, field->html, error);
    if (!error.empty() && field->custom) {
      out.template_error = true;
      if (!out.error.empty()) out.error += "; ";
      out.error += field->key + " template: " + error;
      std::string ignored;
      text = render(field->default_text, field->default_names, field->html, ignored);
    }
    out.fields[field->key] = std::move(text);
  }
  return out;
}

}  // namespace linkwatch::notifiers

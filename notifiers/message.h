// Message templates: the words people read (Teams cards, mail, SMS, log
// lines), in one home, so every integration says the same thing by default
// (notifications.md, "Templates"; docs/receivers.md, "Message templates").
//
// A template is Mustache (kainjow/mustache, Debian libkainjow-mustache-dev)
// over the group: the Alertmanager webhook v4 body (status, receiver,
// groupLabels, commonLabels, commonAnnotations, externalURL, alerts with
// status, labels, annotations, startsAt, endsAt, generatorURL, fingerprint)
// plus
//   title        "[FIRING:2] SyncStalled crm" (Notification::Title)
//   statusUpper  FIRING | RESOLVED;  firingCount, resolvedCount, alertCount
//   firing, resolved        the alerts of each state
//   groupLabelPairs, commonLabelPairs, commonAnnotationPairs  [{name, value}]
// and, per alert: statusUpper, target ("crm/account": profile/entity labels),
// summary (annotation summary, else description), labelPairs,
// annotationPairs.
//
// An integration declares its fields (title, text, subject, html, ...) with
// their defaults; a receiver may override any of them inside the integration
// mapping (`teams: {url: ..., title: "{{title}} on prod"}`). A template that
// does not parse is a config problem (file:line:column). At run time a
// variable tag that names nothing (`{{commonLabels.profil}}`) is a template
// error: that field falls back to its default wording with a note, the message
// still goes out, and the outbox counts reason="template". Optional values go
// in sections: `{{#annotations.runbook}}Runbook: {{.}}{{/annotations.runbook}}`.
//
// MessageTemplates is an immutable value; Render is const and thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace YAML {
class Node;
}

namespace linkwatch::notifiers {

struct Notification;
struct ReceiverContext;

// Default wording shared by every integration.
inline constexpr std::string_view kDefaultTitle = "{{title}}";
// One block per alert: status, name and target, summary, then its labels,
// annotations, start (and end) time and link.
extern const std::string_view kDefaultText;
// One line per alert (SMS, log): "FIRING SyncStalled crm/account: not synced for 21m".
extern const std::string_view kDefaultLine;
// Email's HTML part: per alert its labels, annotations, start time and link.
extern const std::string_view kDefaultHtml;

struct MessageField {
  std::string key;  // YAML key and the name Render reports it under
  std::string_view default_template;
  bool html = false;  // HTML-escape values ({{{x}}} stays raw)
};

struct RenderedMessage {
  std::map<std::string, std::string> fields;
  bool template_error = false;
  std::string error;  // what failed, for the log (never a secret)
  const std::string& operator[](const std::string& key) const;
};

class MessageTemplates {
 public:
  // Parses `fields` from an integration mapping (missing keys take their
  // default); problems are added with file:line:column. The caller lists the
  // same keys in its ctx.CheckKeys call (FieldKeys).
  static MessageTemplates FromYaml(const YAML::Node& spec, const ReceiverContext& ctx,
                                   std::vector<MessageField> fields);
  // Only the defaults (tests, integrations without overrides).
  static MessageTemplates Defaults(std::vector<MessageField> fields);
  static std::vector<std::string> FieldKeys(const std::vector<MessageField>& fields);

  RenderedMessage Render(const Notification& n) const;

  MessageTemplates();
  ~MessageTemplates();
  MessageTemplates(const MessageTemplates&);
  MessageTemplates& operator=(const MessageTemplates&);
  MessageTemplates(MessageTemplates&&) noexcept;
  MessageTemplates& operator=(MessageTemplates&&) noexcept;

 private:
  struct Field;
  std::vector<std::shared_ptr<const Field>> fields_;
};

}  // namespace linkwatch::notifiers

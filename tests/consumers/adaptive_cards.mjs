// Checks Teams cards with Microsoft's Adaptive Cards library (npm
// `adaptivecards` 3.x, loaded from its dist/adaptivecards.js bundle: plain
// node, no DOM). Each file holds either a Teams message (the envelope
// linkwatch posts: {"type": "message", "attachments": [{"contentType":
// "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content":
// card}]}) or a bare AdaptiveCard.
//
// A card passes when
//   * parsing it logs no event (unknown element or action type, invalid
//     property value, unsupported version, ...),
//   * card.validateProperties() reports nothing,
//   * the library's own serialization of the parsed card keeps every
//     property the file has (a property it drops is one it does not know),
//     except Teams' own `msteams` extension, which must be {"width": "full"},
//   * it uses only the actions that work in Teams (Action.OpenUrl,
//     Action.ShowCard, Action.ToggleVisibility).
//
// Usage: node adaptive_cards.mjs CARD.json...  (LINKWATCH_NODE_MODULES names
// the node_modules folder; default build/consumers/node_modules). Prints
// "ok <file>" or each problem; exits 1 when any card has a problem, 2 when
// it cannot run.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeModules =
  process.env.LINKWATCH_NODE_MODULES ||
  path.join(here, "..", "..", "build", "consumers", "node_modules");
const bundle = path.join(nodeModules, "adaptivecards", "dist", "adaptivecards.js");

const kTeamsActions = new Set(["Action.OpenUrl", "Action.ShowCard", "Action.ToggleVisibility"]);
const kAdaptiveContentType = "application/vnd.microsoft.card.adaptive";

function loadLibrary() {
  if (!fs.existsSync(bundle)) {
    console.error(
      `adaptive_cards: ${bundle} is missing: \`make consumers\` (part of \`make test\`) ` +
        "installs npm adaptivecards into build/consumers"
    );
    process.exit(2);
  }
  return createRequire(import.meta.url)(bundle);
}

// The card inside a Teams message, or the file itself when it is a card.
function unwrap(doc, problems) {
  if (doc.type !== "message") return doc;
  const atts = doc.attachments;
  if (!Array.isArray(atts) || atts.length !== 1) {
    problems.push("envelope: attachments must hold exactly one card");
    return null;
  }
  const att = atts[0];
  if (att.contentType !== kAdaptiveContentType) {
    problems.push(`envelope: contentType is ${JSON.stringify(att.contentType)}`);
  }
  if (!("contentUrl" in att) || att.contentUrl !== null) {
    problems.push("envelope: contentUrl must be null");
  }
  const extra = Object.keys(doc).filter((k) => k !== "type" && k !== "attachments");
  extra.push(...Object.keys(att).filter((k) => !["contentType", "contentUrl", "content"].includes(k)));
  for (const k of extra) problems.push(`envelope: unknown property "${k}"`);
  return att.content;
}

// Every key path in `given` that `kept` (the library's serialization) lacks.
function droppedProperties(given, kept, where, out) {
  if (Array.isArray(given)) {
    given.forEach((item, i) => {
      droppedProperties(item, Array.isArray(kept) ? kept[i] : undefined, `${where}[${i}]`, out);
    });
    return out;
  }
  if (given === null || typeof given !== "object") return out;
  for (const [key, value] of Object.entries(given)) {
    const keptHere = kept !== null && typeof kept === "object" ? kept : {};
    if (!(key in keptHere)) {
      out.push(`${where}.${key}: not kept by the library (an unknown property, or a value it refused)`);
    } else {
      droppedProperties(value, keptHere[key], `${where}.${key}`, out);
    }
  }
  return out;
}

function actionTypes(node, out) {
  if (Array.isArray(node)) node.forEach((n) => actionTypes(n, out));
  else if (node !== null && typeof node === "object") {
    if (typeof node.type === "string" && node.type.startsWith("Action.")) out.push(node.type);
    Object.values(node).forEach((v) => actionTypes(v, out));
  }
  return out;
}

function checkCard(AC, card, problems) {
  if (card === null || typeof card !== "object" || card.type !== "AdaptiveCard") {
    problems.push('card: type must be "AdaptiveCard"');
    return;
  }
  const ac = new AC.AdaptiveCard();
  const parsing = new AC.SerializationContext();
  ac.parse(card, parsing);
  for (let i = 0; i < parsing.eventCount; i++) {
    const e = parsing.getEventAt(i);
    problems.push(`parse: ${AC.ValidationEvent[e.event]}: ${e.message}`);
  }
  const results = ac.validateProperties();
  for (const e of results.validationEvents || []) {
    problems.push(`validate: ${AC.ValidationEvent[e.event]}: ${e.message}`);
  }
  const { msteams, ...rest } = card;
  if (msteams !== undefined && JSON.stringify(msteams) !== '{"width":"full"}') {
    problems.push(`card.msteams: expected {"width": "full"}, got ${JSON.stringify(msteams)}`);
  }
  const kept = ac.toJSON(new AC.SerializationContext());
  problems.push(...droppedProperties(rest, kept, "card", []));
  for (const t of actionTypes(card, [])) {
    if (!kTeamsActions.has(t)) problems.push(`card: ${t} does not work in Teams`);
  }
}

function main() {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: node adaptive_cards.mjs CARD.json...");
    process.exit(2);
  }
  const AC = loadLibrary();
  let bad = 0;
  for (const file of files) {
    const problems = [];
    let doc;
    try {
      doc = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (e) {
      problems.push(`not JSON: ${e.message}`);
    }
    if (doc !== undefined) {
      const card = unwrap(doc, problems);
      if (card !== null) checkCard(AC, card, problems);
    }
    if (problems.length === 0) {
      console.log(`ok ${file}`);
    } else {
      bad++;
      for (const p of problems) console.log(`${file}: ${p}`);
    }
  }
  const version = createRequire(import.meta.url)(
    path.join(nodeModules, "adaptivecards", "package.json")
  ).version;
  console.log(`checked with adaptivecards ${version}`);
  console.log(`cards: ${files.length - bad} passed, ${bad} failed`);
  process.exit(bad === 0 ? 0 : 1);
}

main();

// A real consumer of a linkwatch lake: DuckDB (npm @duckdb/node-api) reading
// the lake knowing only model.json, as a user of an Azure Synapse Link lake
// would (lake-format.md; docs/sync.md "Reading the lake").
//
//   node duckdb_lake.mjs --lake DIR [--entity NAME]... [--reads N | --seconds S]
//
// One read: parse model.json, map each entity's CDM types to DuckDB types,
// read its partitions with a strict read_csv (explicit columns, no header,
// no sniffing, RFC 4180 quoting, short rows padded with NULL, "" kept as an
// empty string), cast every value to its DuckDB type, and rebuild current
// state: per Id the row with the highest versionnumber, deletes dropped (both
// modes; in place a moved record may be listed twice for a moment).
//
// Output (stdout), one JSON document per read, one line each:
//   {"ok": true, "entities": {NAME: {"attributes": [...], "types": [...],
//     "duckdbTypes": [...], "appendOnly": bool, "partitions": [...],
//     "rowsRead": n, "duplicateIds": n, "rows": [[value|null, ...], ...]}},
//    "problems": [...]}
// or {"ok": false, "error": "...", ...} when the read (or one entity, whose
// entry is then {"error": "..."}) failed. Values are text as
// DuckDB renders its typed value (decimals with their scale, doubles 'nan',
// 'inf', '-inf', timestamps 'yyyy-MM-dd HH:mm:ss[.fffffff]', booleans
// 'true'/'false', GUIDs lower case); NULL is null. `problems` lists what a
// stricter reader (Spark's CDM connector, dataverse-to-sql) would refuse but
// this one could read past: relative locations, a decimal without its trait.
// Exit status: 0 when every read succeeded, 1 otherwise, 2 on bad usage.
// Needs @duckdb/node-api in $LINKWATCH_NODE_MODULES (default
// build/consumers/node_modules; tests/consumers/package.json pins it).
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// node_modules lives under build/ (make test installs it there, never in the
// source tree): LINKWATCH_NODE_MODULES names it; ESM imports ignore NODE_PATH.
const here = dirname(fileURLToPath(import.meta.url));
const nodeModules = process.env.LINKWATCH_NODE_MODULES ||
  join(here, '..', '..', 'build', 'consumers', 'node_modules');
const { DuckDBInstance } = createRequire(join(nodeModules, 'index.js'))('@duckdb/node-api');

function parseArgs(argv) {
  const args = { lake: null, entities: [], reads: 1, seconds: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--lake') args.lake = next();
    else if (a === '--entity') args.entities.push(next());
    else if (a === '--reads') args.reads = Number(next());
    else if (a === '--seconds') args.seconds = Number(next());
    else usage(`unknown argument ${a}`);
  }
  if (!args.lake) usage('--lake DIR is required');
  return args;
}

function usage(msg) {
  process.stderr.write(`duckdb_lake.mjs: ${msg}\n` +
    'usage: node duckdb_lake.mjs --lake DIR [--entity NAME]... [--reads N | --seconds S]\n');
  process.exit(2);
}

const sqlString = (s) => `'${String(s).replaceAll("'", "''")}'`;
const ident = (s) => `"${String(s).replaceAll('"', '""')}"`;

// A partition location as a local file path. model.json must hold absolute
// URIs (lake-format.md); a relative path is read (against the lake folder)
// but reported as a problem, since the CDM object model resolves nothing else.
function resolveLocation(lake, entity, p, problems) {
  const loc = p.location;
  if (typeof loc !== 'string' || loc === '') throw new Error(`entity ${entity}: partition ${p.name} has no location`);
  if (/^file:/i.test(loc)) return fileURLToPath(loc);  // percent-decodes
  if (/^[a-z][a-z0-9+.-]*:/i.test(loc)) throw new Error(`entity ${entity}: location ${loc} is not a local file`);
  problems.push(`entity ${entity}: partition ${p.name}: location ${JSON.stringify(loc)} is not an absolute URI`);
  return isAbsolute(loc) ? loc : join(lake, loc);
}

// The line end of a partition (lake-format.md: CRLF or LF, one per file):
// how its first record ends, outside quotes. DuckDB must be told LF: its own
// detection breaks on a bare CR inside a quoted field ("The CSV Parser state
// machine reached an invalid state").
function lineEnd(file) {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 16);
    let quoted = false;
    let prev = 0;
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) {
      for (let i = 0; i < n; i++) {
        const c = buf[i];
        if (c === 0x22) quoted = !quoted;
        else if (c === 0x0a && !quoted) return prev === 0x0d ? '\r\n' : '\n';
        prev = c;
      }
    }
    return '\n';  // empty, or one unterminated record
  } finally {
    closeSync(fd);
  }
}

function trait(attr, name) {
  const traits = attr['cdm:traits'];
  if (!Array.isArray(traits)) return null;
  for (const t of traits) {
    if (t && (t.traitReference === name || t.name === name)) return t;
  }
  return null;
}

function traitArg(t, name) {
  for (const a of t.arguments ?? []) {
    if (a && a.name === name) return Number(a.value);
  }
  return NaN;
}

// The DuckDB type of a CDM attribute, and the SQL that turns the raw text
// column `c` into it. Every cast is DuckDB's own (it fails the read on a bad
// value); a few checks are stricter than DuckDB where the readers the lake is
// written for are (SQL text-to-decimal refuses exponents; booleans are
// True/False).
function mapType(entity, attr, c, problems) {
  const fail = (what) => `error(${sqlString(`${entity}.${attr.name}: ${what}: `)} || ${c})`;
  switch (attr.dataType) {
    case 'guid':
      return ['UUID', `CAST(${c} AS UUID)::VARCHAR`];
    case 'string':
      return ['VARCHAR', c];
    case 'int64':
      return ['BIGINT', `CAST(${c} AS BIGINT)::VARCHAR`];
    case 'int32':
      return ['INTEGER', `CAST(${c} AS INTEGER)::VARCHAR`];
    case 'double':
      // NaN, Infinity and -Infinity are DuckDB's spellings too.
      return ['DOUBLE', `CAST(${c} AS DOUBLE)::VARCHAR`];
    case 'boolean':
      return ['BOOLEAN', `CASE WHEN ${c} IS NULL THEN NULL WHEN ${c} IN ('True', 'False') ` +
        `THEN CAST(${c} AS BOOLEAN)::VARCHAR ELSE ${fail('not True/False')} END`];
    case 'decimal': {
      const t = trait(attr, 'is.dataFormat.numeric.shaped');
      let p = t ? traitArg(t, 'precision') : NaN;
      let s = t ? traitArg(t, 'scale') : NaN;
      if (!t) problems.push(`entity ${entity}: decimal attribute ${attr.name} has no is.dataFormat.numeric.shaped trait`);
      if (!Number.isInteger(p) || !Number.isInteger(s)) { p = 38; s = 10; }
      if (p > 38) throw new Error(`entity ${entity}: ${attr.name}: precision ${p} is more than DuckDB's 38`);
      return [`DECIMAL(${p},${s})`, `CASE WHEN ${c} IS NULL THEN NULL ` +
        `WHEN regexp_full_match(${c}, '-?[0-9]+(\\.[0-9]+)?') THEN CAST(${c} AS DECIMAL(${p},${s}))::VARCHAR ` +
        `ELSE ${fail('not a plain decimal')} END`];
    }
    case 'dateTime':
      // TIMESTAMP keeps microseconds and would silently drop the 7th digit
      // that .NET (and the lake) writes; TIMESTAMP_NS keeps it but spans only
      // 1677..2262. So: TIMESTAMP_NS where it fits, else TIMESTAMP, and a
      // value that needs both (a non-zero 7th digit outside 1677..2262) fails
      // the read instead of being truncated. SinkCreatedOn/SinkModifiedOn are
      // written M/d/yyyy h:mm:ss tt.
      return ['TIMESTAMP_NS', `CASE WHEN ${c} IS NULL THEN NULL ` +
        `WHEN regexp_full_match(${c}, '[0-9]{1,2}/[0-9]{1,2}/[0-9]{4} [0-9]{1,2}:[0-9]{2}:[0-9]{2} [AP]M') ` +
        `THEN strptime(${c}, '%m/%d/%Y %I:%M:%S %p')::VARCHAR ` +
        `WHEN TRY_CAST(${c} AS TIMESTAMP_NS) IS NOT NULL THEN CAST(${c} AS TIMESTAMP_NS)::VARCHAR ` +
        `WHEN regexp_matches(${c}, '\\.[0-9]{6}[1-9]') THEN ${fail('100 ns digit outside TIMESTAMP_NS range')} ` +
        `ELSE CAST(${c} AS TIMESTAMP)::VARCHAR END`];
    case 'dateTimeOffset':
      return ['TIMESTAMPTZ', `CAST(${c} AS TIMESTAMPTZ)::VARCHAR`];
    default:
      throw new Error(`entity ${entity}: attribute ${attr.name}: unknown dataType ${JSON.stringify(attr.dataType)}`);
  }
}

async function readEntity(con, lake, e, problems) {
  const attrs = e.attributes;
  const names = attrs.map((a) => a.name);
  const appendOnly = (e.annotations ?? []).some((a) => a && a.name === 'linkwatch:AppendOnly' &&
    String(a.value).toLowerCase() === 'true');
  const idIdx = names.indexOf('Id');
  const verIdx = names.indexOf('versionnumber');
  const delIdx = names.indexOf('IsDelete');
  if (idIdx < 0 || verIdx < 0) throw new Error(`entity ${e.name}: no Id or versionnumber attribute`);
  const relative = [];
  const files = (e.partitions ?? []).map((p) => resolveLocation(lake, e.name, p, relative));
  if (relative.length > 0) {
    problems.push(relative[0] + (relative.length > 1 ? ` (and ${relative.length - 1} more partitions)` : ''));
  }
  const out = {
    attributes: names, types: attrs.map((a) => a.dataType), duckdbTypes: [],
    appendOnly, partitions: files, rowsRead: 0, duplicateIds: 0, rows: [],
  };
  const exprs = attrs.map((a, i) => {
    const [t, sql] = mapType(e.name, a, `c${i}`, problems);
    out.duckdbTypes.push(t);
    return `${sql} AS v${i}`;
  });
  if (files.length === 0) return out;
  const columns = names.map((_, i) => `'c${i}': 'VARCHAR'`).join(', ');
  // Strict RFC 4180: explicit columns, nothing sniffed; null_padding for rows
  // written before a column was appended; allow_quoted_nulls=false so that ""
  // is an empty string and only an empty unquoted field is NULL; parallel off
  // because null_padding needs it with quoted line breaks.
  const groups = { '\n': [], '\r\n': [] };
  for (const f of files) groups[lineEnd(f)].push(f);
  const read = '(' + Object.entries(groups).filter(([, fs]) => fs.length > 0).map(([nl, fs]) =>
    `SELECT * FROM read_csv([${fs.map(sqlString).join(', ')}], columns={${columns}}, ` +
    `header=false, auto_detect=false, delim=',', quote='"', escape='"', nullstr='', ` +
    `null_padding=true, allow_quoted_nulls=false, strict_mode=true, parallel=false, ` +
    // LF files: told. CRLF files: DuckDB's own detection (its new_line='\r\n'
    // splits quoted line breaks wrongly); a bare CR inside a quoted field of a
    // CRLF file is beyond DuckDB 1.5.
    `encoding='utf-8'${nl === '\n' ? ", new_line='\\n'" : ''})`).join(' UNION ALL ') + ')';
  const isDelete = delIdx >= 0 ? `c${delIdx} = 'True'` : 'false';
  const sql = `WITH raw AS ${read},
    typed AS (SELECT ${exprs.join(', ')}, CAST(c${verIdx} AS BIGINT) AS lw_version, ${isDelete} AS lw_deleted,
                     CAST(c${idIdx} AS VARCHAR) AS lw_id FROM raw),
    ranked AS (SELECT *, row_number() OVER (PARTITION BY lw_id ORDER BY lw_version DESC) AS lw_rank,
                     count(*) OVER (PARTITION BY lw_id) AS lw_copies FROM typed)
    SELECT * FROM ranked ORDER BY lw_id, lw_rank`;
  const result = await con.runAndReadAll(sql);
  for (const row of result.getRows()) {
    out.rowsRead++;
    const rank = Number(row[names.length + 3]);
    const copies = Number(row[names.length + 4]);
    if (rank !== 1) continue;
    if (copies > 1 && !appendOnly) out.duplicateIds++;
    if (row[names.length + 1] === true) continue;  // latest is a delete
    out.rows.push(row.slice(0, names.length).map((v) => (v === null ? null : String(v))));
  }
  return out;
}

async function readLake(con, args) {
  const problems = [];
  const model = JSON.parse(readFileSync(join(args.lake, 'model.json'), 'utf8'));
  const entities = {};
  for (const e of model.entities ?? []) {
    if (args.entities.length > 0 && !args.entities.includes(e.name)) continue;
    try {
      entities[e.name] = await readEntity(con, args.lake, e, problems);
    } catch (err) {
      // One entity's failure does not hide what the others read.
      entities[e.name] = { error: firstLine(err) };
    }
  }
  for (const want of args.entities) {
    if (!(want in entities)) throw new Error(`entity ${want} is not in model.json`);
  }
  const errors = Object.entries(entities).filter(([, v]) => v.error).map(([k, v]) => `${k}: ${v.error}`);
  return errors.length > 0 ? { ok: false, error: errors.join('; '), entities, problems }
    : { ok: true, entities, problems };
}

function firstLine(err) {
  return String(err && err.message ? err.message : err).split('\n')[0];
}

const args = parseArgs(process.argv.slice(2));
const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await instance.connect();
let failed = 0;
const started = Date.now();
for (let n = 0; ; n++) {
  if (args.seconds > 0 ? (Date.now() - started) / 1000 >= args.seconds : n >= args.reads) break;
  let doc;
  try {
    doc = await readLake(con, args);
  } catch (err) {
    doc = { ok: false, error: firstLine(err) };
  }
  if (!doc.ok) failed++;
  process.stdout.write(JSON.stringify(doc) + '\n');
}
process.exitCode = failed > 0 ? 1 : 0;

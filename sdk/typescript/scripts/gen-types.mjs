// Generates src/types.gen.ts from specs/openapi.json (every component schema).
//   node scripts/gen-types.mjs            write src/types.gen.ts
//   node scripts/gen-types.mjs --check    exit 1 if the committed file differs (drift)
//   --spec PATH                           another OpenAPI document (tests use it)
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const OUT = resolve(here, "../src/types.gen.ts");
const SPEC = resolve(here, "../../../specs/openapi.json");

// Schema names are unique in the spec (one name per concept); none needs renaming.
const RENAMES = {};

export function typeName(name) {
  return RENAMES[name] ?? name;
}

function refName(ref) {
  return typeName(ref.split("/").pop());
}

// True while JsonValue's own alias is written (see the object case below).
let inJsonValue = false;

function tsType(schema) {
  if (schema.$ref) return refName(schema.$ref);
  if (schema.anyOf || schema.oneOf) {
    const parts = (schema.anyOf ?? schema.oneOf).map(tsType);
    return [...new Set(parts)].join(" | ");
  }
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  switch (schema.type) {
    case "string":
      return "string";
    case "integer":
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "null":
      return "null";
    case "array":
      return `Array<${schema.items ? tsType(schema.items) : "unknown"}>`;
    case "object": {
      if (schema.properties) return inlineObject(schema);
      const ap = schema.additionalProperties;
      if (!ap || typeof ap !== "object") return "Record<string, unknown>";
      // A free-form object (arguments, context, context_delta) stays Record<string, unknown>,
      // what callers hold; the server checks I-JSON. JsonValue's own object branch is an
      // index signature: a recursive alias may refer to itself only through an object or
      // array type, never through another alias (Record<>).
      if (ap.$ref && refName(ap.$ref) === "JsonValue") {
        return inJsonValue ? "{ [key: string]: JsonValue }" : "Record<string, unknown>";
      }
      return `Record<string, ${tsType(ap)}>`;
    }
    default:
      return "unknown";
  }
}

function inlineObject(schema) {
  const required = new Set(schema.required ?? []);
  const fields = Object.entries(schema.properties).map(
    ([k, v]) => `${JSON.stringify(k)}${required.has(k) ? "" : "?"}: ${tsType(v)}`,
  );
  return `{ ${fields.join("; ")} }`;
}

export function generate(spec) {
  const schemas = spec.components.schemas;
  const lines = [
    "// Generated from specs/openapi.json by scripts/gen-types.mjs. Do not edit:",
    "// run `npm run generate`; the tests fail when this file and the spec drift apart.",
    "/* eslint-disable */",
    "",
  ];
  for (const name of Object.keys(schemas).sort()) {
    const schema = schemas[name];
    const ts = typeName(name);
    if (schema.description) lines.push(`/** ${schema.description.replace(/\*\//g, "*\\/")} */`);
    if (schema.enum) {
      lines.push(`export type ${ts} = ${tsType(schema)};`);
      lines.push(`export const ${ts}Values = ${JSON.stringify(schema.enum)} as const;`);
    } else if (schema.type === "object" && schema.properties) {
      const required = new Set(schema.required ?? []);
      lines.push(`export interface ${ts} {`);
      for (const [field, prop] of Object.entries(schema.properties)) {
        if (prop.description) lines.push(`  /** ${prop.description.replace(/\*\//g, "*\\/")} */`);
        const opt = required.has(field) ? "" : "?";
        lines.push(`  ${JSON.stringify(field)}${opt}: ${tsType(prop)};`);
      }
      lines.push("}");
    } else {
      inJsonValue = name === "JsonValue";
      lines.push(`export type ${ts} = ${tsType(schema)};`);
      inJsonValue = false;
    }
    lines.push("");
  }
  return lines.join("\n");
}

function main(argv) {
  const check = argv.includes("--check");
  const at = argv.indexOf("--spec");
  const specPath = at >= 0 ? resolve(argv[at + 1]) : SPEC;
  const text = generate(JSON.parse(readFileSync(specPath, "utf8")));
  if (!check) {
    writeFileSync(OUT, text);
    return 0;
  }
  const current = readFileSync(OUT, "utf8");
  if (current !== text) {
    process.stderr.write(
      `src/types.gen.ts has drifted from ${specPath}: run \`npm run generate\` in sdk/typescript\n`,
    );
    return 1;
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}

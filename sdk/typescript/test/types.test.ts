// The generated types against specs/openapi.json: regenerating must give the committed
// file, and a changed spec must be caught.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

const script = fileURLToPath(new URL("../../scripts/gen-types.mjs", import.meta.url));
const spec = fileURLToPath(new URL("../../../../specs/openapi.json", import.meta.url));

function check(specPath: string): ReturnType<typeof spawnSync> {
  return spawnSync(process.execPath, [script, "--check", "--spec", specPath], { encoding: "utf8" });
}

test("src/types.gen.ts matches specs/openapi.json", () => {
  const run = check(spec);
  assert.equal(run.status, 0, String(run.stderr));
});

test("a drifted spec is caught", () => {
  const doc = JSON.parse(readFileSync(spec, "utf8")) as {
    components: { schemas: Record<string, { properties: Record<string, unknown>; required?: string[] }> };
  };
  const grant = doc.components.schemas["Grant"];
  assert.ok(grant);
  grant.properties["new_field"] = { type: "string" };
  const path = join(mkdtempSync(join(tmpdir(), "gantral-spec-")), "openapi.json");
  writeFileSync(path, JSON.stringify(doc));
  const run = check(path);
  assert.equal(run.status, 1);
  assert.match(String(run.stderr), /drifted/);
});

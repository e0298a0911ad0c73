import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { argsDigest, canonicalBytes, canonicalize, sha256Hex } from "../src/index.js";

interface Vector {
  name: string;
  action: string;
  arguments: Record<string, unknown>;
  canonical: string;
  sha256: string;
  args_digest: string;
}
const file = new URL("../../../../specs/digest-vectors.json", import.meta.url);
const doc = JSON.parse(readFileSync(file, "utf8")) as { vectors: Vector[]; refused: Vector[] };

test("the shared vectors are all there", () => {
  assert.ok(doc.vectors.length >= 10);
  assert.ok(doc.refused.length >= 2);
});

for (const v of doc.vectors) {
  test(`digest vector: ${v.name}`, () => {
    const value = { action: v.action, arguments: v.arguments };
    assert.equal(canonicalize(value), v.canonical);
    assert.deepEqual(canonicalBytes(value), Buffer.from(v.canonical, "utf8"));
    assert.equal(sha256Hex(canonicalBytes(value)), v.sha256);
    assert.equal(argsDigest(v.action, v.arguments), v.args_digest);
  });
}

for (const v of doc.refused) {
  test(`refused vector: ${v.name}`, () => {
    assert.throws(() => argsDigest(v.action, v.arguments), RangeError);
  });
}

test("non-JSON values are refused", () => {
  assert.throws(() => canonicalize(Number.NaN), RangeError);
  assert.throws(() => canonicalize(Infinity), RangeError);
  assert.throws(() => canonicalize(10n), TypeError);
});

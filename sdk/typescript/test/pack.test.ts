// The package as a user gets it: `npm pack` from a clean copy of this directory (no
// dist/, so the "prepare" build must run), installed from the tarball into an empty
// project (offline: the SDK has no runtime dependencies), then imported from ESM and
// CommonJS, type-checked as a dependency, and used to run a governed step against a
// scripted API.
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { argsDigest } from "../src/index.js";
import { fakeServer, json } from "./fake.js";

// dist/test/pack.test.js -> the package root
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
const quiet = ["--no-audit", "--no-fund", "--loglevel=error"];

function npm(args: string[], cwd: string): string {
  return execFileSync(NPM, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Asynchronous, so the scripted API in this process keeps answering. */
async function node(args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  const run = await promisify(execFile)(process.execPath, args, { cwd, encoding: "utf8", env: { ...process.env, ...env } })
    .catch((err: { stderr?: string; stdout?: string }) => assert.fail(`node ${args.join(" ")}:\n${err.stderr}\n${err.stdout}`));
  return run.stdout;
}

/** The tarball `npm pack` makes from a fresh checkout of the package. */
function pack(work: string): { tarball: string; files: string[] } {
  const copy = join(work, "sdk");
  for (const entry of ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json",
    "tsconfig.cjs.json", "README.md", "LICENSE", "src", "scripts"]) {
    if (existsSync(join(ROOT, entry))) cpSync(join(ROOT, entry), join(copy, entry), { recursive: true });
  }
  // Its dev dependencies (typescript) as `npm ci` left them; no dist/ is copied.
  symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"), "dir");
  const out = npm(["pack", "--json", "--pack-destination", work, ...quiet], copy);
  const [info] = JSON.parse(out.slice(out.indexOf("["))) as { filename: string; files: { path: string }[] }[];
  assert.ok(info);
  return { tarball: join(work, info.filename), files: info.files.map((f) => f.path) };
}

const CONSUMER_ESM = `
import { GantralClient, BearerToken, StepRefused, argsDigest } from "@gantral/sdk";
const client = new GantralClient({ baseUrl: process.env.GANTRAL_URL, auth: new BearerToken("t0k") });
const ran = await client.governedStep("inst-1", "deploy",
  { action: "deploy.run", arguments: { service: "billing" } },
  (step) => ({ ran: step.arguments, outcome: step.outcome }));
console.log(JSON.stringify({ ...ran, refused: typeof StepRefused, digest: argsDigest("a", {}) }));
`;
const CONSUMER_CJS = `
const sdk = require("@gantral/sdk");
console.log(JSON.stringify({ client: typeof sdk.GantralClient, digest: sdk.argsDigest("a", {}) }));
`;
const CONSUMER_TS = `
import { GantralClient, type GovernedStep, type HumanRequest } from "@gantral/sdk";
const client: GantralClient = new GantralClient({ baseUrl: "http://127.0.0.1:1" });
export const f = (s: GovernedStep, r: HumanRequest): string => s.stepId + r.request_id + client.baseUrl;
`;

test("npm pack builds the package; the tarball installs offline and runs a governed step", async (t) => {
  const work = mkdtempSync(join(tmpdir(), "gantral-sdk-pack-"));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  let started = Date.now();
  const { tarball, files } = pack(work);
  t.diagnostic(`npm pack: ${Date.now() - started} ms`);
  for (const needed of ["package.json", "README.md", "LICENSE", "dist/src/index.js", "dist/src/index.d.ts",
    "dist/cjs/index.js", "dist/cjs/index.d.ts", "dist/cjs/package.json"]) {
    assert.ok(files.includes(needed), `${needed} is not in the tarball: ${files.join(", ")}`);
  }
  assert.deepEqual(files.filter((f) => /^(src|test|scenario|scripts|dist\/test)\//.test(f) || f.endsWith(".ts") && !f.endsWith(".d.ts")), []);
  const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as Record<string, unknown>;
  assert.deepEqual(manifest["dependencies"] ?? {}, {}, "no runtime dependencies: the install below is offline");

  const app = join(work, "app");
  cpSync(join(ROOT, "test", "fixtures", "empty-project"), app, { recursive: true });
  started = Date.now();
  npm(["install", "--offline", ...quiet, tarball], app);
  t.diagnostic(`npm install: ${Date.now() - started} ms`);
  const installed = JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as { dependencies: Record<string, string> };
  assert.match(installed.dependencies["@gantral/sdk"] ?? "", /^file:.*\.tgz$/);

  // ESM, against a scripted API: authorize answers ALLOW, events are accepted.
  const args = { service: "billing" };
  const grant = { grant_id: "g-1", step_id: "deploy", request_id: null, args_digest: argsDigest("deploy.run", args),
    arguments: args, expires_at: "2030-01-01T00:00:00Z" };
  const fake = await fakeServer((seen, res) =>
    seen.path.endsWith("/authorize")
      ? json(res, 200, { outcome: "ALLOW", step_id: "deploy", args_digest: grant.args_digest, materiality: null,
        explanation: [], grant, request: null })
      : json(res, 200, { accepted: true, state: "RUNNING" }));
  t.after(() => fake.close());
  writeFileSync(join(app, "agent.mjs"), CONSUMER_ESM);
  const esm = JSON.parse(await node(["agent.mjs"], app, { GANTRAL_URL: fake.url })) as Record<string, unknown>;
  assert.deepEqual(esm, { ran: args, outcome: "ALLOW", refused: "function", digest: argsDigest("a", {}) });
  assert.deepEqual(fake.seen.map((s) => s.body?.["kind"] ?? s.path.split("/").pop()),
    ["authorize", "STEP_STARTED", "STEP_COMPLETED"]);

  writeFileSync(join(app, "agent.cjs"), CONSUMER_CJS);
  assert.deepEqual(JSON.parse(await node(["agent.cjs"], app)), { client: "function", digest: argsDigest("a", {}) });

  // The declarations resolve through "exports" for a NodeNext TypeScript project.
  writeFileSync(join(app, "agent.ts"), CONSUMER_TS);
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
  await node([tsc, "-p", "tsconfig.json"], app);
});

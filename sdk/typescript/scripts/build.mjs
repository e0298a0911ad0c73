// Builds what the package ships (package.json "files"), from scratch: ESM with types in
// dist/src, CommonJS with types in dist/cjs (a package.json there marks it CommonJS).
// Runs on `npm install` in this directory, `npm pack` and `npm publish` ("prepare"), so
// a tarball or a git checkout never lacks its JavaScript.
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
let tsc;
try {
  tsc = createRequire(resolve(root, "package.json")).resolve("typescript/bin/tsc");
} catch {
  console.error(
    "@gantral/sdk: building needs its dev dependencies: run `npm ci` in sdk/typescript first " +
      "(or depend on the tarball `npm pack` makes there)",
  );
  process.exit(1);
}
for (const out of ["dist/src", "dist/cjs"]) rmSync(resolve(root, out), { recursive: true, force: true });
for (const config of ["tsconfig.build.json", "tsconfig.cjs.json"]) {
  const run = spawnSync(process.execPath, [tsc, "-p", config], { cwd: root, stdio: "inherit" });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
writeFileSync(resolve(root, "dist/cjs/package.json"), JSON.stringify({ type: "commonjs" }) + "\n");

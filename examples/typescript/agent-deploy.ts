// An example agent: plan a release, then deploy it once a tech lead approves.
//
// Build the SDK and this example (from the repository root):
//   make sdk && (cd examples/typescript && npm ci && npm run build)
// Start the local stack (`make run`), then run the agent with one of:
//   a token minted by the development issuer (an agent of team payments):
//     TOKEN=$(gantral identity mint --user my-agent --agent --team payments)
//     node examples/typescript/dist/agent-deploy.js --token "$TOKEN" --service-version 2.4.1
//   the client credentials of the demo-agent client that `gantral dev` registers:
//     export GANTRAL_AGENT_CLIENT_SECRET=<the demo-agent secret>
//     node examples/typescript/dist/agent-deploy.js --client-id demo-agent
// Gantral holds the deploy for a TECH_LEAD; approve it (or override the version) with
// the ids the agent prints, e.g. with curl as in examples/agent_deploy.py. The deploy
// then runs with exactly the approved arguments, or the override's edit.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  type Auth,
  BearerToken,
  ClientCredentials,
  DecisionTimeout,
  GantralClient,
  StepRefused,
} from "@gantral/sdk";

const USAGE = `usage: agent-deploy [--api-url URL] [--workflow ID] [--team ID] [--service NAME]
       [--service-version V] [--replicas N] [--wait SECONDS]
       (--token T | --token-file PATH | --client-id ID [--token-url URL] [--client-secret-env VAR])`;

const { values: opts } = parseArgs({
  options: {
    "api-url": { type: "string", default: "http://127.0.0.1:8000" },
    workflow: { type: "string", default: "deploy-service" },
    team: { type: "string", default: "payments" },
    service: { type: "string", default: "billing" },
    "service-version": { type: "string", default: "2.4.1" },
    replicas: { type: "string", default: "3" },
    wait: { type: "string", default: "900" },
    token: { type: "string" },
    "token-file": { type: "string" },
    "client-id": { type: "string" },
    "token-url": { type: "string", default: "http://127.0.0.1:8600/token" },
    "client-secret-env": { type: "string", default: "GANTRAL_AGENT_CLIENT_SECRET" },
    help: { type: "boolean", default: false },
  },
});

function usage(message?: string): never {
  if (message) process.stderr.write(`agent-deploy: ${message}\n`);
  (message ? process.stderr : process.stdout).write(USAGE + "\n");
  process.exit(message ? 2 : 0);
}

function auth(): Auth {
  if (opts.token) return new BearerToken(opts.token);
  if (opts["token-file"]) return new BearerToken(readFileSync(opts["token-file"], "utf8").trim());
  if (opts["client-id"]) {
    // The secret comes from the environment, never the command line (ps shows it).
    const secret = process.env[opts["client-secret-env"] ?? ""];
    if (!secret) usage(`--client-id needs its secret in $${opts["client-secret-env"]}`);
    return new ClientCredentials(opts["token-url"] ?? "", opts["client-id"], secret);
  }
  return usage("no credentials: give --token, --token-file or --client-id");
}

/** Stand-in for the real deployment: whatever runs here is what the grant covers. */
async function rollOut(args: Record<string, unknown>): Promise<string> {
  console.log(`deploying ${String(args["service"])} ${String(args["version"])} to ${String(args["replicas"])} replicas`);
  await new Promise((resolve) => setTimeout(resolve, 500));
  return `https://${String(args["service"])}.example.internal/releases/${String(args["version"])}`;
}

async function main(): Promise<number> {
  if (opts.help) usage();
  const gantral = new GantralClient({ baseUrl: opts["api-url"] ?? "", auth: auth() });
  const wanted = { service: opts.service, version: opts["service-version"], replicas: Number(opts.replicas) };
  const inst = await gantral.startInstance(opts.workflow ?? "", opts.team ?? "", { ...wanted });
  const iid = inst.instance_id;
  console.log(`instance ${iid} (${inst.state})`);
  await gantral.governedStep(iid, "plan", { arguments: wanted }, (plan) => {
    plan.detail["steps"] = ["drain", "roll", "verify"];
  });
  const started = Date.now();
  try {
    await gantral.governedStep(
      iid,
      "deploy",
      {
        action: "deploy.run",
        arguments: wanted,
        context: { env: "production", reason: "scheduled release" },
        wait: Number(opts.wait),
        onPending: (request) => {
          console.log(
            `waiting for ${request.required_approvers.join(", ")} to decide on request ` +
              `${request.request_id} (${request.materiality}): ${JSON.stringify(request.arguments)}`,
          );
        },
      },
      async (step) => {
        if (step.overridden) console.warn(`a human changed the arguments: ${JSON.stringify(step.request?.context_delta)}`);
        step.detail["release_url"] = await rollOut(step.arguments);
        step.cost = { wall_time_seconds: (Date.now() - started) / 1000 };
      },
    );
  } catch (err) {
    if (!(err instanceof StepRefused)) throw err;
    console.error(`deploy refused (${err.reason}): ${err.message}`);
    if (err instanceof DecisionTimeout) await gantral.cancel(iid, "no decision in time");
    return 1;
  }
  const done = await gantral.complete(iid);
  console.log(`instance ${iid} ${done.state}`);
  return 0;
}

process.exitCode = await main();

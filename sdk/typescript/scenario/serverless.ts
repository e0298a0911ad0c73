// A serverless agent in two invocations (tests/integration/test_callbacks.py runs it):
//   node dist/scenario/serverless.js start   asks to deploy; the step needs a human, so
//                                            it saves its resume token and returns
//   node dist/scenario/serverless.js wake    woken by Gantral's callback: verifies the
//                                            webhook, resumes the step, runs it, completes
// Env: GANTRAL_URL, GANTRAL_TOKEN_URL, GANTRAL_CLIENT_ID, GANTRAL_CLIENT_SECRET,
// STATE_FILE (the function's own storage), and for `start` CALLBACK_URL, for `wake`
// GANTRAL_WEBHOOK_SECRET, WEBHOOK_HEADERS (JSON) and WEBHOOK_BODY (the raw body).
import { readFileSync, writeFileSync } from "node:fs";
import {
  CALLBACK_CONTEXT_KEY,
  ClientCredentials,
  decodeResumeToken,
  encodeResumeToken,
  GantralClient,
  verifyWebhook,
} from "../src/index.js";

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const ARGS = { service: "billing", version: "2.4.1", replicas: 3 };
const agent = new GantralClient({
  baseUrl: env("GANTRAL_URL"),
  auth: new ClientCredentials(env("GANTRAL_TOKEN_URL"), env("GANTRAL_CLIENT_ID"), env("GANTRAL_CLIENT_SECRET")),
});

async function start(): Promise<Record<string, unknown>> {
  const inst = await agent.startInstance("deploy", "payments", {
    ticket: "CHG-2001",
    [CALLBACK_CONTEXT_KEY]: env("CALLBACK_URL"),
  });
  await agent.governedStep(inst.instance_id, "plan", {}, () => undefined);
  const first = await agent.prepareStep(inst.instance_id, "deploy", {
    action: "deploy.run",
    arguments: ARGS,
    stopAtPending: true,
  });
  if (!("pending" in first)) throw new Error("expected the step to wait for a human");
  writeFileSync(env("STATE_FILE"), encodeResumeToken(first.resume));
  return { instance_id: inst.instance_id, request_id: first.request.request_id };
}

async function wake(): Promise<Record<string, unknown>> {
  const headers = JSON.parse(env("WEBHOOK_HEADERS")) as Record<string, string>;
  const event = verifyWebhook(env("GANTRAL_WEBHOOK_SECRET"), headers, env("WEBHOOK_BODY"));
  const token = decodeResumeToken(readFileSync(env("STATE_FILE"), "utf8"));
  if (event.data.request_id !== token.request_id) throw new Error("a callback for another request");
  const step = await agent.resumeStep(token, { arguments: ARGS });
  const ran = await agent.runStep(step, (s) => {
    s.cost = { tokens: 321 };
    return s.arguments;
  });
  const final = await agent.complete(token.instance_id, "deployed from a callback");
  return { status: event.data.status, ran, state: final.state };
}

const mode = process.argv[2];
const result = mode === "start" ? await start() : mode === "wake" ? await wake() : undefined;
if (result === undefined) throw new Error("usage: serverless.js start|wake");
process.stdout.write(JSON.stringify(result) + "\n");

// The governed step's local checks (no I/O), as sdk/python/src/gantral_sdk/_governed.py:
// the server decides; the SDK makes sure the agent runs exactly what a grant covers,
// computing the digest of the arguments it will run itself and never taking one from the
// server.
import { argsDigest, plain } from "./jcs.js";
import {
  DigestMismatch,
  StepCancelled,
  StepExpired,
  StepRefused,
  StepRejected,
} from "./errors.js";
import type { AuthorizeResult, Cost, Decision, Grant, HumanRequest } from "./types.gen.js";

/** How long a governed step waits for a human by default, in seconds. */
export const DEFAULT_DECISION_WAIT = 3600;

// Bounds on the server's `retry_after` hint, as in the Python SDK: never a busy loop,
// never an hour's nap (a raised budget or a freed slot should be noticed soon).
const NOT_READY_PAUSE = { min: 0.05, max: 60 };
const NOT_READY_DEFAULT = 1;

/** Seconds to wait before asking again when the answer is NOT_READY, else undefined.
 *  Readiness is operational, not authority: the step waits and asks again by itself. */
export function notReadyPause(result: AuthorizeResult): number | undefined {
  if (result.outcome !== "NOT_READY") return undefined;
  const hint = result.retry_after;
  const pause = typeof hint === "number" && Number.isFinite(hint) ? hint : NOT_READY_DEFAULT;
  return Math.min(Math.max(pause, NOT_READY_PAUSE.min), NOT_READY_PAUSE.max);
}

/** An authorized step, ready to run. */
export interface GovernedStep {
  instanceId: string;
  stepId: string;
  /** The action the grant covers (the step id when none was given). */
  action: string;
  /** The arguments to run: the requested ones, or an override's edit. */
  arguments: Record<string, unknown>;
  /** Their digest, computed locally; equal to the grant's. */
  argsDigest: string;
  grant: Grant;
  /** `ALLOW`, `APPROVED` or `OVERRIDDEN`. */
  outcome: string;
  request: HumanRequest | undefined;
  /** True when a human changed the arguments (OVERRIDE). */
  overridden: boolean;
  /** Free-form facts sent with STEP_COMPLETED; fill it while the step runs. */
  detail: Record<string, unknown>;
  /** Cost to report with the step's end, if set. */
  cost: Partial<Cost> | undefined;
}

/** Decided, and the outcome applied: an approval's grant is there to use. */
export function settled(request: HumanRequest): boolean {
  if (request.resolved_at) return true;
  const status = request.status ?? "PENDING";
  if (status === "PENDING") return false;
  const granting = status === "APPROVED" || status === "OVERRIDDEN";
  return !granting || (request.grant !== undefined && request.grant !== null);
}

/** The request to wait on, or undefined when the authorization already grants. */
export function requestToWaitFor(result: AuthorizeResult): HumanRequest | undefined {
  if (result.outcome === "ALLOW") return undefined;
  if (result.outcome === "NOT_READY") {
    throw new StepRefused(`step ${result.step_id} is not ready (${result.reason ?? "no reason given"})`, "not_ready");
  }
  if (!result.request) throw new StepRefused("PENDING authorization without a request", "no_request");
  return result.request;
}

/** The statuses that end a request without authority. */
export function refused(request: HumanRequest): boolean {
  return ["REJECTED", "EXPIRED", "CANCELLED", "SUPERSEDED"].includes(request.status ?? "PENDING");
}

/** Who refused and why, in words: "request r-1 for step deploy was REJECTED by alice
 *  (TECH_LEAD, via slack): not today". */
export function refusalMessage(request: HumanRequest, decision?: Decision): string {
  const head = `request ${request.request_id} for step ${request.step_id} was ${request.status}`;
  const who = decision?.human_actor_id ?? request.decided_by ?? undefined;
  const via = request.decided_via ?? decision?.channel;
  const how = [decision?.role, via ? `via ${via}` : undefined].filter(Boolean).join(", ");
  const by = who ? ` by ${who}${how ? ` (${how})` : ""}` : "";
  let why: string;
  if (decision?.justification) why = decision.justification;
  else if (request.status === "EXPIRED") why = `nobody decided${request.deadline ? ` by ${request.deadline}` : " in time"}`;
  else if (request.status === "SUPERSEDED") {
    why = `replaced by ${request.superseded_by ?? "another request"}${request.superseded_why ? ` (${request.superseded_why})` : ""}`;
  } else if (request.status === "CANCELLED") why = "cancelled with its instance";
  else why = "no justification given";
  return `${head}${by}: ${why}`;
}

/** Throw the typed refusal for a request that ended without authority. */
export function outcomeOf(request: HumanRequest, decision?: Decision): void {
  if (!refused(request)) return;
  const message = refusalMessage(request, decision);
  switch (request.status) {
    case "REJECTED":
      throw new StepRejected(message, request, decision);
    case "EXPIRED":
      throw new StepExpired(message, request, decision);
    default:
      throw new StepCancelled(message, request, decision);
  }
}

/** Pick the arguments to run and check that the grant covers exactly them. */
export function bind(
  instanceId: string,
  stepId: string,
  action: string,
  requested: Record<string, unknown>,
  result: AuthorizeResult | undefined,
  request: HumanRequest | undefined,
  decision?: Decision,
): GovernedStep {
  let grant: Grant | null | undefined;
  let outcome: string;
  let args = requested;
  if (request === undefined) {
    grant = result?.grant;
    outcome = "ALLOW";
  } else {
    outcomeOf(request, decision);
    grant = request.grant;
    outcome = request.status ?? "PENDING";
    // Only an OVERRIDE changes what runs; an approval covers what was asked, as asked.
    if (outcome === "OVERRIDDEN" && grant) args = plain(grant.arguments);
  }
  if (!grant) throw new StepRefused(`step ${stepId} was not granted (${outcome})`, "no_grant");
  const digest = checkGrant(grant, stepId, action, args, request);
  return {
    instanceId,
    stepId,
    action,
    arguments: args,
    argsDigest: digest,
    grant,
    outcome,
    request,
    overridden: outcome === "OVERRIDDEN",
    detail: {},
    cost: undefined,
  };
}

/** The digest of `args`, computed here, when `grant` covers exactly them for this step;
 *  otherwise throws DigestMismatch. Never trusts a digest sent by the server. */
export function checkGrant(
  grant: Grant,
  stepId: string,
  action: string,
  args: Record<string, unknown>,
  request?: HumanRequest,
): string {
  if (grant.step_id !== stepId) {
    throw new DigestMismatch(
      `grant ${grant.grant_id} is for step ${grant.step_id}, not ${stepId}`,
      request,
      "grant_step_mismatch",
    );
  }
  const digest = argsDigest(action, args);
  if (digest !== grant.args_digest) {
    throw new DigestMismatch(
      `grant ${grant.grant_id} covers ${grant.args_digest}, but the arguments to run hash to ${digest}`,
      request,
    );
  }
  return digest;
}

/** What STEP_FAILED says about an error: its type only, never its message (messages
 *  often carry data a policy would redact). */
export function failureDetail(err: unknown): Record<string, unknown> {
  const name = err instanceof Error ? err.constructor.name : typeof err;
  return { error_type: name };
}

/** A small token to resume a governed step later (a serverless function stops at
 *  PENDING; a later call, e.g. woken by the callback, picks up). Nothing secret. */
export interface ResumeToken {
  v: 1;
  instance_id: string;
  request_id: string;
  step_id: string;
  action: string;
  /** The digest of the requested arguments, checked again when resuming. */
  args_digest: string;
}

export function encodeResumeToken(token: ResumeToken): string {
  return Buffer.from(JSON.stringify(token), "utf8").toString("base64url");
}

export function decodeResumeToken(text: string): ResumeToken {
  const parsed = JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as ResumeToken;
  for (const field of ["instance_id", "request_id", "step_id", "action", "args_digest"] as const) {
    if (typeof parsed[field] !== "string" || !parsed[field]) {
      throw new TypeError(`resume token without ${field}`);
    }
  }
  if (parsed.v !== 1) throw new TypeError(`unknown resume token version ${String(parsed.v)}`);
  return parsed;
}

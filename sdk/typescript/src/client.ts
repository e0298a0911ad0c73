// The Gantral API client on Node's built-in fetch. Every decision is the server's;
// a governed step adds one local check (the grant covers exactly the arguments run).
import { randomUUID } from "node:crypto";
import type { Auth } from "./auth.js";
import {
  DecisionTimeout,
  DigestMismatch,
  errorFromResponse,
  GantralError,
  StepNotReady,
  TransportError,
  Unavailable,
} from "./errors.js";
import {
  bind,
  DEFAULT_DECISION_WAIT,
  failureDetail,
  notReadyPause,
  refused,
  requestToWaitFor,
  settled,
  type GovernedStep,
  type ResumeToken,
} from "./governed.js";
import { argsDigest, plain } from "./jcs.js";
import type {
  AgentEventKind,
  AgentEventResult,
  AuditTrailView,
  AuthorizeRequest,
  AuthorizeResult,
  Cost,
  DecisionRequest,
  DecisionResult,
  Decision,
  DecisionType,
  EventRequest,
  FinishRequest,
  HumanRequest,
  InboxPage,
  InstancePage,
  InstanceView,
  StartInstanceRequest,
  State,
  VerifyView,
} from "./types.gen.js";

/** The longest long-poll the API accepts (`?wait=`), in seconds. */
export const MAX_SERVER_WAIT = 60;
/** How often a retry-safe call is resent after a transport error. */
export const RESENDS = 2;
const WAIT_SLACK_MS = 10_000;
const RETRY_PAUSE_MS = 1_000;
const MIN_POLL_MS = 500;

/** A request as the human was shown it: a `HumanRequest` read from the API (`onPending`,
 *  `getRequest`, `waitForDecision`) or an inbox item. */
export type ShownRequest = Pick<HumanRequest, "request_id" | "args_digest">;

export interface DecideOptions {
  role?: string;
  justification?: string;
  contextDelta?: Record<string, unknown>;
  idempotencyKey?: string;
  /** With a request id: the `args_digest` the human was shown. */
  seenArgsDigest?: string;
}

/** [request id, digest the human saw] of a decision. */
function shownAs(request: ShownRequest | string, seenArgsDigest: string | undefined): [string, string] {
  if (typeof request === "string") {
    if (!seenArgsDigest) {
      throw new TypeError(
        "decide() by request id needs seenArgsDigest: the args_digest of the request as the human was shown it (or pass the request itself)",
      );
    }
    return [request, seenArgsDigest];
  }
  if (seenArgsDigest !== undefined && seenArgsDigest !== request.args_digest) {
    throw new TypeError(
      `seenArgsDigest ${seenArgsDigest} is not the digest of the request passed (${request.args_digest}): pass one or the other`,
    );
  }
  return [request.request_id, request.args_digest];
}

export interface ClientOptions {
  baseUrl: string;
  auth?: Auth;
  /** Per-call timeout in milliseconds (default 30 s); long polls get their wait + 10 s. */
  timeoutMs?: number;
  /** Seconds each long poll asks the server to hold (default 30, at most 60). */
  pollWait?: number;
  /** A fetch of your own (proxies, tests). */
  fetch?: typeof fetch;
}

interface Call {
  method: "GET" | "POST";
  path: string;
  body?: object;
  params?: Record<string, string | number>;
  timeoutMs?: number;
}

export interface StepOptions {
  action?: string;
  arguments?: Record<string, unknown>;
  context?: Record<string, unknown>;
  /** Seconds to wait for a human overall (default 3600); also how long the step keeps
   *  asking while the plane answers NOT_READY. */
  wait?: number;
  onPending?: (request: HumanRequest) => void | Promise<void>;
  /** Called on each NOT_READY answer with the pause (seconds) before asking again. */
  onNotReady?: (result: AuthorizeResult, pause: number) => void | Promise<void>;
}

/** `prepareStep` with `stopAtPending`: the step waits for a human; resume it later. */
export interface PendingStep {
  pending: true;
  request: HumanRequest;
  /** Serialize with `encodeResumeToken`; pass to `resumeStep` later. */
  resume: ResumeToken;
}

const seg = encodeURIComponent;
const instancePath = (id: string, ...rest: string[]): string =>
  ["/v1/instances", seg(id), ...rest].join("/");

/** A fresh idempotency key per mutating call: a resend after a lost response gets the
 *  first outcome and records nothing new. */
export function idempotencyKey(): string {
  return `sdk-${randomUUID().replace(/-/g, "")}`;
}

export class GantralClient {
  readonly baseUrl: string;
  readonly pollWait: number;
  readonly #auth: Auth | undefined;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#auth = options.auth;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.pollWait = Math.min(options.pollWait ?? 30, MAX_SERVER_WAIT);
    this.#fetch = options.fetch ?? fetch;
  }

  async #run<T>(call: Call): Promise<T> {
    const url = new URL(this.baseUrl + call.path);
    for (const [k, v] of Object.entries(call.params ?? {})) url.searchParams.set(k, String(v));
    // Reads, and writes carrying an idempotency key, may be resent after a transport
    // error: the server answers a resend with the first outcome.
    const retrySafe =
      call.method === "GET" || (call.body !== undefined && "idempotency_key" in call.body);
    const attempts = retrySafe ? RESENDS + 1 : 1;
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.#send(call, url, refreshed);
      } catch (err) {
        if (err instanceof GantralError) throw err;
        if (attempt + 1 >= attempts) {
          throw new TransportError(`${call.method} ${call.path}: ${String(err)}`, { cause: err });
        }
        await sleep(200 * 2 ** attempt);
        continue;
      }
      const text = await response.text();
      if (response.status === 401 && this.#auth?.refreshable && !refreshed) {
        refreshed = true; // revoked, or the clocks disagree: fetch a new token once
        attempt--;
        continue;
      }
      if (!response.ok) throw errorFromResponse(response.status, response.statusText, text);
      return JSON.parse(text) as T;
    }
  }

  async #send(call: Call, url: URL, refresh: boolean): Promise<Response> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (this.#auth) headers["Authorization"] = `Bearer ${await this.#auth.token(refresh)}`;
    let body: string | undefined;
    if (call.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(call.body);
    }
    return this.#fetch(url, {
      method: call.method,
      headers,
      body,
      signal: AbortSignal.timeout(call.timeoutMs ?? this.#timeoutMs),
    });
  }

  // -- instances --------------------------------------------------------------------

  /** Start a governed instance; the same `idempotencyKey` returns the same one.
   *  `callbackUrl`: where a signed webhook goes when one of its requests resolves
   *  (https://, or http:// to a loopback address; see `verifyWebhook`). */
  startInstance(
    workflowId: string,
    owningTeamId: string,
    triggerContext: Record<string, unknown> = {},
    options: { workflowVersion?: number; idempotencyKey?: string; callbackUrl?: string } = {},
  ): Promise<InstanceView> {
    const body: StartInstanceRequest = {
      workflow_id: workflowId,
      owning_team_id: owningTeamId,
      trigger_context: triggerContext,
      idempotency_key: options.idempotencyKey ?? idempotencyKey(),
    };
    if (options.workflowVersion !== undefined) body.workflow_version = options.workflowVersion;
    if (options.callbackUrl !== undefined) body.callback_url = options.callbackUrl;
    return this.#run({ method: "POST", path: "/v1/instances", body });
  }

  getInstance(instanceId: string): Promise<InstanceView> {
    return this.#run({ method: "GET", path: instancePath(instanceId) });
  }

  listInstances(
    options: { state?: State; team?: string; workflow?: string; pageSize?: number; pageToken?: string } = {},
  ): Promise<InstancePage> {
    const params: Record<string, string | number> = { page_size: options.pageSize ?? 50 };
    if (options.state) params["state"] = options.state;
    if (options.team) params["team"] = options.team;
    if (options.workflow) params["workflow"] = options.workflow;
    if (options.pageToken) params["page_token"] = options.pageToken;
    return this.#run({ method: "GET", path: "/v1/instances", params });
  }

  cancel(instanceId: string, reason?: string): Promise<InstanceView> {
    return this.#finish(instanceId, "cancel", reason);
  }
  complete(instanceId: string, reason?: string): Promise<InstanceView> {
    return this.#finish(instanceId, "complete", reason);
  }
  fail(instanceId: string, reason?: string): Promise<InstanceView> {
    return this.#finish(instanceId, "fail", reason);
  }

  #finish(instanceId: string, verb: string, reason?: string): Promise<InstanceView> {
    const body: FinishRequest = { idempotency_key: idempotencyKey() };
    if (reason !== undefined) body.reason = reason;
    return this.#run({ method: "POST", path: instancePath(instanceId, verb), body });
  }

  // -- agent protocol ---------------------------------------------------------------

  /** Ask before a governed step. Prefer `governedStep`, which also checks the grant. */
  authorize(
    instanceId: string,
    stepId: string,
    options: { action?: string; arguments?: Record<string, unknown>; context?: Record<string, unknown> } = {},
  ): Promise<AuthorizeResult> {
    const body: AuthorizeRequest = {
      action: options.action ?? "",
      arguments: options.arguments ?? {},
      context: options.context ?? {},
      idempotency_key: idempotencyKey(),
    };
    return this.#run({ method: "POST", path: instancePath(instanceId, "steps", seg(stepId), "authorize"), body });
  }

  /** The human request; with `wait` (<= 60 s) the server holds the call until decided. */
  getRequest(instanceId: string, requestId: string, options: { wait?: number } = {}): Promise<HumanRequest> {
    const wait = Math.min(Math.max(options.wait ?? 0, 0), MAX_SERVER_WAIT);
    const call: Call = { method: "GET", path: instancePath(instanceId, "requests", seg(requestId)) };
    if (wait > 0) {
      call.params = { wait };
      call.timeoutMs = wait * 1000 + WAIT_SLACK_MS;
    }
    return this.#run(call);
  }

  /** Long-poll until the request is decided and its outcome applied.
   *  @throws DecisionTimeout still pending after `wait` seconds. */
  async waitForDecision(
    instanceId: string,
    requestId: string,
    options: { wait?: number } = {},
  ): Promise<HumanRequest> {
    const wait = options.wait ?? DEFAULT_DECISION_WAIT;
    const deadline = Date.now() + wait * 1000;
    for (;;) {
      const remaining = (deadline - Date.now()) / 1000;
      const poll = Math.max(0, Math.min(this.pollWait, remaining));
      const asked = Date.now();
      let request: HumanRequest;
      try {
        request = await this.getRequest(instanceId, requestId, { wait: poll });
      } catch (err) {
        // A poll is a read: ride out a restarting API until our own deadline.
        if ((err instanceof TransportError || err instanceof Unavailable) && Date.now() + RETRY_PAUSE_MS < deadline) {
          await sleep(RETRY_PAUSE_MS);
          continue;
        }
        throw err;
      }
      if (settled(request)) return request;
      const now = Date.now();
      if (now >= deadline) throw new DecisionTimeout(`no decision on ${requestId} within ${wait}s`, request);
      // Answered early (a proxy cutting long polls short?): do not hammer the API.
      if (now - asked < MIN_POLL_MS) await sleep(Math.min(MIN_POLL_MS, deadline - now));
    }
  }

  /** Report a step event. A governed STEP_STARTED needs the grant id and the digest. */
  report(
    instanceId: string,
    kind: AgentEventKind,
    options: { stepId?: string; grantId?: string; argsDigest?: string; detail?: Record<string, unknown>; cost?: Partial<Cost> } = {},
  ): Promise<AgentEventResult> {
    const body: EventRequest = { kind, detail: options.detail ?? {}, idempotency_key: idempotencyKey() };
    if (options.stepId !== undefined) body.step_id = options.stepId;
    if (options.grantId !== undefined) body.grant_id = options.grantId;
    if (options.argsDigest !== undefined) body.args_digest = options.argsDigest;
    if (options.cost !== undefined) body.cost = options.cost;
    return this.#run({ method: "POST", path: instancePath(instanceId, "events"), body });
  }

  /** Add to the instance's cost; the server keeps the totals. */
  reportCost(
    instanceId: string,
    cost: { tokens?: number; money?: number; currency?: string; wall_time_seconds?: number },
  ): Promise<AgentEventResult> {
    const full: Cost = { tokens: 0, money: 0, currency: "USD", wall_time_seconds: 0, ...cost };
    return this.report(instanceId, "COST", { cost: full });
  }

  // -- human decisions --------------------------------------------------------------

  /** APPROVE, REJECT or OVERRIDE the request the human was shown, and only that.
   *  Pass the request as it was shown (a `HumanRequest` or an inbox item: its id and
   *  `args_digest` are sent), or its id with `seenArgsDigest` (the digest shown). A request
   *  whose arguments changed since is refused (`Conflict`, reason `stale` or `superseded`).
   *  The SDK never reads the current digest for you: that would bind the decision to
   *  arguments nobody saw. Pass your own `idempotencyKey` to make retries of one decision
   *  safe across runs.
   *  @throws TypeError for a request id without `seenArgsDigest`. */
  decide(instanceId: string, request: ShownRequest, decisionType: DecisionType, options?: DecideOptions): Promise<DecisionResult>;
  decide(
    instanceId: string,
    requestId: string,
    decisionType: DecisionType,
    options: DecideOptions & { seenArgsDigest: string },
  ): Promise<DecisionResult>;
  async decide(
    instanceId: string,
    request: ShownRequest | string,
    decisionType: DecisionType,
    options: DecideOptions = {},
  ): Promise<DecisionResult> {
    const [requestId, seen] = shownAs(request, options.seenArgsDigest);
    const body: DecisionRequest = {
      request_id: requestId,
      seen_args_digest: seen,
      decision_type: decisionType,
      idempotency_key: options.idempotencyKey ?? idempotencyKey(),
    };
    if (options.role !== undefined) body.role = options.role;
    if (options.justification !== undefined) body.justification = options.justification;
    if (options.contextDelta !== undefined) body.context_delta = options.contextDelta;
    return this.#run({ method: "POST", path: instancePath(instanceId, "decisions"), body });
  }

  /** Open human requests, most urgent first. `pendingForMe`: only those the caller may
   *  decide now (its teams, its roles, not kept from it by separation of duties). */
  inbox(options: { pendingForMe?: boolean; team?: string; limit?: number } = {}): Promise<InboxPage> {
    const params: Record<string, string | number> = {};
    if (options.pendingForMe) params["pending_for"] = "me";
    if (options.team) params["team"] = options.team;
    if (options.limit !== undefined) params["limit"] = options.limit;
    return this.#run({ method: "GET", path: "/v1/requests", params });
  }

  // -- audit ------------------------------------------------------------------------

  /** The instance's audit events, with the exact hashed bytes of each. */
  getAuditLog(instanceId: string): Promise<AuditTrailView> {
    return this.#run({ method: "GET", path: `/v1/audit/instances/${seg(instanceId)}` });
  }

  /** The server's full verification (chain, checkpoints, signatures). Check the chain
   *  yourself too with `verifyAuditChain(await getAuditLog(id))`. */
  verifyAudit(instanceId: string): Promise<VerifyView> {
    return this.#run({ method: "GET", path: `/v1/audit/instances/${seg(instanceId)}/verify` });
  }

  // -- governed steps ---------------------------------------------------------------

  /** Authorize, wait for a human if needed, and check the grant. Nothing is started.
   *  While the plane answers NOT_READY (capacity, rate, budget, fair share), waits the
   *  server's `retry_after` and asks again, up to `wait` seconds in all
   *  (`StepNotReady` after that). With `stopAtPending`, a step that needs a human
   *  returns a `PendingStep` at once. */
  prepareStep(instanceId: string, stepId: string, options: StepOptions & { stopAtPending: true }): Promise<GovernedStep | PendingStep>;
  prepareStep(instanceId: string, stepId: string, options?: StepOptions): Promise<GovernedStep>;
  async prepareStep(
    instanceId: string,
    stepId: string,
    options: StepOptions & { stopAtPending?: boolean } = {},
  ): Promise<GovernedStep | PendingStep> {
    const action = options.action || stepId; // the server's default, so both digests agree
    const requested = plain(options.arguments ?? {});
    const wait = options.wait ?? DEFAULT_DECISION_WAIT;
    const deadline = Date.now() + wait * 1000;
    let result: AuthorizeResult;
    for (;;) {
      result = await this.authorize(instanceId, stepId, {
        action,
        arguments: requested,
        context: options.context ?? {},
      });
      const pause = notReadyPause(result);
      if (pause === undefined) break;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        const why = result.reason ?? undefined;
        const hint = result.retry_after ?? undefined;
        throw new StepNotReady(
          `step ${stepId} still not ready after ${wait}s (${why ?? "no reason given"}; ` +
            `the server suggests asking again in ${hint ?? "?"}s)`,
          why,
          hint,
        );
      }
      await options.onNotReady?.(result, pause);
      await sleep(Math.min(pause * 1000, remaining));
    }
    let request = requestToWaitFor(result);
    if (request !== undefined && !settled(request)) {
      if (options.stopAtPending) {
        const resume: ResumeToken = {
          v: 1,
          instance_id: instanceId,
          request_id: request.request_id,
          step_id: stepId,
          action,
          args_digest: argsDigest(action, requested),
        };
        return { pending: true, request, resume };
      }
      await options.onPending?.(request);
      request = await this.waitForDecision(instanceId, request.request_id, { wait });
    }
    const decision = request !== undefined ? await this.#refusingDecision(instanceId, request) : undefined;
    return bind(instanceId, stepId, action, requested, result, request, decision);
  }

  /** The decision that refused `request` (who, in which role, why), read from the
   *  instance for the refusal's message; undefined when there is none or it cannot be
   *  read (the refusal stands either way). */
  async #refusingDecision(instanceId: string, request: HumanRequest): Promise<Decision | undefined> {
    if (!refused(request) || request.status === "SUPERSEDED") return undefined;
    try {
      const view = await this.getInstance(instanceId);
      const mine = view.decisions.filter((d) => d.request_id === request.request_id);
      return mine.find((d) => d.decision_id === request.decision_id) ?? mine.at(-1);
    } catch {
      return undefined;
    }
  }

  /** Pick up a step stopped at PENDING; `wait` (seconds, default 0) long-polls for the
   *  decision. The arguments to run are checked against the token's digest: the ones you
   *  pass (the same you asked with), else the request's own (an approval keeps them as
   *  asked; an override replaces them, and its grant is checked instead).
   *  @throws DecisionTimeout when still undecided. */
  async resumeStep(
    token: ResumeToken,
    options: { wait?: number; arguments?: Record<string, unknown> } = {},
  ): Promise<GovernedStep> {
    const request = options.wait
      ? await this.waitForDecision(token.instance_id, token.request_id, { wait: options.wait })
      : await this.getRequest(token.instance_id, token.request_id);
    if (!settled(request)) throw new DecisionTimeout(`request ${token.request_id} is still pending`, request);
    const requested = plain(options.arguments ?? request.arguments);
    const checkable = options.arguments !== undefined || request.status !== "OVERRIDDEN";
    if (
      request.step_id !== token.step_id ||
      (checkable && argsDigest(token.action, requested) !== token.args_digest)
    ) {
      throw new DigestMismatch(`request ${token.request_id} is not the one this token was issued for`, request, "resume_mismatch");
    }
    const decision = await this.#refusingDecision(token.instance_id, request);
    return bind(token.instance_id, token.step_id, token.action, requested, undefined, request, decision);
  }

  /** Run a governed step with exactly the arguments a grant covers: authorize, wait for
   *  a human if needed, check the grant locally, report STEP_STARTED, run `body`, then
   *  report `step.cost` if set and STEP_COMPLETED, or STEP_FAILED (with the error's type)
   *  and rethrow. A refusal (StepRefused) means `body` never ran and nothing started. */
  async governedStep<T>(
    instanceId: string,
    stepId: string,
    options: StepOptions,
    body: (step: GovernedStep) => T | Promise<T>,
  ): Promise<T> {
    return this.runStep(await this.prepareStep(instanceId, stepId, options), body);
  }

  /** Start a prepared (or resumed) step, run `body`, and report its end. */
  async runStep<T>(step: GovernedStep, body: (step: GovernedStep) => T | Promise<T>): Promise<T> {
    await this.report(step.instanceId, "STEP_STARTED", {
      stepId: step.stepId,
      grantId: step.grant.grant_id,
      argsDigest: step.argsDigest,
    });
    let value: T;
    try {
      value = await body(step);
    } catch (err) {
      try {
        if (step.cost) await this.reportCost(step.instanceId, step.cost);
        await this.report(step.instanceId, "STEP_FAILED", { stepId: step.stepId, detail: failureDetail(err) });
      } catch {
        // the step's own error matters more than the failed report
      }
      throw err;
    }
    if (step.cost) await this.reportCost(step.instanceId, step.cost);
    await this.report(step.instanceId, "STEP_COMPLETED", { stepId: step.stepId, detail: step.detail });
    return value;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

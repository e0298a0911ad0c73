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
  BatchDecisionItem,
  BatchDecisionRequest,
  BatchDecisionResult,
  BreakGlassView,
  Cost,
  DecisionRequest,
  DecisionResult,
  Decision,
  DecisionType,
  Delegation,
  DelegationSet,
  EventRequest,
  FinishRequest,
  Halt,
  HaltRaise,
  HaltScope,
  HumanRequest,
  InboxPage,
  MyDelegations,
  StandingAsk,
  StandingGrant,
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
  /** With APPROVE, also give a standing grant: a pattern that only narrows this request's
   *  arguments, a TTL and a use count (bounded by the step's policy). A pattern that
   *  would widen the request is refused (`InvalidInput`, `standing_pattern_widens`). */
  standing?: StandingAsk;
  /** As a deputy: the human whose delegation in effect you decide under; both names
   *  are recorded. */
  onBehalfOf?: string;
}

/** A request of a batch as the human was shown it: an inbox item (it names its
 *  instance), a `BatchDecisionItem`, or [instance id, the request shown]. */
export type BatchShown =
  | (ShownRequest & { instance_id: string })
  | BatchDecisionItem
  | readonly [string, ShownRequest];

function batchItem(shown: BatchShown): BatchDecisionItem {
  if (Array.isArray(shown)) {
    const [instanceId, request] = shown as readonly [string, ShownRequest];
    return { instance_id: instanceId, request_id: request.request_id, seen_args_digest: request.args_digest };
  }
  const item = shown as (ShownRequest & { instance_id: string }) | BatchDecisionItem;
  const digest = "seen_args_digest" in item ? item.seen_args_digest : item.args_digest;
  return { instance_id: item.instance_id, request_id: item.request_id, seen_args_digest: digest };
}

/** A time of a delegation window: a `Date`, or an RFC 3339 string with its offset. */
function rfc3339(at: Date | string): string {
  return typeof at === "string" ? at : at.toISOString();
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
  method: "GET" | "POST" | "PUT" | "DELETE";
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
    if (options.standing !== undefined) body.standing = options.standing;
    if (options.onBehalfOf !== undefined) body.on_behalf_of = options.onBehalfOf;
    return this.#run({ method: "POST", path: instancePath(instanceId, "decisions"), body });
  }

  /** APPROVE or REJECT several requests at once (at most 50), each exactly as if decided
   *  alone (its quorum, separation of duties, digest, staleness). Pass each request as the
   *  human was shown it (an inbox item, or [instance id, request]). The result lists every
   *  item's outcome in order (HTTP 200 when all were decided, 207 when any was refused);
   *  refusals do not throw, the other requests were decided: `batchRefusals(result)` gives
   *  their typed errors. A batch refused as a whole throws (`InvalidInput`
   *  `batch_too_large`, `Conflict` `duplicate_in_batch`, ...). */
  decideBatch(
    requests: readonly BatchShown[],
    decisionType: "APPROVE" | "REJECT",
    options: { role?: string; justification?: string; idempotencyKey?: string } = {},
  ): Promise<BatchDecisionResult> {
    const body: BatchDecisionRequest = {
      decision_type: decisionType,
      items: requests.map(batchItem),
      idempotency_key: options.idempotencyKey ?? idempotencyKey(),
    };
    if (options.role !== undefined) body.role = options.role;
    if (options.justification !== undefined) body.justification = options.justification;
    return this.#run({ method: "POST", path: "/v1/decisions:batch", body });
  }

  // -- fleet governance: halts, break-glass, standing grants, deputies ---------------

  /** Halt everything in `scope` (one of `{team}`, `{agent}`, `{workflow, version?}`,
   *  `{deployment: true}`): new instances, `authorize` calls and step starts in it are
   *  refused with `Halted` until the halt is lifted. `liftByAnother`: only someone other
   *  than the raiser may lift it. */
  raiseHalt(scope: HaltScope, reason: string, options: { liftByAnother?: boolean } = {}): Promise<Halt> {
    const body: HaltRaise = { scope, reason };
    if (options.liftByAnother !== undefined) body.lift_by_another = options.liftByAnother;
    return this.#run({ method: "POST", path: "/v1/halts", body });
  }

  /** Halts in effect (with `includeLifted`, every halt), oldest first, with who raised them. */
  listHalts(options: { includeLifted?: boolean } = {}): Promise<Halt[]> {
    const params: Record<string, string> = options.includeLifted ? { include_lifted: "true" } : {};
    return this.#run({ method: "GET", path: "/v1/halts", params });
  }

  getHalt(haltId: string): Promise<Halt> {
    return this.#run({ method: "GET", path: `/v1/halts/${seg(haltId)}` });
  }

  /** Lift a halt. Where the deployment lifts by a quorum, each call records one human's
   *  approval (`lift_approvals`) and the halt stays active until the quorum is met. */
  liftHalt(haltId: string, reason: string): Promise<Halt> {
    return this.#run({ method: "POST", path: `/v1/halts/${seg(haltId)}:lift`, body: { reason } });
  }

  /** Staged recovery: let a narrower `scope` inside the halt run again while the rest
   *  stays halted. */
  exemptFromHalt(haltId: string, scope: HaltScope, reason: string): Promise<Halt> {
    return this.#run({ method: "POST", path: `/v1/halts/${seg(haltId)}:exempt`, body: { scope, reason } });
  }

  /** Ask for a break-glass: once its quorum approves, `scope` passes policies' human
   *  requirement for `ttl` (e.g. "30m", or seconds), never extended. */
  openBreakGlass(scope: HaltScope, ttl: string | number, reason: string): Promise<BreakGlassView> {
    return this.#run({ method: "POST", path: "/v1/break-glass", body: { scope, ttl, reason } });
  }

  /** One human's approval of a break-glass; the approval completing its quorum opens it. */
  approveBreakGlass(breakGlassId: string, reason: string): Promise<BreakGlassView> {
    return this.#run({ method: "POST", path: `/v1/break-glass/${seg(breakGlassId)}:approve`, body: { reason } });
  }

  listBreakGlass(options: { includeEnded?: boolean } = {}): Promise<BreakGlassView[]> {
    const params: Record<string, string> = options.includeEnded ? { include_ended: "true" } : {};
    return this.#run({ method: "GET", path: "/v1/break-glass", params });
  }

  /** Standing grants of the teams the caller may read, oldest first. */
  listStandingGrants(options: { team?: string; usableOnly?: boolean } = {}): Promise<StandingGrant[]> {
    const params: Record<string, string> = { usable_only: options.usableOnly ? "true" : "false" };
    if (options.team !== undefined) params["team"] = options.team;
    return this.#run({ method: "GET", path: "/v1/standing-grants", params });
  }

  /** Revoke a standing grant at once (its approver, or a supervisor of its team). */
  revokeStandingGrant(standingId: string, reason: string): Promise<StandingGrant> {
    return this.#run({ method: "POST", path: `/v1/standing-grants/${seg(standingId)}:revoke`, body: { reason } });
  }

  /** Delegate your decision roles to `deputy` until `endsAt` (from `startsAt`, default
   *  now), replacing your current delegation. `roles` defaults to every role your token
   *  holds; roles delegated to you cannot be passed on (`Forbidden`, `delegation_chain`).
   *  A string time needs its offset (RFC 3339). */
  delegate(
    deputy: string,
    endsAt: Date | string,
    options: { roles?: string[]; startsAt?: Date | string; reason?: string } = {},
  ): Promise<Delegation> {
    const body: DelegationSet = { deputy, ends_at: rfc3339(endsAt) };
    if (options.roles !== undefined) body.roles = options.roles;
    if (options.startsAt !== undefined) body.starts_at = rfc3339(options.startsAt);
    if (options.reason !== undefined) body.reason = options.reason;
    return this.#run({ method: "PUT", path: "/v1/delegations/me", body });
  }

  /** The delegation you gave (in effect or upcoming) and those naming you deputy. */
  myDelegations(): Promise<MyDelegations> {
    return this.#run({ method: "GET", path: "/v1/delegations/me" });
  }

  /** End your delegation now (`NotFound`, reason `no_delegation`, if none). */
  endDelegation(): Promise<Delegation> {
    return this.#run({ method: "DELETE", path: "/v1/delegations/me" });
  }

  /** Open human requests, most urgent first. `pendingForMe`: only those the caller may
   *  decide now (its teams, its roles, not kept from it by separation of duties). */
  inbox(
    options: { pendingForMe?: boolean; team?: string; limit?: number; pageToken?: string } = {},
  ): Promise<InboxPage> {
    const params: Record<string, string | number> = {};
    if (options.pendingForMe) params["pending_for"] = "me";
    if (options.team) params["team"] = options.team;
    if (options.limit !== undefined) params["limit"] = options.limit;
    if (options.pageToken) params["page_token"] = options.pageToken;
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

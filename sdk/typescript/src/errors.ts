// The SDK's one error tree, as in the Python SDK (sdk/python/src/gantral_sdk/_errors.py):
//
//   GantralError              every SDK error; `reason` is machine-readable
//   ├── TransportError        the API could not be reached
//   ├── APIError              the API refused: status, code, reason, details
//   │   ├── InvalidInput      422 / 400
//   │   ├── Unauthenticated   401
//   │   ├── Forbidden         403
//   │   ├── NotFound          404
//   │   ├── Conflict          409 (already_decided, grant_reused, stale, ...)
//   │   │   └── Halted        409 `halted`: a halt (the kill switch) covers the call
//   │   └── Unavailable       503 and any other 5xx
//   └── StepRefused           a governed step must not run; `request` and `decision` if any
//       ├── StepRejected, StepExpired, StepCancelled, DecisionTimeout, DigestMismatch
//       └── StepNotReady      NOT_READY (capacity, rate, budget) for longer than `wait`
import type { BatchDecisionResult, Decision, HaltScope, HumanRequest } from "./types.gen.js";

export class GantralError extends Error {
  readonly reason: string;
  constructor(message: string, reason: string) {
    super(message);
    this.name = new.target.name;
    this.reason = reason;
  }
}

export class TransportError extends GantralError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "transport");
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

export interface APIErrorInit {
  status: number;
  code?: string | undefined;
  reason?: string | undefined;
  details?: Record<string, unknown> | undefined;
}

export class APIError extends GantralError {
  static readonly code: string = "error";
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;
  constructor(message: string, init: APIErrorInit) {
    const fallback = (new.target as typeof APIError).code;
    super(message, init.reason ?? init.code ?? fallback);
    this.status = init.status;
    this.code = init.code ?? fallback;
    this.details = init.details ?? {};
  }
  override toString(): string {
    return `${this.status} ${this.code}/${this.reason}: ${this.message}`;
  }
}

export class InvalidInput extends APIError {
  static override readonly code = "invalid_input";
}
export class NotFound extends APIError {
  static override readonly code = "not_found";
}
export class Conflict extends APIError {
  static override readonly code = "conflict";
}
/** A halt (the kill switch) covers the call: nothing ran. Retrying is pointless until it
 *  is lifted; `haltId`, `haltReason` and `scope` say which halt, why and what it covers.
 *  Thrown by any call the halt refuses (`startInstance`, `authorize`, a governed step, ...). */
export class Halted extends Conflict {
  get haltId(): string | undefined {
    const id = this.details["halt_id"];
    return typeof id === "string" ? id : undefined;
  }
  get haltReason(): string | undefined {
    const why = this.details["halt_reason"];
    return typeof why === "string" ? why : undefined;
  }
  /** What the halt covers: one of `{team}`, `{agent}`, `{workflow, version?}`, `{deployment: true}`. */
  get scope(): HaltScope | undefined {
    const scope = this.details["scope"];
    return scope && typeof scope === "object" && !Array.isArray(scope) ? (scope as HaltScope) : undefined;
  }
}
export class Unauthenticated extends APIError {
  static override readonly code = "unauthenticated";
}
export class Forbidden extends APIError {
  static override readonly code = "forbidden";
}
export class Unavailable extends APIError {
  static override readonly code = "unavailable";
}

export class StepRefused extends GantralError {
  readonly request: HumanRequest | undefined;
  /** The human decision that refused the step (who, in which role, and their
   *  justification), when there is one and the instance could be read. */
  readonly decision: Decision | undefined;
  constructor(message: string, reason = "refused", request?: HumanRequest, decision?: Decision) {
    super(message, reason);
    this.request = request;
    this.decision = decision;
  }
}
/** A human rejected the step (or the policy's timeout outcome is REJECT). */
export class StepRejected extends StepRefused {
  constructor(message: string, request?: HumanRequest, decision?: Decision) {
    super(message, "rejected", request, decision);
  }
}
/** Nobody decided before the policy's last deadline. */
export class StepExpired extends StepRefused {
  constructor(message: string, request?: HumanRequest, decision?: Decision) {
    super(message, "expired", request, decision);
  }
}
/** Cancelled with its instance, or superseded by a newer request. */
export class StepCancelled extends StepRefused {
  constructor(message: string, request?: HumanRequest, decision?: Decision) {
    super(message, "cancelled", request, decision);
  }
}
/** The SDK stopped waiting; the request stays open and may still be decided. */
export class DecisionTimeout extends StepRefused {
  constructor(message: string, request?: HumanRequest) {
    super(message, "decision_timeout", request);
  }
}
/** The grant does not cover the arguments the agent would run: refused locally. */
export class DigestMismatch extends StepRefused {
  constructor(message: string, request?: HumanRequest, reason = "args_digest_mismatch") {
    super(message, reason, request);
  }
}
/** The plane answered NOT_READY (capacity, rate, budget, fair share) for longer than the
 *  step's `wait`. Nothing ran and nothing was reported; asking again later is safe. */
export class StepNotReady extends StepRefused {
  /** The server's last reason: `concurrency`, `rate_limit`, `budget`, ... */
  readonly why: string | undefined;
  /** The server's last hint, in seconds, of when to ask again. */
  readonly retryAfter: number | undefined;
  constructor(message: string, why?: string, retryAfter?: number) {
    super(message, "not_ready");
    this.why = why;
    this.retryAfter = retryAfter;
  }
}

const BY_CODE: Record<string, typeof APIError> = Object.fromEntries(
  [InvalidInput, NotFound, Conflict, Unauthenticated, Forbidden, Unavailable].map((c) => [
    c.code,
    c,
  ]),
);
const BY_STATUS: Record<number, typeof APIError> = {
  400: InvalidInput,
  422: InvalidInput,
  404: NotFound,
  409: Conflict,
  401: Unauthenticated,
  403: Forbidden,
};

/** The typed error for a non-2xx answer, keeping the server's code and reason. The
 *  body's `error` code picks the class; the status is the fallback for foreign bodies. */
export function errorFromResponse(status: number, statusText: string, text: string): APIError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: a proxy's error page, say
  }
  return errorFromBody(status, body, statusText || "request failed");
}

/** The typed error for an error body answered with `status` (a whole response's, or one
 *  refused item's of a batch decision). */
export function errorFromBody(status: number, parsed: unknown, fallback = "request failed"): APIError {
  const body: Record<string, unknown> =
    parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
  const code = str(body["error"]);
  const details = body["details"];
  const byCode = code !== undefined ? BY_CODE[code] : undefined;
  const cls =
    byCode === Conflict && body["reason"] === "halted"
      ? Halted
      : (byCode ?? (status >= 500 ? Unavailable : (BY_STATUS[status] ?? APIError)));
  return new cls(str(body["message"]) ?? fallback, {
    status,
    code,
    reason: str(body["reason"]),
    details:
      details && typeof details === "object" && !Array.isArray(details)
        ? { ...(details as Record<string, unknown>) }
        : undefined,
  });
}

/** Each refused item of a batch decision as the typed error it would have thrown alone
 *  (`Conflict` with reason `stale`, `Forbidden`, ...); its `details` name the request
 *  (`instance_id`, `request_id`). Empty when every item was decided. */
export function batchRefusals(result: BatchDecisionResult): APIError[] {
  const refused: APIError[] = [];
  for (const item of result.items) {
    if (item.error == null) continue;
    const error = errorFromBody(item.status, item.error);
    error.details["instance_id"] = item.instance_id;
    error.details["request_id"] = item.request_id;
    refused.push(error);
  }
  return refused;
}

// RFC 8785 (JCS) canonical JSON and the argument digest a grant binds to:
// "sha256:" + hex(SHA-256(JCS({action, arguments}))), as the server's
// gantral.domain.digest.args_digest. Known answers: specs/digest-vectors.json.
import { createHash } from "node:crypto";

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** The canonical JSON text of a JSON value (UTF-8 encode it to hash it). */
export function canonicalize(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "string":
      // JCS string escaping is exactly ECMAScript's JSON.stringify.
      return JSON.stringify(value);
    case "number":
      return canonicalNumber(value);
    case "object":
      if (Array.isArray(value)) return `[${value.map(canonicalize).join(",")}]`;
      return canonicalObject(value as Record<string, unknown>);
    default:
      throw new TypeError(`not a JSON value: ${typeof value}`);
  }
}

function canonicalNumber(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`not a JSON number: ${n}`);
  // JSON.stringify writes integers below 1e21 as integers; the server parses those as
  // integers and refuses any beyond 2^53 - 1, so refuse them here as well.
  if (Number.isInteger(n) && Math.abs(n) > MAX_SAFE && Math.abs(n) < 1e21) {
    throw new RangeError(`${n} exceeds the safe integer range of JSON numbers`);
  }
  return String(n); // ECMAScript Number-to-String is JCS's number form; -0 is "0".
}

function canonicalObject(obj: Record<string, unknown>): string {
  // Default sort compares UTF-16 code units, which is what JCS asks for.
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalize(obj[k])}`).join(",")}}`;
}

/** The canonical UTF-8 bytes of a JSON value. */
export function canonicalBytes(value: unknown): Uint8Array {
  return Buffer.from(canonicalize(value), "utf8");
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The digest an approval binds to: the action together with its exact arguments. */
export function argsDigest(action: string, args: Record<string, unknown>): string {
  return "sha256:" + sha256Hex(canonicalBytes({ action, arguments: args }));
}

/** A JSON-plain deep copy: exactly what the server receives, so later mutation of the
 *  caller's object cannot change what runs, and the local digest matches the server's. */
export function plain<T extends Record<string, unknown>>(value: T): Record<string, unknown> {
  const copy: unknown = JSON.parse(JSON.stringify(value));
  if (copy === null || typeof copy !== "object" || Array.isArray(copy)) {
    throw new TypeError("arguments must be a JSON object");
  }
  return copy as Record<string, unknown>;
}

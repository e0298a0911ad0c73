// Local re-verification of an instance's audit chain (what the server stored and
// hashed), independent of the server's own /verify: seqs 1..n, each link to the
// previous hash, each hash = SHA-256(prev_hash bytes || body bytes), each body in
// canonical form and naming its own instance, seq and type.
import { createHash } from "node:crypto";
import { canonicalize } from "./jcs.js";
import type { AuditTrailView } from "./types.gen.js";

export interface ChainProblem {
  code: string;
  message: string;
  seq: number;
}

const GENESIS = "0".repeat(64);

export function verifyAuditChain(view: AuditTrailView): ChainProblem[] {
  const problems: ChainProblem[] = [];
  let prev = GENESIS;
  let expected = 1;
  for (const event of view.events) {
    const add = (code: string, message: string): void => {
      problems.push({ code, message, seq: event.seq });
    };
    if (event.seq !== expected) add("missing_event", `expected seq ${expected}, found ${event.seq}`);
    if (event.prev_hash !== prev) add("broken_link", "prev_hash is not the hash of the previous event");
    const hash = createHash("sha256")
      .update(Buffer.from(event.prev_hash, "hex"))
      .update(Buffer.from(event.body, "utf8"))
      .digest("hex");
    if (hash !== event.hash) add("hash_mismatch", "hash does not match the stored body");
    let body: Record<string, unknown> | undefined;
    try {
      body = JSON.parse(event.body) as Record<string, unknown>;
    } catch {
      add("bad_body", "the body is not JSON");
    }
    if (body !== undefined) {
      if (canonicalize(body) !== event.body) add("not_canonical", "the body is not canonical JSON");
      if (body["instance_id"] !== view.instance_id || body["seq"] !== event.seq || body["type"] !== event.type) {
        add("body_mismatch", "the body names another instance, seq or type");
      }
    }
    prev = event.hash;
    expected = event.seq + 1;
  }
  if (view.head !== null && view.events.length > 0 && view.head !== prev) {
    problems.push({ code: "head_mismatch", message: "head is not the last event's hash", seq: expected - 1 });
  }
  return problems;
}

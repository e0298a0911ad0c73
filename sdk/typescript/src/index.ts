// A thin TypeScript client for the Gantral API. Every decision is the server's; a
// governed step computes the RFC 8785 digest of the arguments it will run locally and
// refuses to start if the grant does not cover exactly those arguments.
export * from "./auth.js";
export * from "./audit.js";
export * from "./client.js";
export * from "./errors.js";
export * from "./governed.js";
export * from "./jcs.js";
export * from "./webhooks.js";
export type * from "./types.gen.js";
export {
  AgentEventKindValues,
  AuthorizeOutcomeValues,
  DecisionTypeValues,
  RequestStatusValues,
  StateValues,
} from "./types.gen.js";

// Bearer-token authentication: a fixed token or provider, or an OAuth
// client-credentials grant cached and refreshed before expiry (and once more when the
// API answers 401).
import { errorFromResponse, TransportError } from "./errors.js";

export interface Auth {
  /** The token to send. `refresh` asks for a new one (the API answered 401). */
  token(refresh: boolean): Promise<string>;
  /** Whether asking again after a 401 can help. */
  readonly refreshable: boolean;
}

export type TokenProvider = () => string | Promise<string>;

/** `Authorization: Bearer <token>`: a fixed token, or a provider called before each
 *  request (it should cache and refresh its token itself). */
export class BearerToken implements Auth {
  readonly refreshable = false;
  readonly #token: string | TokenProvider;
  constructor(token: string | TokenProvider) {
    this.#token = token;
  }
  async token(): Promise<string> {
    return typeof this.#token === "function" ? await this.#token() : this.#token;
  }
}

export interface ClientCredentialsOptions {
  scope?: string;
  audience?: string;
  /** Refresh this many seconds before `expires_in` runs out (default 30). */
  leewaySeconds?: number;
  fetch?: typeof fetch;
}

/** An agent's OAuth client-credentials grant (`client_secret_basic`). */
export class ClientCredentials implements Auth {
  readonly refreshable = true;
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly #secret: string;
  readonly #options: ClientCredentialsOptions;
  #token: string | undefined;
  #expiresAt = 0;
  #inFlight: Promise<string> | undefined;

  constructor(
    tokenUrl: string,
    clientId: string,
    clientSecret: string,
    options: ClientCredentialsOptions = {},
  ) {
    this.tokenUrl = tokenUrl;
    this.clientId = clientId;
    this.#secret = clientSecret;
    this.#options = options;
  }

  /** Never shows the secret. */
  toJSON(): Record<string, string> {
    return { tokenUrl: this.tokenUrl, clientId: this.clientId };
  }

  async token(refresh: boolean): Promise<string> {
    if (!refresh && this.#token !== undefined && Date.now() < this.#expiresAt) {
      return this.#token;
    }
    // One fetch at a time: concurrent calls share it.
    this.#inFlight ??= this.#fetchToken().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #fetchToken(): Promise<string> {
    const form = new URLSearchParams({ grant_type: "client_credentials" });
    if (this.#options.scope) form.set("scope", this.#options.scope);
    if (this.#options.audience) form.set("audience", this.#options.audience);
    const basic = Buffer.from(
      `${encodeURIComponent(this.clientId)}:${encodeURIComponent(this.#secret)}`,
    ).toString("base64");
    let response: Response;
    try {
      response = await (this.#options.fetch ?? fetch)(this.tokenUrl, {
        method: "POST",
        headers: {
          Authorization: `Basic ${basic}`,
          "Content-Type": "application/x-www-form-urlencoded",
        },
        body: form.toString(),
      });
    } catch (err) {
      throw new TransportError(`POST ${this.tokenUrl}: ${String(err)}`, { cause: err });
    }
    const text = await response.text();
    if (!response.ok) throw errorFromResponse(response.status, response.statusText, text);
    const body = JSON.parse(text) as { access_token?: unknown; expires_in?: unknown };
    if (typeof body.access_token !== "string") {
      throw new Error("the token endpoint answered without an access_token");
    }
    const expiresIn = typeof body.expires_in === "number" ? body.expires_in : 300;
    const leeway = this.#options.leewaySeconds ?? 30;
    this.#token = body.access_token;
    this.#expiresAt = Date.now() + (expiresIn - leeway) * 1000;
    return this.#token;
  }
}

/** What every HTTP backend is told: where the upstream is, how to authenticate, and its limits. */
export interface UpstreamOptions {
  name: string;
  /** The upstream's base URL; each backend says which path it appends. */
  baseUrl: string;
  /** The operator's key for the upstream (never the client's); each backend says which header carries it. */
  apiKey?: string;
  /** Extra headers for every call (e.g. for a gateway); they cannot replace the protocol headers. */
  headers?: Record<string, string>;
  /** Connections kept to the upstream: its concurrency. */
  maxConnections: number;
  /** The deadline of one attempt, from sending the request to the last byte of the answer. */
  attemptTimeoutMs: number;
}

// Why a session ended, and the status every log line and metric reports for it (CONTRACT §4).
// A closed union: a new reason without a status is a type error, not a blank log field.

export type EndReason =
  | 'Done'                 // both sides closed normally
  | 'ClientClosed'         // the client reset or errored; nothing wrong upstream
  | 'BadClientData'        // e.g. a malformed PROXY protocol header
  | 'HandshakeFailed'      // TLS handshake failed or timed out
  | 'Forbidden'            // refused by a plugin or filter
  | 'NoRoute'              // no route matched
  | 'NoUpstream'           // the route has no upstream
  | 'Internal'             // a broken invariant (logged)
  | 'ConnectFailed'        // every connect attempt was refused or failed
  | 'ConnectTimeout'       // the last connect attempt timed out
  | 'UpstreamReset'        // the upstream reset or errored after connecting
  | 'IdleTimeout'          // no byte either way for max(timeout.send, timeout.read)
  | 'NoHealthyNode'        // no node to try (empty, unresolvable)
  | 'LimitReached'         // sluice.max_connections or a limit plugin
  | 'ProtocolMismatch'     // a plugin's protocol check failed (mqtt-proxy: not the expected CONNECT)
  | 'Shutdown'             // closed by a graceful stop after shutdown_timeout
  | 'killed';              // ended from the connections API (CONTRACT §7 names it in lower case)

export type Status = 200 | 400 | 403 | 500 | 502 | 503;

export const STATUS = {
  Done: 200, ClientClosed: 200, BadClientData: 400, HandshakeFailed: 400, Forbidden: 403, NoRoute: 500,
  NoUpstream: 500, Internal: 500, ConnectFailed: 502, ConnectTimeout: 502, UpstreamReset: 502, IdleTimeout: 502,
  NoHealthyNode: 503, LimitReached: 503, ProtocolMismatch: 503, Shutdown: 200, killed: 403,
} as const satisfies Record<EndReason, Status>;

export const END_REASONS = Object.keys(STATUS) as readonly EndReason[];

/** What every phase returns. Throwing is kept for broken invariants. */
export type Verdict = 'continue' | { readonly end: EndReason };

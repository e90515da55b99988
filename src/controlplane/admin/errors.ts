// Every Admin API error in one catalog: a code, the HTTP status, and APISIX 3.x's exact wording.
// Handlers throw adminError('CODE', params) and never build message text. docs/errors.md lists the same
// entries; test/integration/admin-errors-doc.test.ts checks the two against each other in both directions.

type Params = Record<string, string | number>;

interface ErrorDef {
  readonly status: number;
  /** `{name}` placeholders are filled from the params. */
  readonly msg: string;
  /** The body key holding the message: APISIX uses error_msg, and `message` for etcd-style 404s. */
  readonly field?: 'error_msg' | 'message';
  /** Extra constant fields of the body. */
  readonly extra?: Readonly<Record<string, string>>;
}

export const ERRORS = {
  // auth (APISIX: admin/init.lua check_token)
  TOKEN_MISSING: { status: 401, msg: 'failed to check token', extra: { description: 'missing apikey' } },
  TOKEN_WRONG: { status: 401, msg: 'failed to check token', extra: { description: 'wrong apikey' } },
  TOKEN_VIEWER: { status: 401, msg: 'failed to check token', extra: { description: 'invalid method for role viewer' } },
  // deployment.admin.allow_admin (APISIX: nginx `allow ...; deny all;`, whose 403 page is HTML; Sluice answers JSON)
  CLIENT_NOT_ALLOWED: { status: 403, msg: 'access to the Admin API from {addr} is not allowed by deployment.admin.allow_admin' },
  // request
  BODY_TOO_LARGE: { status: 400, msg: 'invalid request body: request size {size} is greater than the maximum size 1572864 allowed' },
  BODY_READ_FAILED: { status: 400, msg: 'invalid request body: failed to read the request body' },
  BODY_INVALID_JSON: { status: 400, msg: 'invalid request body: {reason}' },
  BODY_NON_FINITE: { status: 400, msg: 'invalid request body: numbers must be finite' },
  TTL_NOT_NUMBER: { status: 400, msg: 'invalid argument ttl: should be a number' },
  FORBIDDEN_PROPERTY: { status: 400, msg: 'the property is forbidden:  {prop}' },
  UNSUPPORTED_RESOURCE: { status: 404, msg: 'Unsupported resource type: {res}' },
  NOT_FOUND: { status: 404, msg: 'not found' },
  INVALID_SUBSYSTEM: { status: 400, msg: 'invalid subsystem passed' },
  UNSUPPORTED_SUBSYSTEM: { status: 400, msg: 'unsupported subsystem: {subsystem}' },
  PLUGIN_NOT_FOUND: { status: 404, msg: 'plugin not found in subsystem {subsystem}' },
  SCHEMA_NOT_FOUND: { status: 400, msg: 'not found schema' },
  SCHEMA_INVALID: { status: 400, msg: '{reason}' },
  METHOD_NOT_SUPPORTED: { status: 405, msg: 'not supported `{method}` method for {kind}' },
  STREAM_DISABLED: { status: 400, msg: 'stream mode is disabled, can not add stream routes' },
  // resource ids and bodies (APISIX: admin/resource.lua check_conf)
  MISSING_CONF: { status: 400, msg: 'missing configurations' },
  MISSING_ID: { status: 400, msg: 'missing {kind} id' },
  WRONG_ID: { status: 400, msg: 'wrong {kind} id' },
  ID_NOT_NEEDED: { status: 400, msg: 'wrong {kind} id, do not need it' },
  INVALID_CONF: { status: 400, msg: 'invalid configuration: {reason}' },
  MISSING_NEW_CONF: { status: 400, msg: 'missing new configuration' },
  INVALID_PATCH_CONF: { status: 400, msg: 'invalid configuration' },
  INVALID_SUB_PATH: { status: 400, msg: 'invalid sub-path: /{path}' },
  KEY_NOT_FOUND: { status: 404, msg: 'Key not found', field: 'message' },
  // references and checks
  UPSTREAM_NOT_FOUND: { status: 400, msg: 'failed to fetch upstream info by upstream id [{id}], response code: 404' },
  SERVICE_NOT_FOUND: { status: 400, msg: 'failed to fetch service info by service id [{id}], response code: 404' },
  SSL_NOT_FOUND: { status: 400, msg: 'failed to fetch ssl info by ssl id [{id}], response code: 404' },
  SSL_WRONG_TYPE: { status: 400, msg: 'failed to fetch ssl info by ssl id [{id}], wrong ssl type' },
  // ssls: certificates and keys (checked after the schema)
  SSL_BAD_CERT: { status: 400, msg: 'failed to parse {field}: {reason}' },
  SSL_BAD_KEY: { status: 400, msg: 'failed to parse {field}: {reason}' },
  SSL_KEY_MISMATCH: { status: 400, msg: 'the private key in {field} does not match its certificate' },
  SSL_CERTS_KEYS_COUNT: { status: 400, msg: 'mismatched number of certs and keys' },
  SSL_UNDECRYPTABLE: { status: 400, msg: 'failed to decrypt {field} with apisix.data_encryption.keyring' },
  SSL_SECRET_REF: { status: 400, msg: '{field}: secret references ($secret://, $env://) are not supported by Sluice' },
  INVALID_ADDR: { status: 400, msg: 'invalid {field}: {addr}' },
  INVALID_PORT: { status: 400, msg: 'invalid port {port}' },
  INVALID_NODE: { status: 400, msg: 'invalid node address: {node}' },
  CHASH_MISSING_KEY: { status: 400, msg: 'missing key' },
  SNI_AND_SNIS: { status: 400, msg: 'sni and snis can not be carried together' },
  UNKNOWN_PROTOCOL: { status: 400, msg: 'unknown protocol [{name}]' },
  INVALID_PLUGIN_NAME: { status: 400, msg: 'invalid plugin name' },
  UNKNOWN_PLUGIN: { status: 400, msg: 'unknown plugin [{name}]' },
  PLUGIN_CONF_TYPE: { status: 400, msg: 'invalid plugin conf {conf} for plugin [{name}]' },
  PLUGIN_CONF: { status: 400, msg: 'failed to check the configuration of stream plugin [{name}]: {reason}' },
  SERVICE_IN_USE: { status: 400, msg: 'can not delete this service directly, {kind} [{id}] is still using it now' },
  UPSTREAM_IN_USE: { status: 400, msg: 'can not delete this upstream directly, {kind} [{id}] is still using it now' },
  UPSTREAM_IN_PLUGIN: { status: 400, msg: 'can not delete this upstream, plugin in {kind} [{id}] is still using it now' },
  SSL_IN_USE: { status: 400, msg: 'can not delete this ssl directly, {kind} [{id}] is still using it now' },
  // paging (APISIX: admin/v3_adapter.lua)
  INVALID_PAGE: { status: 400, msg: 'page_size must be between 10 and 500' },
  // store
  STORE_UNAVAILABLE: { status: 503, msg: '{reason}' },
  STORE_READ_ONLY: { status: 400, msg: '{reason}' },
  STORE_CONFLICT: { status: 503, msg: 'value changed before overwritten' },
  // Sluice's own API (/sluice/v1/*)
  INVALID_EXPLAIN: { status: 400, msg: 'invalid explain request: {reason}' },
  INVALID_CONNECTIONS_QUERY: { status: 400, msg: 'invalid connections request: {reason}' },
  CONNECTION_NOT_FOUND: { status: 404, msg: 'connection not found' },
  INVALID_HISTORY_QUERY: { status: 400, msg: 'invalid history request: {reason}' },
  HISTORY_UNAVAILABLE: { status: 400, msg: 'the {store} store keeps no history here (only the embedded store does, so far)' },
  // a bug: logged with its stack, never shown to the client
  INTERNAL: { status: 500, msg: 'internal error' },
} as const satisfies Record<string, ErrorDef>;

export type ErrorCode = keyof typeof ERRORS;

export class AdminError extends Error {
  override readonly name = 'AdminError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly body: Record<string, string>;
  constructor(code: ErrorCode, status: number, body: Record<string, string>) {
    super(body.error_msg ?? body.message ?? code);
    this.code = code;
    this.status = status;
    this.body = body;
  }
}

export function formatMessage(template: string, params: Params = {}): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in params ? String(params[k]) : m));
}

export function adminError(code: ErrorCode, params: Params = {}): AdminError {
  const def: ErrorDef = ERRORS[code];
  const body: Record<string, string> = { [def.field ?? 'error_msg']: formatMessage(def.msg, params), ...def.extra };
  return new AdminError(code, def.status, body);
}

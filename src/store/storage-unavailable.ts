/** Connection-level failures from a Node socket: the database is unreachable, not the request wrong. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);

/**
 * SQLSTATEs that mean "the database cannot serve you right now": class 08 (connection exceptions), 53300 (too many
 * connections), 57P01-57P03 (admin or crash shutdown, starting up), 57014 (statement timeout), 40001/40P01 (after our
 * own retries). SQLite's BUSY and LOCKED mean the same for the embedded store.
 */
function unavailableSqlState(code: string): boolean {
  return (
    code.startsWith('08') ||
    code === '53300' ||
    code === '57P01' ||
    code === '57P02' ||
    code === '57P03' ||
    code === '57014' ||
    code === '40001' ||
    code === '40P01' ||
    code === 'SQLITE_BUSY' ||
    code === 'SQLITE_LOCKED'
  );
}

/**
 * Whether an error from the Store means the storage is briefly unavailable (a PostgreSQL restart or failover, an
 * exhausted pool). The API answers those with a retryable 529 `overloaded_error`, which the SDKs retry, instead of
 * a 500.
 */
export function isStorageUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (SOCKET_CODES.has(code) || unavailableSqlState(code))) return true;
    // node-postgres reports a dropped connection and a pool wait timeout by message only.
    if (
      /^Connection terminated|^timeout exceeded when trying to connect|^Client has encountered a connection error|^Client was closed/.test(
        e.message,
      )
    )
      return true;
  }
  return false;
}

import type { TestContext } from 'node:test';
import pino from 'pino';
import { DEFAULT_SERVE_CONFIG, type ServeConfig } from '../../src/config/config.ts';
import { type RunningServer, type ServerOverrides, startServer } from '../../src/server.ts';
import { tempDir } from './temp-dir.ts';

/**
 * Starts a real listening server on 127.0.0.1:0 with its own data directory; stopped when the test ends.
 */
export async function testServer(
  t: TestContext,
  config: Partial<ServeConfig> = {},
  over: ServerOverrides = {},
): Promise<RunningServer> {
  const dataDir = config.dataDir ?? tempDir(t);
  const server = await startServer(
    {
      ...DEFAULT_SERVE_CONFIG,
      port: 0,
      logLevel: 'silent',
      shutdownGraceMs: 2000,
      mockLatency: { minMs: 0, maxMs: 0 },
      ...config,
      dataDir,
    },
    { logger: pino({ level: 'silent' }), ...over },
  );
  t.after(() => server.close());
  return server;
}

import { rmSync } from 'node:fs';
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
  // Its own directory is removed after the server has closed (an `after` hook of its own would run first).
  const ownDir = config.dataDir === undefined ? tempDir(null) : null;
  const dataDir = config.dataDir ?? ownDir!;
  const removeDir = () => {
    if (ownDir) rmSync(ownDir, { recursive: true, force: true });
  };
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
  ).catch((err: unknown) => {
    removeDir();
    throw err;
  });
  t.after(async () => {
    await server.close();
    removeDir();
  });
  return server;
}

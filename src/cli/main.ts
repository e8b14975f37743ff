import { Command } from 'commander';
import { keysCommand } from './keys-command.ts';
import { migrateCommand } from './migrate-command.ts';
import { mockUpstreamCommand } from './mock-upstream-command.ts';
import { serveCommand } from './serve-command.ts';

const program = new Command('barge')
  .description('Barge: a self-hosted Message Batches API')
  .showHelpAfterError()
  .addCommand(serveCommand())
  .addCommand(keysCommand())
  .addCommand(migrateCommand())
  .addCommand(mockUpstreamCommand());

program.parseAsync(process.argv).catch((err: unknown) => {
  // One clear line, no stack trace.
  console.error(`barge: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

import { Command } from 'commander';
import { batchesCommand } from './batches-command.ts';
import { CliError } from './cli-error.ts';
import { keysCommand } from './keys-command.ts';
import { migrateCommand } from './migrate-command.ts';
import { mockUpstreamCommand } from './mock-upstream-command.ts';
import { serveCommand } from './serve-command.ts';

const program = new Command('barge')
  .description('Barge: a self-hosted Message Batches API')
  .showHelpAfterError()
  .addCommand(serveCommand())
  .addCommand(batchesCommand())
  .addCommand(keysCommand())
  .addCommand(migrateCommand())
  .addCommand(mockUpstreamCommand());

program.parseAsync(process.argv).catch((err: unknown) => {
  // One clear line, no stack trace.
  console.error(`barge: ${err instanceof Error ? err.message : String(err)}`);
  // 2: bad input (arguments, the requests file); 1: anything else (the server refused, or could not be reached).
  process.exit(err instanceof CliError ? err.exitCode : 1);
});

import { Command } from 'commander';
import { addStorageOptions, withCliStore } from './cli-storage.ts';

/**
 * `barge migrate`: applies pending schema migrations and exits. Servers migrate on start too; this lets an operator
 * run them once, ahead of a rollout, with a role that may alter the schema.
 */
export function migrateCommand(): Command {
  return addStorageOptions(
    new Command('migrate').description(
      'Create or upgrade the database schema (SQLite or PostgreSQL), then exit',
    ),
  ).action(async (o) => {
    const kind = await withCliStore(o, async (store) => store.kind);
    console.error(`barge: schema is up to date (${kind})`);
  });
}

import { Command } from 'commander';
import { createApiKey } from '../auth/api-keys.ts';
import { rfc3339 } from '../wire/timestamp.ts';
import { addStorageOptions, withCliStore } from './cli-storage.ts';

/** `barge keys create|list|revoke`: API keys for `--auth keys`, stored hashed in the data directory. */
export function keysCommand(): Command {
  const keys = new Command('keys').description('Manage API keys for --auth keys');
  addStorageOptions(keys.command('create'))
    .description('Create a key in a workspace; the secret is printed once and stored only as a hash')
    .requiredOption('--workspace <name>', 'workspace the key belongs to (batches are visible only inside it)')
    .option('--json', 'print JSON')
    .action(async (o) => {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(o.workspace)) {
        throw new Error('--workspace must be 1 to 64 letters, digits, - or _');
      }
      const key = await withCliStore(o, (s) => createApiKey(s, o.workspace, Date.now()));
      if (o.json) console.log(JSON.stringify({ id: key.id, workspace: o.workspace, key: key.secret }));
      else {
        console.log(key.secret);
        console.error(`created ${key.id} in workspace "${o.workspace}"; the key above is shown only once`);
      }
    });
  addStorageOptions(keys.command('list'))
    .description('List keys (never their secrets)')
    .option('--json', 'print JSON')
    .action(async (o) => {
      const list = await withCliStore(o, (s) => s.listKeys());
      if (o.json) return console.log(JSON.stringify(list));
      for (const k of list) {
        const state = k.revokedAt === null ? 'active' : `revoked ${rfc3339(k.revokedAt)}`;
        console.log(`${k.id}\t${k.workspace}\t${k.prefix}…\t${rfc3339(k.createdAt)}\t${state}`);
      }
    });
  addStorageOptions(keys.command('revoke'))
    .description('Revoke a key by its id or its printed prefix')
    .argument('<id>', 'key id (key_…) or prefix')
    .action(async (id: string, o) => {
      const ok = await withCliStore(o, (s) => s.revokeKey(id, Date.now()));
      if (!ok) throw new Error(`no active key ${id}`);
      console.error(`revoked ${id}`);
    });
  return keys;
}

import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

interface Open {
  fd: number;
  lines: number;
  broken: boolean;
}

/**
 * A copy of each batch's result lines in a plain JSONL file, so a download streams a file from the page cache
 * instead of paging rows out of SQLite (which copies every line three times in user space before the socket).
 *
 * The table rows stay the source of truth. Lines are appended only after the transaction that wrote them has
 * committed; when the batch ends, the file is kept only if it holds exactly one line per request, and otherwise
 * dropped, so downloads fall back to the rows. After an unclean stop every file is dropped (a power cut could have
 * cut one short), and so is any file of a batch still in progress after a restart, whose count was lost.
 */
export class ResultsSpool {
  private readonly open = new Map<number, Open>();

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** Removes partial files (their counts are gone with the process that wrote them), or every file if unclean. */
  reset(unclean: boolean): void {
    for (const name of readdirSync(this.dir)) {
      if (unclean || name.endsWith('.partial')) rmSync(join(this.dir, name), { force: true });
    }
  }

  /** Appends committed lines of a batch. */
  append(seq: number, lines: string[]): void {
    if (lines.length === 0) return;
    let f = this.open.get(seq);
    if (!f) {
      f = { fd: -1, lines: 0, broken: false };
      this.open.set(seq, f);
      try {
        f.fd = openSync(this.partial(seq), 'w');
      } catch {
        f.broken = true;
      }
    }
    if (f.broken) return;
    try {
      // Written as a string: Node encodes it outside the JS heap, where a `Buffer.from` copy per flush was garbage.
      const text = `${lines.join('\n')}\n`;
      if (writeSync(f.fd, text) !== Buffer.byteLength(text)) f.broken = true; // short: dropped at the end
      f.lines += lines.length;
    } catch {
      f.broken = true;
    }
  }

  /** At the end of a batch: keeps the file if it is complete, else drops it. */
  seal(seq: number, total: number): void {
    const f = this.open.get(seq);
    this.open.delete(seq);
    if (!f) return;
    if (f.fd >= 0) closeSync(f.fd);
    if (!f.broken && f.lines === total) renameSync(this.partial(seq), this.complete(seq));
    else rmSync(this.partial(seq), { force: true });
  }

  /** The complete file of an ended batch, if there is one. */
  fileOf(seq: number): string | null {
    const p = this.complete(seq);
    return existsSync(p) ? p : null;
  }

  /** Deletes a batch's files (archival, delete). */
  remove(seq: number): void {
    const f = this.open.get(seq);
    if (f && f.fd >= 0) closeSync(f.fd);
    this.open.delete(seq);
    rmSync(this.partial(seq), { force: true });
    rmSync(this.complete(seq), { force: true });
  }

  close(): void {
    for (const [seq] of this.open) this.remove(seq);
  }

  private partial(seq: number): string {
    return join(this.dir, `${seq}.jsonl.partial`);
  }

  private complete(seq: number): string {
    return join(this.dir, `${seq}.jsonl`);
  }
}

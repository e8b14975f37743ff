import cliProgress from 'cli-progress';

/** A progress bar on stderr when it is a terminal; nothing otherwise (scripts, pipes, CI logs). */
export interface Bar {
  update(value: number, payload?: Record<string, string>): void;
  setTotal(total: number): void;
  stop(): void;
}

const NONE: Bar = { update() {}, setTotal() {}, stop() {} };

export function progressBar(format: string, total: number): Bar {
  if (!process.stderr.isTTY) return NONE;
  const bar = new cliProgress.SingleBar(
    { format, stream: process.stderr, hideCursor: true, clearOnComplete: false, barsize: 30 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    update: (v, payload) => bar.update(v, payload),
    setTotal: (t) => bar.setTotal(t),
    stop: () => bar.stop(),
  };
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${n} B`;
}

import { html, SafeHtml } from './html.ts';

const STYLE = `
  :root { font-family: system-ui, sans-serif; color: #1d2433; background: #f6f7f9; }
  body { margin: 0; }
  header { background: #1d2433; color: #fff; padding: 10px 24px; display: flex; gap: 24px; align-items: center; }
  header a { color: #cfd8ff; text-decoration: none; } header strong { font-size: 18px; }
  main { padding: 20px 24px; max-width: 1200px; }
  table { border-collapse: collapse; width: 100%; background: #fff; font-size: 14px; }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #e3e6ec; vertical-align: top; }
  th { background: #eef0f4; font-weight: 600; }
  code, pre { font-family: ui-monospace, monospace; font-size: 13px; }
  pre { background: #fff; border: 1px solid #e3e6ec; padding: 10px; overflow: auto; max-height: 320px; white-space: pre-wrap; word-break: break-all; }
  progress { width: 160px; height: 14px; }
  .cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 12px 0; }
  .card { background: #fff; border: 1px solid #e3e6ec; border-radius: 6px; padding: 10px 14px; min-width: 110px; }
  .card .n { font-size: 22px; font-weight: 600; } .card .l { font-size: 12px; color: #5b6475; }
  section { margin: 22px 0; } h2 { font-size: 16px; margin: 0 0 8px; }
  button, .button { background: #3751ff; color: #fff; border: 0; border-radius: 4px; padding: 6px 12px; cursor: pointer; font-size: 14px; text-decoration: none; }
  button.danger { background: #c62f3b; } button:disabled { background: #9aa3b5; cursor: default; }
  .status { font-weight: 600; } .muted { color: #5b6475; } .error { color: #c62f3b; }
  svg { background: #fff; border: 1px solid #e3e6ec; width: 100%; max-width: 720px; height: 160px; }
`;

/** The page shell: styles inline, behaviour only from /dashboard/app.js (the CSP allows no inline script). */
export function layout(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Barge</title>
<style>${new SafeHtml(STYLE)}</style>
<script src="/dashboard/app.js" defer></script>
</head>
<body>
<header><strong>Barge</strong><a href="/dashboard">Batches</a><a href="/dashboard/workers">Workers</a></header>
<main>${body}</main>
</body>
</html>`.text;
}

/** Headers for every dashboard page: no script but our own file, no framing, no sniffing. */
export const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
} as const;

import type { AnthropicErrorType } from '../../wire/error-envelope.ts';
import { isJsonObject as isObj } from '../../wire/json-object.ts';
import { errorTypeForStatus } from '../upstream-errors.ts';

/** Upstream messages end up in result files: long enough for a context-length explanation, no more. */
export const MAX_ERROR_MESSAGE = 1000;

function nonEmpty(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

/**
 * The human-readable part of an error body, in the shapes OpenAI-compatible servers use: OpenAI's
 * `{error:{message,type,code,param}}`, vLLM's top-level `{message,type,code}`, TGI's `{error:"…"}`, FastAPI's
 * `{detail}`, or plain text (a proxy's HTML page).
 */
function bodyMessage(body: unknown): string | undefined {
  if (isObj(body)) {
    const err = body.error;
    if (isObj(err)) return nonEmpty(err.message) ?? nonEmpty(err.type) ?? nonEmpty(err.code);
    return (
      nonEmpty(err) ??
      nonEmpty(body.message) ??
      nonEmpty(body.detail) ??
      (body.detail !== undefined ? JSON.stringify(body.detail) : undefined)
    );
  }
  return nonEmpty(body);
}

/**
 * An upstream error response as an Anthropic error: the type from the HTTP status, the message from the body
 * (parsed JSON or raw text), whitespace collapsed and bounded.
 */
export function toAnthropicError(
  status: number,
  body: unknown,
): { type: AnthropicErrorType; message: string } {
  const said = bodyMessage(body);
  let message =
    said === undefined
      ? `Upstream returned HTTP ${status}`
      : said
          .slice(0, MAX_ERROR_MESSAGE * 4)
          .replace(/\s+/g, ' ')
          .trim();
  if (message.length > MAX_ERROR_MESSAGE) message = `${message.slice(0, MAX_ERROR_MESSAGE - 1)}…`;
  return { type: errorTypeForStatus(status), message };
}

/** The same from the raw body text: JSON when it parses, else the text itself. */
export function toAnthropicErrorFromText(
  status: number,
  text: string,
): { type: AnthropicErrorType; message: string } {
  let body: unknown = text;
  const first = text.trimStart().charAt(0);
  if (first === '{' || first === '"') {
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON after all: the text is the message.
    }
  }
  return toAnthropicError(status, body);
}

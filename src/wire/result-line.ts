import type { AnthropicErrorType } from './error-envelope.ts';
import { errorEnvelope } from './error-envelope.ts';

// Result lines are serialised once, when the result is written, and streamed verbatim afterwards: compact
// JSON.stringify never emits a raw CR or LF, so each line is exactly one JSONL record.

/**
 * `{"custom_id":…,"result":{"type":"succeeded","message":…}}`. With `raw`, the Message's own JSON text (already
 * parsed once, so known to be valid, and without line breaks) is embedded as it came instead of serialised again.
 */
export function succeededLine(customId: string, message: unknown, raw?: string): string {
  if (raw !== undefined) {
    return `{"custom_id":${JSON.stringify(customId)},"result":{"type":"succeeded","message":${raw}}}`;
  }
  return JSON.stringify({ custom_id: customId, result: { type: 'succeeded', message } });
}

/** An errored result carries a full error envelope; the discriminator is `result.error.error.type`. */
export function erroredLine(customId: string, type: AnthropicErrorType, message: string): string {
  return JSON.stringify({
    custom_id: customId,
    result: { type: 'errored', error: errorEnvelope(type, message, null) },
  });
}

/** `{"custom_id":…,"result":{"type":"canceled"}}` */
export function canceledLine(customId: string): string {
  return JSON.stringify({ custom_id: customId, result: { type: 'canceled' } });
}

/** `{"custom_id":…,"result":{"type":"expired"}}` */
export function expiredLine(customId: string): string {
  return JSON.stringify({ custom_id: customId, result: { type: 'expired' } });
}

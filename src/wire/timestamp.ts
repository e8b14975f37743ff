/** RFC 3339 with six fractional digits and `Z`, the shape the hosted API uses (`2024-09-24T18:37:24.100435Z`). */
export function rfc3339(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, -1)}000Z`;
}

/** Like `rfc3339`, for nullable fields. */
export function rfc3339OrNull(ms: number | null): string | null {
  return ms === null ? null : rfc3339(ms);
}

import type { Clock } from '../../src/domain/clock.ts';

/** A clock tests move by hand, so 24 hours and 29 days pass instantly. */
export class ManualClock implements Clock {
  constructor(private ms = Date.parse('2026-11-25T12:00:00.000Z')) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
}

/**
 * Helpers for google.protobuf.Timestamp.
 *
 * The generated code keeps Timestamp as `{ seconds: bigint; nanos: number }`
 * (ts-proto `useDate=false`) rather than `Date`, because isulad events and
 * image times carry nanosecond precision that a JS Date would drop.
 */
import type { Timestamp } from './gen/google/protobuf/timestamp';

const NS_PER_S = 1_000_000_000n;

/** Date (millisecond precision) -> Timestamp. Handles dates before 1970. */
export function timestampFromDate(date: Date): Timestamp {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds: BigInt(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}

/** Timestamp -> Date (sub-millisecond part is truncated). */
export function timestampToDate(ts: Timestamp): Date {
  return new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1_000_000));
}

/** Nanoseconds since the epoch -> Timestamp. */
export function timestampFromNanos(ns: bigint): Timestamp {
  let seconds = ns / NS_PER_S;
  let nanos = ns % NS_PER_S;
  if (nanos < 0n) {
    seconds -= 1n;
    nanos += NS_PER_S;
  }
  return { seconds, nanos: Number(nanos) };
}

/** Timestamp -> nanoseconds since the epoch. */
export function timestampToNanos(ts: Timestamp): bigint {
  return ts.seconds * NS_PER_S + BigInt(ts.nanos);
}

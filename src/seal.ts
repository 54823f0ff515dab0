import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The control plane's own MAC. The runner's role may send to the settle queue (it must, to
 * deliver its destination records), so a job can put any message before the broker. Every event
 * the broker acts on
 * (dispatch requests from the webhook, the runner payloads it writes itself) is sealed with a
 * key derived from the webhook secret, which only the webhook and the broker hold.
 */
export type Sealed<T> = T & { readonly sealedAt: number; readonly mac: string };

/** How far a seal's time may run ahead of the broker's clock (clocks of two functions differ). */
const CLOCK_SKEW_MS = 5 * 60_000;

/** The MAC key: derived, so a leaked MAC key never yields the webhook secret itself. */
export function deriveSealKey(webhookSecret: string): Buffer {
  return createHmac('sha256', webhookSecret).update('lambda-runner broker seal v1').digest();
}

/**
 * Adds the time of sealing and a MAC over every other field, in a canonical order. The time
 * lets the broker refuse an event replayed after it could still be genuine.
 */
export function seal<T extends object>(value: T, key: Buffer, now = Date.now()): Sealed<T> {
  const stamped = { ...value, sealedAt: now };
  return { ...stamped, mac: macOf(stamped, key) };
}

/** Why a sealed value is too old to act on (or claims a time to come), or undefined if fresh. */
export function sealExpiry(value: object, maxAgeMs: number, now = Date.now()): string | undefined {
  const sealedAt = (value as { sealedAt?: unknown }).sealedAt;
  if (typeof sealedAt !== 'number') return 'it carries no seal time';
  if (sealedAt > now + CLOCK_SKEW_MS) return 'its seal time is in the future';
  if (now - sealedAt > maxAgeMs)
    return `it was sealed ${Math.round((now - sealedAt) / 60_000)} min ago, past the ${Math.round(maxAgeMs / 60_000)} min it can live`;
  return undefined;
}

/** True when `value` carries a MAC made with `key` over exactly its other fields. */
export function isSealed(value: unknown, key: Buffer): value is Sealed<Record<string, unknown>> {
  if (typeof value !== 'object' || value === null) return false;
  const { mac, ...rest } = value as Record<string, unknown>;
  if (typeof mac !== 'string' || !/^[0-9a-f]{64}$/.test(mac)) return false;
  return timingSafeEqual(Buffer.from(mac, 'hex'), Buffer.from(macOf(rest, key), 'hex'));
}

/** The event as it was before sealing: every field but the MAC and the seal time. */
export function withoutMac<T extends object>(sealed: T): Omit<T, 'mac' | 'sealedAt'> {
  const copy: Partial<T> & { mac?: unknown; sealedAt?: unknown } = { ...sealed };
  delete copy.mac;
  delete copy.sealedAt;
  return copy as Omit<T, 'mac' | 'sealedAt'>;
}

function macOf(value: object, key: Buffer): string {
  return createHmac('sha256', key).update(canonical(value)).digest('hex');
}

/** JSON with object keys sorted at every level, so field order never changes the MAC. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const entries = Object.entries(value)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonical(item)}`).join(',')}}`;
}

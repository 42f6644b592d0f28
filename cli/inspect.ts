/**
 * `inspect`: what a session store holds, through the public store API only (`ids()` or `all()`, `get`, `length`,
 * and `sessionsOf` where the store indexes owners): how many sessions, how big, when they expire, the largest
 * ones, who owns them, and what the store keeps although it has expired.
 */
import type { SessionData, Store } from 'express-session';
import { Progress, type ProgressStream } from './progress.js';
import { call, eachLimited, expiryOf, getSession, listIds, listing, sessionText } from './store-api.js';
import { short } from './migrate.js';

/** Options of {@link inspect}. */
export interface InspectOptions {
  /** Session property path naming its owner (`'user'`, `'passport.user'`): reports sessions per owner. */
  owner?: string;
  /** How many of the largest sessions and busiest owners to list. Default 10. */
  top?: number;
  /** Store operations in flight at once. Default 32. */
  concurrency?: number;
  /** Where progress goes while reading (a TTY gets a bar). Default: none. */
  progress?: ProgressStream;
}

/** One bar of the expiry histogram: sessions expiring within `upToMs` from now (and after the previous bar). */
export interface ExpiryBucket {
  label: string;
  /** Upper bound of remaining lifetime in ms; null for the last, open-ended bucket. */
  upToMs: number | null;
  count: number;
}

/** What {@link inspect} found. */
export interface InspectReport {
  /** How the store listed its sessions. */
  listing: 'ids' | 'all';
  /** Sids listed. */
  listed: number;
  /** Unexpired sessions read. */
  count: number;
  /** `length()` as the store reports it, where it has one. */
  length: number | null;
  /** Sizes of the unexpired sessions' JSON, in bytes. */
  bytes: { total: number; mean: number; min: number; p50: number; p90: number; p99: number; max: number };
  /** Remaining lifetime of unexpired sessions. */
  expiry: { buckets: ExpiryBucket[]; noExpiry: number };
  /**
   * Expired sessions the store still keeps, where that is observable through the public API: `returned` counts
   * sessions `get()` returned although their `cookie.expires` has passed (a store that does not filter on read);
   * `listedNotReadable` counts sids the listing named but `get()` did not return (expired records a listing
   * includes until they are pruned, or sessions deleted during the scan). Our stores filter both on read, so on
   * them these are 0 whatever the database holds.
   */
  expired: { returned: number; listedNotReadable: number };
  /** The largest sessions (sids shortened). */
  largest: Array<{ sid: string; bytes: number; expires: string | null }>;
  /** Sessions per owner, when an owner path is given (`indexed`: what the store's owner index lists, where it has one). */
  owners: null | {
    path: string;
    distinct: number;
    anonymous: number;
    top: Array<{ owner: string; sessions: number; indexed: number | null }>;
  };
  durationMs: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const BUCKETS: Array<[string, number | null]> = [
  ['< 1 min', MINUTE],
  ['< 5 min', 5 * MINUTE],
  ['< 15 min', 15 * MINUTE],
  ['< 1 h', HOUR],
  ['< 6 h', 6 * HOUR],
  ['< 1 day', DAY],
  ['< 7 days', 7 * DAY],
  ['< 30 days', 30 * DAY],
  ['later', null],
];

/** Reads every session of `store` and summarizes it. */
export async function inspect(store: Store, options: InspectOptions = {}): Promise<InspectReport> {
  const started = Date.now();
  const how = listing(store);
  if (how === 'none') throw new Error('the store has neither ids() nor all(): its sessions cannot be listed');
  const sids = await listIds(store);
  const top = options.top ?? 10;
  const sizes: number[] = [];
  const largest: Array<{ sid: string; bytes: number; expiresAt: number | null }> = [];
  const buckets: ExpiryBucket[] = BUCKETS.map(([label, upToMs]) => ({ label, upToMs, count: 0 }));
  let noExpiry = 0;
  const expired = { returned: 0, listedNotReadable: 0 };
  const owners = new Map<string, number>();
  let anonymous = 0;
  const ownerOf = options.owner ? propertyPath(options.owner) : undefined;
  const progress = options.progress ? new Progress(options.progress, 'inspect', sids.length) : null;
  let done = 0;

  await eachLimited(sids, options.concurrency ?? 32, async (sid) => {
    const session = await getSession(store, sid);
    done += 1;
    progress?.update(done);
    if (session === null) {
      expired.listedNotReadable += 1;
      return;
    }
    const now = Date.now();
    const expiresAt = expiryOf(session);
    if (expiresAt !== null && expiresAt <= now) {
      expired.returned += 1;
      return;
    }
    const bytes = Buffer.byteLength(sessionText(session));
    sizes.push(bytes);
    keepLargest(largest, { sid, bytes, expiresAt }, top);
    if (expiresAt === null) noExpiry += 1;
    else buckets.find((b) => b.upToMs === null || expiresAt - now < b.upToMs)!.count += 1;
    if (ownerOf) {
      const owner = ownerOf(session);
      if (owner === undefined || owner === null || owner === '') anonymous += 1;
      else owners.set(String(owner), (owners.get(String(owner)) ?? 0) + 1);
    }
  });
  progress?.finish(done);

  sizes.sort((a, b) => a - b);
  const total = sizes.reduce((a, b) => a + b, 0);
  const pct = (p: number): number => (sizes.length === 0 ? 0 : sizes[Math.min(sizes.length - 1, Math.ceil((p / 100) * sizes.length) - 1)]!);
  let ownerReport: InspectReport['owners'] = null;
  if (options.owner) {
    const busiest = [...owners].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, top);
    const indexed = ownerIndex(store);
    ownerReport = {
      path: options.owner,
      distinct: owners.size,
      anonymous,
      top: await Promise.all(
        busiest.map(async ([owner, sessions]) => ({ owner, sessions, indexed: indexed ? (await indexed(owner)).length : null })),
      ),
    };
  }
  let length: number | null = null;
  if (
    typeof (store as { length?: unknown }).length === 'function' &&
    (store as { supports?: { length?: boolean } }).supports?.length !== false
  ) {
    length = await call<number>(store, 'length').catch(() => null);
  }
  return {
    listing: how,
    listed: sids.length,
    count: sizes.length,
    length,
    bytes: {
      total,
      mean: sizes.length ? Math.round(total / sizes.length) : 0,
      min: sizes[0] ?? 0,
      p50: pct(50),
      p90: pct(90),
      p99: pct(99),
      max: sizes.at(-1) ?? 0,
    },
    expiry: { buckets, noExpiry },
    expired,
    largest: largest.map((l) => ({
      sid: short(l.sid),
      bytes: l.bytes,
      expires: l.expiresAt === null ? null : new Date(l.expiresAt).toISOString(),
    })),
    owners: ownerReport,
    durationMs: Date.now() - started,
  };
}

/** The report as text: figures, the expiry histogram as a bar chart, the largest sessions, the owners. */
export function formatInspect(name: string, r: InspectReport, width = 40): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const lines = [
    `${name}`,
    `  sessions     ${n(r.count)}${r.length !== null && r.length !== r.count ? ` (length() says ${n(r.length)})` : ''}`,
    `  size         total ${bytes(r.bytes.total)}, mean ${bytes(r.bytes.mean)}, p50 ${bytes(r.bytes.p50)}, p90 ${bytes(r.bytes.p90)}, p99 ${bytes(r.bytes.p99)}, max ${bytes(r.bytes.max)}`,
    `  expired      ${n(r.expired.returned)} returned by get() although expired, ${n(r.expired.listedNotReadable)} listed but not readable`,
    '',
    '  expires in',
  ];
  const rows: Array<[string, number]> = [
    ...r.expiry.buckets.map((b): [string, number] => [b.label, b.count]),
    ['no expiry', r.expiry.noExpiry],
  ];
  const max = Math.max(1, ...rows.map(([, c]) => c));
  for (const [label, count] of rows) {
    const len = Math.round((count / max) * width);
    lines.push(`  ${label.padStart(10)} │${'█'.repeat(len)}${count > 0 && len === 0 ? '▏' : ''} ${n(count)}`);
  }
  if (r.largest.length > 0) {
    lines.push('', '  largest sessions');
    for (const l of r.largest)
      lines.push(`    ${l.sid.padEnd(10)} ${bytes(l.bytes).padStart(9)}  expires ${l.expires ?? 'never (browser session)'}`);
  }
  if (r.owners) {
    lines.push('', `  owners (${r.owners.path}): ${n(r.owners.distinct)} distinct, ${n(r.owners.anonymous)} sessions without one`);
    for (const o of r.owners.top) {
      lines.push(
        `    ${o.owner.slice(0, 24).padEnd(24)} ${n(o.sessions).padStart(6)} sessions${o.indexed !== null ? `, ${n(o.indexed)} in the owner index` : ''}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

function bytes(b: number): string {
  if (b < 1024) return `${b} B`;
  if (b < 1024 * 1024) return `${(b / 1024).toFixed(1)} KiB`;
  return `${(b / 1024 / 1024).toFixed(1)} MiB`;
}

function keepLargest<T extends { bytes: number }>(list: T[], item: T, n: number): void {
  if (n <= 0) return;
  if (list.length < n) list.push(item);
  else if (item.bytes > list.at(-1)!.bytes) list[list.length - 1] = item;
  else return;
  list.sort((a, b) => b.bytes - a.bytes);
}

/** `'user.id'` as a function of the session. */
function propertyPath(path: string): (session: SessionData) => unknown {
  const keys = path.split('.');
  return (session) =>
    keys.reduce<unknown>((v, k) => (v === null || typeof v !== 'object' ? undefined : (v as Record<string, unknown>)[k]), session);
}

/** `sessionsOf` of a store that indexes owners (ours with the `owner` option), else undefined. */
function ownerIndex(store: Store): ((owner: string) => Promise<unknown[]>) | undefined {
  const s = store as unknown as { sessionsOf?: (owner: string) => Promise<unknown[]>; supports?: { owners?: boolean } };
  return typeof s.sessionsOf === 'function' && s.supports?.owners === true ? (owner) => s.sessionsOf!.call(store, owner) : undefined;
}

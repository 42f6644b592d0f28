/**
 * `migrate`: copies every unexpired session from one store to another with its remaining expiry, through the
 * public store API only (`ids()` or `all()` to list, `get`, `set`, `destroy`, `length`), so any express-session
 * store with `ids()` or `all()` can be the source and any store the target.
 *
 * **Expiry.** A session is written with `cookie.expires` set to the expiry the source reports: our stores align
 * `cookie.expires` with the stored expiry on every read (touches included), to the millisecond, and every store
 * derives the expiry of a write from `cookie.expires`; so the copy expires when the original does. Limits: a
 * session whose cookie has no `expires` (a browser-session cookie) gets the target's `ttl` from the moment it is
 * copied (the source's own expiry for it is not visible through `get`); a third-party store that extends a TTL on
 * `touch` without rewriting the session (connect-redis, connect-pg-simple) reports a `cookie.expires` that can be
 * earlier than its real expiry, and one already past while the source still returns the session is renewed to
 * `now + cookie.originalMaxAge` (what the next request would give it) rather than dropped.
 *
 * **Re-runs converge, nothing is resurrected** (the journal, see journal.ts): for each sid the source lists,
 * - the source no longer has it (destroyed, expired) → not copied; if the journal says we wrote it and the
 *   target still holds exactly what we wrote, it is deleted from the target;
 * - the journal says the target holds what the source holds → nothing to do (no read of the target);
 * - the target holds an identical session → nothing written (recorded as ours);
 * - the target has nothing, but our copy there had not expired → it was destroyed in the target (a logout after
 *   the switch): not copied again;
 * - the target holds what we wrote earlier and the source has changed since → copied again;
 * - the target holds something we did not write (the application writes to it already) → **newest write wins**,
 *   judged by expiry: express-session moves `cookie.expires` to `now + maxAge` on every request that saves or
 *   touches a session, so the later expiry is the later write. The source's copy replaces the target's only if it
 *   expires later.
 * Sids in the journal that the source no longer lists get the first rule. Without the journal (`journal: null`)
 * a run is still idempotent, but cannot delete from the target what the source deleted since an earlier run.
 *
 * **Verification** (not on dry runs): every session this run copied or found in place must be in the target
 * (sessions that expired meanwhile excepted), and a random sample is read back from both stores and compared
 * byte for byte (their JSON). A sampled session the source changed after it was copied is reported as such (the
 * next pass copies it), not as a failure. `deleteSource` deletes from the source only after a verification that
 * passed, and only sessions the source still holds exactly as they were copied.
 */
import type { SessionData, Store } from 'express-session';
import { Journal, fingerprint, type JournalEntry } from './journal.js';
import { Progress, type ProgressStream } from './progress.js';
import { call, eachLimited, expiryOf, getSession, lastWriteOf, listIds, listing, maxAgeOf, sessionText } from './store-api.js';

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** The store to copy from. */
  from: Store;
  /** The store to copy to. */
  to: Store;
  /** Names of the two stores, recorded in the journal (descriptions, not secrets). */
  fromName?: string;
  toName?: string;
  /** Only read the source and report counts and sizes; write nothing (not even the journal). */
  dryRun?: boolean;
  /**
   * Catch-up pass: skip sessions last written before this time (epoch ms), or before the start of the previous
   * run less a minute for clock differences (`'last'`, from the journal). A session's last write is `cookie.expires − cookie.originalMaxAge` (see
   * `lastWriteOf`); sessions without both are always considered. Sessions the source deleted are handled as
   * always.
   */
  since?: number | 'last';
  /** After a verification that passed, delete the copied sessions from the source. */
  deleteSource?: boolean;
  /** Journal file path (see journal.ts); null keeps it in memory for this run only. */
  journal?: string | null;
  /** Sessions per batch (journal intents are written per batch). Default 500. */
  batchSize?: number;
  /** Store operations in flight at once. Default 32. */
  concurrency?: number;
  /** How many sessions the verification compares byte for byte. Default 100. */
  verifySample?: number;
  /** Where progress goes (a TTY gets a bar). Default: none. */
  progress?: ProgressStream;
  /** Interval of plain progress lines when not on a TTY, in ms. Default 2000. */
  progressIntervalMs?: number;
}

/** What the final verification found. */
export interface Verification {
  ok: boolean;
  /** Sessions this run copied or found in place, still unexpired: all must be in the target. */
  expected: number;
  /** Of those, how many the target lacks. */
  missing: number;
  missingSample: string[];
  /** `length()` of each store at the end, where it has one. */
  sourceCount: number | null;
  targetCount: number | null;
  /** Sessions compared byte for byte, and how many differed (failures). */
  sampled: number;
  mismatched: number;
  mismatchSample: string[];
  /** Sampled sessions the source changed (or deleted) after they were copied: the next pass handles them. */
  changedSinceCopy: number;
}

/** What a migration did. */
export interface MigrateReport {
  dryRun: boolean;
  /** Sids the source listed at the start. */
  listed: number;
  /** Unexpired sessions read from the source, and their total size (bytes of JSON). */
  live: number;
  bytes: number;
  /** Written to the target (on a dry run: would be). */
  copied: number;
  /** Already in the target as the journal recorded, source unchanged: nothing to do. */
  unchanged: number;
  /** The target already held an identical session. */
  alreadyEqual: number;
  /** The target held a different session, written by someone else and not older: left as it is. */
  keptTarget: number;
  /** Destroyed in the target after we copied it: not copied again. */
  notRecreated: number;
  /** Skipped by `since` (last written before it). */
  skippedSince: number;
  /** Listed but destroyed or expired by the time it was read. */
  gone: number;
  /** Past `cookie.expires` although the source still returned them: renewed to `now + originalMaxAge`. */
  renewed: number;
  /**
   * Deleted from the target because the source deleted them (we had written them; unchanged there). On a dry run:
   * journal entries the source no longer has (an upper bound: the target is not read).
   */
  deletedFromTarget: number;
  /** Deleted from the source (`deleteSource`). */
  deletedFromSource: number;
  /** Failed operations, and the first few messages. */
  errors: number;
  errorSamples: string[];
  durationMs: number;
  /** Sessions handled per second (listed / duration). */
  rate: number;
  verification: Verification | null;
  /** No errors and (unless a dry run) the verification passed. */
  ok: boolean;
}

/** Margin of `since: 'last'` for clock differences between machines. */
const CLOCK_SKEW_MS = 60_000;

/** Slack for stores that keep whole seconds: a copy within this of its expiry may have expired there already. */
const EXPIRY_SLACK_MS = 1000;

interface Planned {
  sid: string;
  session: SessionData;
  fp: string;
  expiresAt: number | null;
}

/** Copies the sessions of `options.from` to `options.to` (see the module docs for the rules). */
export async function migrate(options: MigrateOptions): Promise<MigrateReport> {
  const { from, to } = options;
  const dryRun = options.dryRun === true;
  const batchSize = options.batchSize ?? 500;
  const concurrency = options.concurrency ?? 32;
  const started = Date.now();
  const journal = new Journal(options.journal ?? null);
  // `last`: the start of the previous run, less a minute for clock differences between this machine and the
  // application's servers (which set cookie.expires): a few more sessions reconsidered, none missed.
  const lastRun = journal.lastRun;
  const since = options.since === 'last' ? (lastRun === undefined ? undefined : lastRun - CLOCK_SKEW_MS) : options.since;
  if (options.since === 'last' && since === undefined) throw new Error('--since last: the journal records no earlier run');
  if (listing(from) === 'none') throw new Error('the source store has neither ids() nor all(): its sessions cannot be listed');
  if (!dryRun) journal.start(started, options.fromName ?? 'source', options.toName ?? 'target');

  const report: MigrateReport = {
    dryRun,
    listed: 0,
    live: 0,
    bytes: 0,
    copied: 0,
    unchanged: 0,
    alreadyEqual: 0,
    keptTarget: 0,
    notRecreated: 0,
    skippedSince: 0,
    gone: 0,
    renewed: 0,
    deletedFromTarget: 0,
    deletedFromSource: 0,
    errors: 0,
    errorSamples: [],
    durationMs: 0,
    rate: 0,
    verification: null,
    ok: false,
  };
  const fail = (what: string, sid: string, err: unknown): void => {
    report.errors += 1;
    if (report.errorSamples.length < 5) report.errorSamples.push(`${what} ${short(sid)}: ${(err as Error)?.message ?? String(err)}`);
  };

  const sids = await listIds(from);
  report.listed = sids.length;
  // What the target holds at the start, when it can list: a sid it lacks is not read from it (a first run then
  // costs two operations per session instead of three). Safe because an application never creates a session
  // under a sid the store lacks (express-session makes a new sid), so it cannot appear in the target meanwhile.
  const inTarget = !dryRun && listing(to) !== 'none' ? new Set(await listIds(to)) : null;
  const listed = new Set(sids);
  /** Sessions that must be in the target after this run, with the fingerprint of what it holds. */
  const expected = new Map<string, JournalEntry>();
  /** Journal sids the source no longer has: deleted from the target if it still holds what we wrote. */
  const goneOurs: string[] = [];
  const progress = options.progress
    ? new Progress(options.progress, dryRun ? 'dry run' : 'migrate', sids.length, options.progressIntervalMs)
    : null;
  let done = 0;

  for (let start = 0; start < sids.length; start += batchSize) {
    const batch = sids.slice(start, start + batchSize);
    const copies: Planned[] = [];
    const adopted: Planned[] = [];
    await eachLimited(batch, concurrency, async (sid) => {
      let session: SessionData | null;
      try {
        session = await getSession(from, sid);
      } catch (err) {
        fail('read source', sid, err);
        return;
      }
      const now = Date.now();
      const j = journal.entries.get(sid);
      let expiresAt = session ? expiryOf(session) : null;
      if (session && expiresAt !== null && expiresAt <= now) {
        const maxAge = maxAgeOf(session);
        if (maxAge === null) session = null;
        else {
          expiresAt = now + maxAge;
          report.renewed += 1;
        }
      }
      if (!session) {
        report.gone += 1;
        if (j) goneOurs.push(sid);
        return;
      }
      if (expiresAt !== null) (session.cookie as unknown as { expires: string }).expires = new Date(expiresAt).toISOString();
      const text = sessionText(session);
      const fp = fingerprint(text);
      report.live += 1;
      report.bytes += Buffer.byteLength(text);
      const planned: Planned = { sid, session, fp, expiresAt };
      if (j && j.committed && j.fp === fp) {
        report.unchanged += 1;
        expected.set(sid, j);
        return;
      }
      if (since !== undefined) {
        const lastWrite = lastWriteOf(session);
        if (lastWrite !== null && lastWrite < since) {
          report.skippedSince += 1;
          return;
        }
      }
      if (dryRun) {
        report.copied += 1;
        return;
      }
      let current: SessionData | null;
      try {
        current = inTarget && !inTarget.has(sid) ? null : await getSession(to, sid);
      } catch (err) {
        fail('read target', sid, err);
        return;
      }
      if (current === null) {
        if (j && j.committed && j.expiresAt !== null && j.expiresAt > Date.now() + EXPIRY_SLACK_MS) report.notRecreated += 1;
        else copies.push(planned);
        return;
      }
      const theirs = normalized(current);
      const theirFp = fingerprint(sessionText(theirs));
      if (theirFp === fp) {
        report.alreadyEqual += 1;
        adopted.push(planned);
      } else if (j && theirFp === j.fp) {
        copies.push(planned); // the target holds our earlier copy; the source changed since
      } else {
        const targetExpiry = expiryOf(theirs);
        if (expiresAt !== null && targetExpiry !== null && expiresAt > targetExpiry) copies.push(planned);
        else report.keptTarget += 1;
      }
    });

    if (!dryRun) {
      journal.adopt(adopted.map((p) => [p.sid, p.fp, p.expiresAt]));
      for (const p of adopted) expected.set(p.sid, { fp: p.fp, expiresAt: p.expiresAt, committed: true });
      journal.intend(copies.map((p) => [p.sid, p.fp, p.expiresAt]));
      const written: string[] = [];
      await eachLimited(copies, concurrency, async (p) => {
        try {
          await call(to, 'set', p.sid, p.session);
          written.push(p.sid);
          expected.set(p.sid, { fp: p.fp, expiresAt: p.expiresAt, committed: true });
        } catch (err) {
          fail('write target', p.sid, err);
        }
      });
      journal.commit(written);
      report.copied += written.length;
    }
    done += batch.length;
    progress?.update(done);
  }
  progress?.finish(done);

  // Sessions we wrote in an earlier run that the source no longer lists, and those it lost during this run.
  for (const sid of journal.entries.keys()) if (!listed.has(sid)) goneOurs.push(sid);
  if (!dryRun) await deleteGone(goneOurs);
  else report.deletedFromTarget = goneOurs.length;

  async function deleteGone(gone: string[]): Promise<void> {
    const forget: string[] = [];
    await eachLimited(gone, concurrency, async (sid) => {
      const entry = journal.entries.get(sid)!;
      try {
        // The source listing is a snapshot: make sure it is really gone before touching the target.
        if ((await getSession(from, sid)) !== null) return;
        const current = await getSession(to, sid);
        if (current !== null && fingerprint(sessionText(normalized(current))) === entry.fp) {
          await call(to, 'destroy', sid);
          report.deletedFromTarget += 1;
        }
        forget.push(sid);
      } catch (err) {
        fail('delete from target', sid, err);
      }
    });
    journal.drop(forget);
  }

  if (!dryRun) {
    report.verification = await verify(from, to, expected, options.verifySample ?? 100, concurrency);
    if (options.deleteSource && report.verification.ok && report.errors === 0) {
      await eachLimited([...expected], concurrency, async ([sid, entry]) => {
        try {
          const session = await getSession(from, sid);
          if (session && fingerprint(sessionText(normalized(session))) === entry.fp) {
            await call(from, 'destroy', sid);
            report.deletedFromSource += 1;
          }
        } catch (err) {
          fail('delete from source', sid, err);
        }
      });
    }
    journal.finish(started);
    journal.compact();
  }
  report.durationMs = Date.now() - started;
  report.rate = report.listed / Math.max(report.durationMs / 1000, 0.001);
  report.ok = report.errors === 0 && (report.verification?.ok ?? true);
  return report;
}

/** Checks that the target holds every expected session and compares a random sample byte for byte. */
async function verify(
  from: Store,
  to: Store,
  expected: Map<string, JournalEntry>,
  sampleSize: number,
  concurrency: number,
): Promise<Verification> {
  const v: Verification = {
    ok: false,
    expected: 0,
    missing: 0,
    missingSample: [],
    sourceCount: await count(from),
    targetCount: await count(to),
    sampled: 0,
    mismatched: 0,
    mismatchSample: [],
    changedSinceCopy: 0,
  };
  const now = Date.now();
  const live = [...expected].filter(([, e]) => e.expiresAt === null || e.expiresAt > now + EXPIRY_SLACK_MS);
  v.expected = live.length;
  const missing = (sid: string): void => {
    v.missing += 1;
    if (v.missingSample.length < 5) v.missingSample.push(short(sid));
  };
  if (listing(to) !== 'none') {
    const present = new Set(await listIds(to));
    for (const [sid, e] of live) {
      if (!present.has(sid) && (e.expiresAt === null || e.expiresAt > Date.now() + EXPIRY_SLACK_MS)) missing(sid);
    }
  } else {
    await eachLimited(live, concurrency, async ([sid, e]) => {
      if ((await getSession(to, sid)) === null && (e.expiresAt === null || e.expiresAt > Date.now() + EXPIRY_SLACK_MS)) missing(sid);
    });
  }

  for (const [sid, entry] of pick(live, sampleSize)) {
    const [source, target] = await Promise.all([getSession(from, sid), getSession(to, sid)]);
    if (target === null && entry.expiresAt !== null && entry.expiresAt <= Date.now() + EXPIRY_SLACK_MS) continue; // expired meanwhile
    v.sampled += 1;
    const targetText = target === null ? null : sessionText(normalized(target));
    const sourceText = source === null ? null : sessionText(normalized(source));
    if (targetText !== null && fingerprint(targetText) === entry.fp && targetText === sourceText) continue;
    if (targetText !== null && fingerprint(targetText) === entry.fp) {
      v.changedSinceCopy += 1; // the target holds what we copied; the source moved on since
      continue;
    }
    v.mismatched += 1;
    if (v.mismatchSample.length < 5) v.mismatchSample.push(short(sid));
  }
  v.ok = v.missing === 0 && v.mismatched === 0;
  return v;
}

async function count(store: Store): Promise<number | null> {
  const s = store as unknown as { length?: unknown; supports?: { length?: boolean } };
  if (typeof s.length !== 'function' || s.supports?.length === false) return null;
  try {
    return Number(await call<number>(store, 'length'));
  } catch {
    return null;
  }
}

/** Up to `n` items at random (a partial Fisher-Yates shuffle). */
function pick<T>(items: T[], n: number): T[] {
  const copy = [...items];
  const k = Math.min(n, copy.length);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(Math.random() * (copy.length - i));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, k);
}

/** The session with `cookie.expires` as an ISO string (what we write), so texts compare across stores. */
export function normalized(session: SessionData): SessionData {
  const expiresAt = expiryOf(session);
  if (expiresAt !== null) (session.cookie as unknown as { expires: string }).expires = new Date(expiresAt).toISOString();
  return session;
}

/** A sid shortened for output: enough to find it, not enough to use it. */
export function short(sid: string): string {
  return sid.length > 10 ? `${sid.slice(0, 8)}…` : sid;
}

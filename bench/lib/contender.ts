import session from 'express-session';
import type { SessionData, Store } from 'express-session';

/** What a contender is to our store: ours, the store it replaces, or its raw driver (the practical ceiling). */
export type Role = 'ours' | 'incumbent' | 'raw';

/** Options every contender's `create` receives. */
export interface CreateOptions {
  /** A namespace (key prefix, schema, database, directory …) no other contender or run uses. */
  ns: string;
  /** Lazy touch in seconds; only our store honours it (the "ours, lazy touch" end-to-end row). */
  touchAfter?: number;
  /** More options for our store (a lever `bench:levers` measures, e.g. `{ revocationWindowMs: false }`). */
  options?: Record<string, unknown>;
}

/** A live store of one contender; `close()` releases its clients and deletes its namespace. */
export interface Instance {
  store: Store;
  close(): Promise<void>;
}

/** One row of the comparison. */
export interface Contender {
  /** Shown in the tables, e.g. `connect-redis 9`. */
  name: string;
  role: Role;
  create(opts: CreateOptions): Promise<Instance>;
}

/** A backend under test: its contenders on one server. */
export interface Backend {
  name: string;
  /** Server or engine version, e.g. `redis 7.0.15` or `SQLite 3.50.2`. */
  server: string;
  contenders: Contender[];
  /**
   * A server too slow for the run's time budget (FerretDB on SQLite writes tens to hundreds of sessions per
   * second): fewer sessions, fewer rounds and no warm-up round, with the reason, shown in the report.
   */
  slow?: { sessions: number; rounds: number; why: string };
}

/** Builds a backend; `url` is the server the harness started (undefined for serverless backends). */
export type BackendFactory = (url: string | undefined) => Promise<Backend>;

/** The least a raw driver must do for each operation, promise-based. */
export interface RawOps {
  get(sid: string): Promise<SessionData | null>;
  set(sid: string, sess: SessionData): Promise<void>;
  touch(sid: string, sess: SessionData): Promise<void>;
  destroy(sid: string): Promise<void>;
}

/**
 * Presents raw driver operations as an express-session store, so that the raw contender is called exactly as
 * the stores are (callback API, through the same harness code) and can also serve the end-to-end app.
 */
export class RawStore extends session.Store {
  constructor(private readonly ops: RawOps) {
    super();
  }
  override get(sid: string, cb: (err: unknown, sess?: SessionData | null) => void): void {
    this.ops.get(sid).then((s) => cb(null, s), cb);
  }
  override set(sid: string, sess: SessionData, cb?: (err?: unknown) => void): void {
    this.ops.set(sid, sess).then(
      () => cb?.(),
      (e) => cb?.(e),
    );
  }
  override touch(sid: string, sess: SessionData, cb?: (err?: unknown) => void): void {
    this.ops.touch(sid, sess).then(
      () => cb?.(),
      (e) => cb?.(e),
    );
  }
  override destroy(sid: string, cb?: (err?: unknown) => void): void {
    this.ops.destroy(sid).then(
      () => cb?.(),
      (e) => cb?.(e),
    );
  }
}

/** The four measured operations. */
export type Op = 'get' | 'set' | 'touch' | 'destroy';

/** Calls `store[op]` through its callback API, as express-session does, and resolves its result. */
export function call(store: Store, op: Op, sid: string, sess: SessionData): Promise<SessionData | null | undefined> {
  // Inline callbacks: a named closure would cost every contender a keepNames helper call under tsx.
  if (op === 'get') return new Promise((resolve, reject) => store.get(sid, (err, value) => (err ? reject(err) : resolve(value))));
  if (op === 'set')
    return new Promise((resolve, reject) => store.set(sid, sess, (err?: unknown) => (err ? reject(err) : resolve(undefined))));
  if (op === 'touch')
    return new Promise((resolve, reject) => store.touch!(sid, sess, (err?: unknown) => (err ? reject(err) : resolve(undefined))));
  return new Promise((resolve, reject) => store.destroy(sid, (err?: unknown) => (err ? reject(err) : resolve(undefined))));
}

/** The expiry express-session would store for `sess`: `cookie.expires` in epoch ms, else now + one day. */
export function expiryOf(sess: SessionData): number {
  const e = sess.cookie?.expires;
  return e ? new Date(e).getTime() : Date.now() + 86_400_000;
}

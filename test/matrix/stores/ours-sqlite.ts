/** Our SQLiteStore on a database file of its own, one table per store (per namespace where asked). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SQLiteStore } from '../../../stores/sqlite/index.js';
import type { FactoryHints } from '../../../conformance/options.js';
import { hintOptions } from './hints.js';
import { sqliteRaw } from '../../stores/raw.js';

const dir = mkdtempSync(join(tmpdir(), 'session-stores-sqlite-'));
let counter = 0;

export const name = 'session-stores SQLiteStore';
export const backend = 'SQLite (better-sqlite3)';
/** What the backend holds, read through its own client or files: for the atRest group. */
export const raw = sqliteRaw;

export default function factory(hints: FactoryHints = {}): SQLiteStore {
  return new SQLiteStore({
    filename: join(dir, 'sessions.db'),
    tableName: hints.namespace !== undefined ? `ns_${hints.namespace}` : `t_${++counter}`,
    ...hintOptions(hints),
  });
}

export function cleanup(): void {
  rmSync(dir, { recursive: true, force: true });
}

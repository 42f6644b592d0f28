/** Our FileStore: a directory per store (per namespace where asked), no background reaping. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '../../../stores/file/index.js';
import type { FactoryHints } from '../../../conformance/options.js';
import { hintOptions } from './hints.js';
import { fileRaw } from '../../stores/raw.js';

const root = mkdtempSync(join(tmpdir(), 'session-stores-file-'));
let counter = 0;

export const name = 'session-stores FileStore';
export const backend = 'local file system';
/** What the backend holds, read through its own client or files: for the atRest group. */
export const raw = fileRaw;

export default function factory(hints: FactoryHints = {}): FileStore {
  return new FileStore({
    path: join(root, hints.namespace ?? `s${++counter}`),
    ...hintOptions(hints),
    reapInterval: -1,
  });
}

export function cleanup(): void {
  rmSync(root, { recursive: true, force: true });
}

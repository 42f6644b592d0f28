/** Our MemoryStore, configured the way its README and test file do. */
import { MemoryStore } from '../../../stores/memory/index.js';
import type { FactoryHints } from '../../../conformance/options.js';
import { hintOptions } from './hints.js';
import { memoryRaw } from '../../stores/raw.js';

export const name = 'session-stores MemoryStore';
export const backend = 'in-process memory';
/** What the backend holds, read through its own client or files: for the atRest group. */
export const raw = memoryRaw;

// Capabilities come from the store itself (`store.supports`).
export default function factory(hints: FactoryHints = {}): MemoryStore {
  return new MemoryStore(hintOptions(hints));
}

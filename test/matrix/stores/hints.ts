/** Not a store module: the suite's factory hints as options of our stores, shared by the ours-*.ts modules. */
import type { FactoryHints } from '../../../conformance/options.js';

/** `ttl`, `touchAfter`, `disableTouch`, `owner`, `encryption` and `hashIds`, passed on as the hints give them. */
export function hintOptions(
  hints: FactoryHints,
): Pick<FactoryHints, 'ttl' | 'touchAfter' | 'disableTouch' | 'owner' | 'encryption' | 'hashIds'> {
  const { ttl, touchAfter, disableTouch, owner, encryption, hashIds } = hints;
  return { ttl, touchAfter, disableTouch, owner, encryption, hashIds };
}

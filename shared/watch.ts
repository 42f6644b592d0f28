interface Watch {
  listeners: Set<(value: never) => void>;
  detach: () => void;
}

// Per client, per kind of watch (connection state, pool errors …).
const watches = new WeakMap<object, Map<string, Watch>>();

/**
 * Follows the connection state of a client shared by many stores with **one** set of driver listeners per
 * client, so a hundred stores on one Redis client, `pg.Pool` or `MongoClient` add no listener-leak warning.
 * `attach` subscribes to the client once and calls `emit(value)` on each event (by default the connection state,
 * `up`); it returns what unsubscribes, which runs when the last store stops watching. `kind` keeps different
 * watches of one client apart. Returns the function that stops this store's watch.
 */
export function watchClient<T = boolean>(
  client: object,
  attach: (emit: (value: T) => void) => () => void,
  listener: (value: T) => void,
  kind = 'connection',
): () => void {
  let byKind = watches.get(client);
  if (!byKind) watches.set(client, (byKind = new Map()));
  let watch = byKind.get(kind);
  if (!watch) {
    const listeners = new Set<(value: T) => void>();
    const created: Watch = { listeners: listeners as Set<(value: never) => void>, detach: () => {} };
    created.detach = attach((value) => {
      for (const l of [...listeners]) l(value);
    });
    watch = created;
    byKind.set(kind, watch);
  }
  const current = watch;
  const kinds = byKind;
  current.listeners.add(listener as (value: never) => void);
  return () => {
    current.listeners.delete(listener as (value: never) => void);
    if (current.listeners.size === 0 && kinds.get(kind) === current) {
      kinds.delete(kind);
      current.detach();
    }
  };
}

/** Attaches each `[event, listener]` pair to `emitter`; returns a function that detaches them all. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- emitters type listener arguments as any
export function subscribe(
  emitter: { on(event: string, fn: (...args: any[]) => void): unknown; off(event: string, fn: (...args: any[]) => void): unknown },
  events: Array<[string, (...args: any[]) => void]>,
): () => void {
  for (const [event, fn] of events) emitter.on(event, fn);
  return () => {
    for (const [event, fn] of events) emitter.off(event, fn);
  };
}

/** Which client events mean the connection is up, which mean it is down, and any other listeners to add. */
export interface ConnectionEvents {
  up: string[];
  down: string[];
  /** Extra listeners, given `emit` (e.g. an `'error'` event that means "down" only in some states). */
  other?: Array<[event: string, listener: (emit: (up: boolean) => void) => () => void]>;
}

/** {@link watchClient} for a client whose connection state shows in its events. */
export function watchEvents(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- emitters type listener arguments as any
  client: { on(event: string, fn: (...args: any[]) => void): unknown; off(event: string, fn: (...args: any[]) => void): unknown },
  events: ConnectionEvents,
  listener: (up: boolean) => void,
): () => void {
  return watchClient(
    client,
    (emit) => {
      const up = (): void => emit(true);
      const down = (): void => emit(false);
      return subscribe(client, [
        ...events.up.map((event): [string, () => void] => [event, up]),
        ...events.down.map((event): [string, () => void] => [event, down]),
        ...(events.other ?? []).map(([event, make]): [string, () => void] => [event, make(emit)]),
      ]);
    },
    listener,
  );
}

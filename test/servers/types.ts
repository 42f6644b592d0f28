export type Kind = 'redis' | 'postgres' | 'mongo' | 'dynamodb' | 'mysql';
export type Source = 'env' | 'testcontainers' | 'local';

/** A running server the tests may use; `description` is what the test output shows for it. */
export interface ServerInfo {
  kind: Kind;
  url: string;
  source: Source;
  description: string;
}

/** A private server a fault test may stop and start again on the same port with the same data. */
export interface ControllableServer extends ServerInfo {
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Freezes the server (SIGSTOP, `docker pause`): it keeps its connections open and answers nothing. */
  freeze(): Promise<void>;
  /** Lets a frozen server run again. */
  thaw(): Promise<void>;
  /** Kills the server at once (SIGKILL: no shutdown, requests in flight cut off); start() brings it back. Local servers only. */
  kill?(): Promise<void>;
  /** Stops the server for good and deletes its data. */
  close(): Promise<void>;
}

export interface RedisClusterInfo {
  nodes: { host: string; port: number }[];
  description: string;
  source: Source;
}

/** Thrown when no server of a kind can be had; the message says how to provide one. */
export class MissingServerError extends Error {
  constructor(
    readonly kind: Kind | 'redis-cluster',
    message: string,
  ) {
    super(message);
    this.name = 'MissingServerError';
  }
}

/** The run's shared servers as handed to test workers and child processes: a server per kind, or why there is none. */
export type SharedServers = Partial<Record<Kind, ServerInfo | { kind: Kind; missing: string }>>;

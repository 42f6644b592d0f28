import type { MongoClient, TopologyDescriptionChangedEvent } from 'mongodb';
import { watchClient } from '../../shared/watch.js';

/**
 * Follows the driver's view of the deployment and reports whether a data-bearing server is reachable, through
 * one set of driver listeners per client shared by all its stores. The driver's monitors update the topology on
 * every heartbeat (`heartbeatFrequencyMS`, 10 s by default) and whenever an operation hits a network error, so an
 * outage shows within a heartbeat or at the first failed request (and a frozen server at the first operation
 * that times out: the base pings it then). Returns a function that stops watching.
 *
 * Only transitions are reported: a topology that is merely still being discovered (every client starts with an
 * Unknown topology) is not an outage, so `down` is reported when known servers are lost, or when a heartbeat
 * fails while none is known (the server was down from the start).
 */
export function watchHealth(client: MongoClient, report: (up: boolean) => void): () => void {
  return watchClient(client, (emit) => listen(client, emit), report);
}

/**
 * What `err` says about the server (see `SessionStore._diagnose`): `'unreachable'` for the driver's network,
 * server-selection and closed-topology errors, `'unsure'` for its timeouts, else nothing.
 */
export function diagnose(err: unknown): 'unreachable' | 'unsure' | undefined {
  const name = (err as { name?: unknown } | null)?.name;
  if (typeof name !== 'string') return undefined;
  if (/^Mongo(Network|ServerSelection|TopologyClosed)Error$/.test(name)) return 'unreachable';
  return name === 'MongoNetworkTimeoutError' || name === 'MongoWaitQueueTimeoutError' ? 'unsure' : undefined;
}

function listen(client: MongoClient, emit: (up: boolean) => void): () => void {
  let up = false;
  const changed = (event: TopologyDescriptionChangedEvent): void => {
    const was = event.previousDescription.hasDataBearingServers;
    up = event.newDescription.hasDataBearingServers;
    if (up) emit(true);
    else if (was) emit(false);
  };
  const heartbeatFailed = (): void => {
    if (!up) emit(false);
  };
  // The user closed the client under us: the store cannot work any more, so express-session should skip it.
  const closed = (): void => {
    up = false;
    emit(false);
  };
  client.on('topologyDescriptionChanged', changed);
  client.on('serverHeartbeatFailed', heartbeatFailed);
  client.on('topologyClosed', closed);
  return () => {
    client.off('topologyDescriptionChanged', changed);
    client.off('serverHeartbeatFailed', heartbeatFailed);
    client.off('topologyClosed', closed);
  };
}

import type { MongoClient, TopologyDescriptionChangedEvent } from 'mongodb';

type Report = (up: boolean) => void;

/** One set of driver listeners per client, shared by its stores: many stores on one client add no listener leak. */
const watchers = new WeakMap<MongoClient, Set<Report>>();

/**
 * Follows the driver's view of the deployment and reports whether a data-bearing server is reachable. The
 * driver's monitors update the topology on every heartbeat (`heartbeatFrequencyMS`, 10 s by default) and
 * whenever an operation hits a network error, so an outage shows within a heartbeat or at the first failed
 * request. Returns a function that stops watching.
 *
 * Only transitions are reported: a topology that is merely still being discovered (every client starts with
 * an Unknown topology) is not an outage, so `down` is reported when known servers are lost, or when a
 * heartbeat fails while none is known (the server was down from the start).
 */
export function watchHealth(client: MongoClient, report: Report): () => void {
  let reports = watchers.get(client);
  if (!reports) {
    reports = listen(client);
    watchers.set(client, reports);
  }
  reports.add(report);
  return () => {
    reports.delete(report);
  };
}

function listen(client: MongoClient): Set<Report> {
  const reports = new Set<Report>();
  const emit = (up: boolean): void => {
    for (const report of reports) report(up);
  };
  let up = false;
  client.on('topologyDescriptionChanged', (event: TopologyDescriptionChangedEvent) => {
    const was = event.previousDescription.hasDataBearingServers;
    up = event.newDescription.hasDataBearingServers;
    if (up) emit(true);
    else if (was) emit(false);
  });
  client.on('serverHeartbeatFailed', () => {
    if (!up) emit(false);
  });
  // The user closed the client under us: the store cannot work any more, so express-session should skip it.
  client.on('topologyClosed', () => {
    up = false;
    emit(false);
  });
  return reports;
}

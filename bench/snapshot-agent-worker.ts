/**
 * The agent's side of the snapshot bench (bench/snapshot.ts) on a thread of its own: on a real
 * cluster the agent is another process on the etcd member's host, so its reading, hashing and TLS
 * work does not share the controller's thread. It answers `req.etcd` messages with the agent's
 * real etcd module (agent/src/etcd/maintenance.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { answerEtcdRequest, createEtcdMaintenance, type EtcdMaintenanceOptions } from '../agent/src/etcd/maintenance.js';
import type { EtcdRequest } from '../shared/src/protocol/etcd.js';

const port = parentPort;
if (port === null) throw new Error('snapshot-agent-worker runs as a worker thread');
const maintenance = createEtcdMaintenance(workerData as EtcdMaintenanceOptions);
port.on('message', (req: EtcdRequest) => {
  answerEtcdRequest(req, maintenance).then(
    (res) => port.postMessage({ ok: true, res }),
    (err: unknown) => port.postMessage({ ok: false, message: err instanceof Error ? err.message : String(err) }),
  );
});

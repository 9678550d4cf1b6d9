/**
 * Load-generator process of the fan-in benchmark (started by fanin.ts over an IPC channel): holds
 * one slice of the simulated agents, reports connect progress, and measures heartbeat round trips
 * in the windows the orchestrator opens. See lib/sim-fleet.ts.
 */
import { readIdentities } from './lib/identities.js';
import { type FromWorker, isToWorker, type WorkerConfig } from './lib/ipc.js';
import { SimFleet } from './lib/sim-fleet.js';

/** Hard bound on a worker's life, whatever happens to its parent. */
const MAX_LIFE_MS = 2 * 3600_000;

let fleet: SimFleet | null = null;
let index = -1;

function send(msg: FromWorker): void {
  if (process.send !== undefined && process.connected) process.send(msg);
}

async function init(config: WorkerConfig): Promise<void> {
  index = config.index;
  const identities = await readIdentities(config.identitiesPath, config.start, config.end);
  const f = new SimFleet(config, identities);
  fleet = f;
  const progress = setInterval(() => send({ type: 'progress', index, ...f.progress() }), 1000);
  // Generous: the orchestrator applies its own (tighter) connect deadline.
  const summary = await f.connectAll(30 * 60_000);
  clearInterval(progress);
  send({ type: 'connected', index, summary });
}

function fatal(err: unknown): void {
  send({ type: 'fatal', index, message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
}

process.on('message', (msg: unknown) => {
  if (!isToWorker(msg)) return;
  switch (msg.type) {
    case 'init':
      init(msg.config).catch(fatal);
      return;
    case 'measure-start':
      fleet?.measureStart();
      return;
    case 'measure-stop':
      fleet
        ?.measureStop(msg.graceMs)
        .then((stats) => send({ type: 'stats', index, stats }))
        .catch(fatal);
      return;
    case 'shutdown':
      fleet?.shutdown();
      setTimeout(() => process.exit(0), 200);
      return;
  }
});
// The orchestrator going away (crash, kill) ends the worker too.
process.on('disconnect', () => {
  fleet?.shutdown();
  process.exit(0);
});
process.on('uncaughtException', fatal);
setTimeout(() => process.exit(3), MAX_LIFE_MS).unref();

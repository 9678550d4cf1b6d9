/**
 * A controller stand-in for the SIGKILL test (crash.test.ts): opens the store at argv[2], starts a
 * `test.chain` operation whose step argv[4] hangs, prints the operation id, and waits to be killed.
 */
import { silentLogger } from '../../../../shared/src/log.js';
import { openStore } from '../../store/store.js';
import { OperationEngine } from '../engine.js';
import { appendingExecutor, chainKind } from '../fakes.js';

const [dbPath, ledgerPath, hang] = process.argv.slice(2);
if (dbPath === undefined || ledgerPath === undefined || hang === undefined) throw new Error('usage: crash-child DB LEDGER HANG');
const store = openStore({ path: dbPath });
const engine = new OperationEngine({ repo: store.operations, events: store.events, log: silentLogger(), registry: { kinds: [chainKind], executors: [appendingExecutor(ledgerPath)] } });
const doc = await engine.start('test.chain', { steps: 5, hang: Number(hang) }, { actor: 'crash-test', cluster: 'crash' });
process.stdout.write(`${doc.id}\n`);
setInterval(() => {}, 60_000); // stay alive until SIGKILL

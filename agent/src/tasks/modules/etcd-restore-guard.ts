/**
 * The agent's last line of defence before `etcd_restore` touches a data directory: a restore (or
 * setting a data dir aside) while the old cluster still has quorum would fork it — two clusters
 * with the same member names and peer URLs, one of them with the writes made since the snapshot —
 * and a restore under a running member would corrupt it. So, whatever the controller believes:
 *
 *   - the local `etcd.service` must not be active (the controller stopped and unregistered it);
 *   - nothing may listen on the local member's client port (an etcd started some other way). A
 *     TCP connect, not an etcd request: a member without a leader does not answer status calls
 *     (measured with 3.5.33: they time out), and that is exactly the member found here;
 *   - no old peer may answer with a leader: etcd runs with CheckQuorum, so a member that follows a
 *     leader belongs to a cluster that has a majority right now. A peer that accepts connections
 *     but does not answer is a survivor of a lost quorum, which is the case being recovered.
 *
 * Every endpoint is probed at once with a short deadline, so dead members cost one timeout.
 */
import { connect as tcpConnect } from 'node:net';
import { BallastError } from '../../../../shared/src/errors.js';
import type { ModuleArgs } from '../../../../shared/src/tasks/modules.js';
import type { EtcdConnector } from '../../etcd/client.js';
import { STOPPED_STATES } from '../../host/ports.js';
import type { ModuleContext } from '../module.js';
import { loadEtcdTls } from './etcd-member.js';

/** The unit the etcd role installs (controller/src/roles/etcd.ts). */
export const ETCD_UNIT = 'etcd.service';
/** Deadline of each probe: a dead member must not hold the step for long. */
export const GUARD_PROBE_TIMEOUT_MS = 2_000;

type Args = ModuleArgs<'etcd_restore'>;

/** What the probes found, for the task's message. */
export interface GuardReport {
  probed: number;
  /** Endpoints that answered, without a leader (survivors of the lost quorum). */
  leaderless: string[];
}

/** Throws BALLAST_ERR_ETCD_STILL_SERVING when the restore must not go on; see the module comment. */
export async function assertNotServing(args: Args, ctx: ModuleContext, connect: EtcdConnector): Promise<GuardReport> {
  const unitState = await ctx.systemd.activeState(ETCD_UNIT);
  if (!STOPPED_STATES.has(unitState)) {
    throw new BallastError('BALLAST_ERR_ETCD_STILL_SERVING', `failed to ${args.action} etcd member: ${ETCD_UNIT} is ${unitState} on this host; stop it first (the recovery's stop step does)`);
  }
  const tls = await loadEtcdTls(args, ctx, 'etcd_restore');
  const client = connect({ endpoints: args.endpoints, tls, timeoutMs: GUARD_PROBE_TIMEOUT_MS, log: ctx.log });
  const [local = '', ...peers] = args.endpoints;
  if (await listening(local, ctx.signal)) {
    throw new BallastError('BALLAST_ERR_ETCD_STILL_SERVING', `failed to ${args.action} etcd member: something listens on the local member's client URL ${local}; stop etcd first`);
  }
  const probes = peers.map(async (url) => {
    const [status, open] = await Promise.allSettled([client.status(url, { signal: ctx.signal, timeoutMs: GUARD_PROBE_TIMEOUT_MS }), listening(url, ctx.signal)]);
    return { url, leader: status.status === 'fulfilled' ? status.value.leader : '0', open: open.status === 'fulfilled' && open.value };
  });
  const answers = await Promise.all(probes);
  if (ctx.signal.aborted) throw new BallastError('BALLAST_ERR_CANCELLED', 'failed to probe etcd before the restore: cancelled');
  const serving = answers.filter((a) => a.leader !== '0').map((a) => `${a.url} follows leader ${a.leader}`);
  const leaderless = answers.filter((a) => a.leader === '0' && a.open).map((a) => a.url);
  if (serving.length > 0) {
    throw new BallastError(
      'BALLAST_ERR_ETCD_STILL_SERVING',
      `failed to ${args.action} etcd member: the old cluster still has quorum (${serving.join('; ')}); recover only a cluster that lost quorum — replace single members with ballastctl node replace`,
    );
  }
  ctx.log.info({ probed: args.endpoints.length, leaderless }, 'no etcd endpoint serves with quorum');
  return { probed: args.endpoints.length, leaderless };
}

/** True when a TCP connection to `url`'s host and port is accepted within the probe deadline. */
function listening(url: string, signal: AbortSignal): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port || 2379), signal });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(GUARD_PROBE_TIMEOUT_MS, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

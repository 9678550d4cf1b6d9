/**
 * Debian's keepalived as the comparison: one VRRP instance for the same VIP on the same hosts, with
 * its default timing (advert_int 1) and a track_script that curls etcd's /health with the host's
 * client certificate, as kubespray/kube-vip users configure it. The rootfs has keepalived installed
 * but disabled (rootfs.ts); `useKeepalived` switches a lab from Ballast's agents to keepalived and
 * `useBallast` back. Only one keeper runs at a time, and the switch is persistent (enable/disable),
 * so a host powered on in the middle of a round comes back with the right one.
 */
import type { VipLab } from './setup.js';
import { ETCD_PKI, ETCD_PORT, VIP } from './setup.js';

/** keepalived.conf for one host. `priority`: highest wins the first election; nopreempt after that. */
export function keepalivedConf(options: { host: string; priority: number; vip: string; routerId?: number }): string {
  const curl = [
    '/usr/bin/curl -sf --max-time 1',
    `--cacert ${ETCD_PKI}/ca.crt --cert ${ETCD_PKI}/healthcheck-client.crt --key ${ETCD_PKI}/healthcheck-client.key`,
    `https://127.0.0.1:${ETCD_PORT}/health`,
  ].join(' ');
  return `# Managed by the Ballast VIP bench (test/lab/vip/keepalived.ts).
global_defs {
    router_id ${options.host}
    enable_script_security
    script_user root
}

vrrp_script etcd_health {
    script "${curl}"
    interval 1
    timeout 2
    fall 2
    rise 2
}

vrrp_instance VI_BALLAST {
    # All BACKUP + nopreempt: a returning host does not take the VIP back (Ballast does not either).
    state BACKUP
    nopreempt
    interface eth0
    virtual_router_id ${options.routerId ?? 51}
    priority ${options.priority}
    # keepalived's default: one advertisement per second, master down after 3 missed + skew.
    advert_int 1
    virtual_ipaddress {
        ${options.vip}/32 dev eth0
    }
    track_script {
        etcd_health
    }
}
`;
}

/** Writes keepalived.conf on every host (host i gets priority 150 − 10·i). */
export async function writeKeepalivedConfs(vl: VipLab): Promise<void> {
  await Promise.all(
    vl.hosts.map((host, i) =>
      vl.lab.exec(host, ['sh', '-c', 'mkdir -p /etc/keepalived && cat > /etc/keepalived/keepalived.conf'], {
        input: keepalivedConf({ host, priority: 150 - 10 * i, vip: VIP }),
      }),
    ),
  );
}

/** Stops and disables Ballast's agents (each releases the VIP), then enables and starts keepalived. */
export async function useKeepalived(vl: VipLab, steadyTimeoutMs = 30_000): Promise<string> {
  await Promise.all(vl.hosts.map((h) => vl.lab.exec(h, ['systemctl', 'disable', '--now', 'ballast-agent'], { timeoutMs: 30_000 })));
  await Promise.all(vl.hosts.map((h) => vl.lab.exec(h, ['systemctl', 'enable', '--now', 'keepalived'], { timeoutMs: 30_000 })));
  vl.system = 'keepalived';
  return vl.waitSteady(steadyTimeoutMs);
}

/** Stops and disables keepalived (it removes the VIP), then enables and starts the agents again. */
export async function useBallast(vl: VipLab, steadyTimeoutMs = 30_000): Promise<string> {
  await Promise.all(vl.hosts.map((h) => vl.lab.exec(h, ['systemctl', 'disable', '--now', 'keepalived'], { timeoutMs: 30_000 })));
  await Promise.all(vl.hosts.map((h) => vl.lab.exec(h, ['systemctl', 'enable', '--now', 'ballast-agent'], { timeoutMs: 30_000 })));
  vl.system = 'ballast';
  return vl.waitSteady(steadyTimeoutMs);
}

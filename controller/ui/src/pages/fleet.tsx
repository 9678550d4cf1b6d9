/** Fleet: every enrolled host, its state, last heartbeat and failing checks; re-read every second. */
import type { HostSummary } from '../../../../shared/src/api.js';
import { Badge, ErrorLine, Section } from '../components.js';
import { useSession } from '../context.js';
import { ago } from '../format.js';
import { usePoll } from '../live.js';

/** Fast enough that a host turning unreachable shows within the controller's detection + 1 s. */
const EVERY_MS = 1000;

export function Fleet() {
  const { api } = useSession();
  const hosts = usePoll((signal) => api.get<{ items: HostSummary[]; truncated?: unknown }>('/v1/hosts', signal), EVERY_MS);
  const now = Date.now();
  const items = hosts.data?.items ?? [];
  const counts = new Map<string, number>();
  for (const h of items) counts.set(h.state, (counts.get(h.state) ?? 0) + 1);
  return (
    <Section title="Fleet" testid="fleet">
      <ErrorLine error={hosts.error} />
      <p class="summary">
        {items.length} hosts
        {[...counts].map(([state, n]) => (
          <span key={state}>
            {' · '}
            {n} <Badge state={state} />
          </span>
        ))}
      </p>
      <table>
        <thead>
          <tr>
            <th>Host</th>
            <th>State</th>
            <th>Agent</th>
            <th>Last heartbeat</th>
            <th>Failing checks</th>
            <th>Address</th>
            <th>OS / kernel</th>
            <th>Version</th>
          </tr>
        </thead>
        <tbody>
          {items.map((h) => (
            <tr key={h.id} data-host={h.name}>
              <td class="name">{h.name}</td>
              <td>
                <Badge state={h.state} />
                {h.conflict === true && <span class="badge st-failed">identity conflict</span>}
              </td>
              <td>{h.connected ? 'connected' : 'not connected'}</td>
              <td title={h.lastHeartbeatAt ?? ''}>{ago(h.lastHeartbeatAt, now)}</td>
              <td class="checks">{h.failingChecks.length === 0 ? '—' : h.failingChecks.join(', ')}</td>
              <td>{h.address ?? ''}</td>
              <td>{[h.os, h.kernel].filter((x) => x !== null).join(' / ')}</td>
              <td>{h.agentVersion ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {items.length === 0 && hosts.data !== null && <p class="empty">No host is enrolled yet: ballastctl token create prints the join command.</p>}
    </Section>
  );
}

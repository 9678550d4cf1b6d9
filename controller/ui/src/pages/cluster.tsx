/**
 * A cluster: its etcd members (leader, learner, health), the VIP holder and candidates with a
 * "move here" action, and its Kubernetes nodes. Re-read every 3 s (a status call asks etcd and the
 * API server, so it is not polled faster).
 */
import { useState } from 'preact/hooks';
import type { ClusterList, ClusterStatus } from '../../../../shared/src/clusters-api.js';
import type { VipStatusResponse, VipView } from '../../../../shared/src/vip-api.js';
import { ApiError } from '../api.js';
import { ActionButton, Badge, ClusterPicker, ErrorLine, Section } from '../components.js';
import { useSession } from '../context.js';
import { usePoll } from '../live.js';

const EVERY_MS = 3000;

export function Cluster() {
  const { api } = useSession();
  const clusters = usePoll((signal) => api.get<ClusterList>('/v1/clusters', signal), EVERY_MS);
  // A controller built without the VIP service has no /v1/vip: no VIP panel rather than an error.
  const vips = usePoll(
    (signal) =>
      api.get<VipStatusResponse>('/v1/vip', signal).catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 404) return { items: [], observedAt: '' };
        throw err;
      }),
    EVERY_MS,
  );
  const [chosen, setChosen] = useState<string | null>(null);
  const names = (clusters.data?.items ?? []).map((c) => c.name);
  const name = chosen !== null && names.includes(chosen) ? chosen : (names[0] ?? null);
  return (
    <Section title="Cluster" testid="cluster">
      <ErrorLine error={clusters.error ?? vips.error} />
      {names.length > 0 ? (
        <ClusterPicker names={names} value={name} onChange={setChosen} />
      ) : (
        clusters.data !== null && <p class="empty">No cluster yet (ballastctl cluster create).</p>
      )}
      {name !== null && <ClusterDetail name={name} />}
      {(vips.data?.items ?? []).map((v) => (
        <VipPanel key={v.name} view={v} onMoved={vips.refresh} />
      ))}
    </Section>
  );
}

function ClusterDetail(props: { name: string }) {
  const { api } = useSession();
  const status = usePoll((signal) => api.get<ClusterStatus>(`/v1/clusters/${encodeURIComponent(props.name)}/status`, signal), EVERY_MS, props.name);
  const s = status.data;
  return (
    <div data-cluster={props.name}>
      <ErrorLine error={status.error} />
      <h3>etcd members</h3>
      {s?.etcd.error != null && <p class="error">{s.etcd.error}</p>}
      <table data-testid="etcd">
        <thead>
          <tr>
            <th>Member</th>
            <th>Health</th>
            <th>Leader</th>
            <th>Learner</th>
            <th>Peer URLs</th>
            <th>Problem</th>
          </tr>
        </thead>
        <tbody>
          {(s?.etcd.members ?? []).map((m) => (
            <tr key={m.id} data-member={m.name}>
              <td class="name">{m.name}</td>
              <td>
                <Badge state={m.healthy ? 'healthy' : 'unhealthy'} />
              </td>
              <td>{m.leader ? 'leader' : ''}</td>
              <td>{m.learner ? 'learner' : ''}</td>
              <td>{m.peerUrls.join(', ')}</td>
              <td>{m.problem ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Kubernetes nodes</h3>
      {s?.nodes.error != null && <p class="error">{s.nodes.error}</p>}
      <table data-testid="nodes">
        <thead>
          <tr>
            <th>Node</th>
            <th>Ready</th>
            <th>Roles</th>
          </tr>
        </thead>
        <tbody>
          {(s?.nodes.items ?? []).map((n) => (
            <tr key={n.name} data-node={n.name}>
              <td class="name">{n.name}</td>
              <td>
                <Badge state={n.ready ? 'ready' : 'not-ready'} />
              </td>
              <td>{n.roles.join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {s !== null && (
        <p>
          VIP {s.vipAddress}, holder as recorded in etcd: <strong>{s.vip.holder ?? 'none'}</strong>
          {s.vip.term !== null && ` (term ${s.vip.term})`}
          {s.vip.error !== null && <span class="error"> {s.vip.error}</span>}
        </p>
      )}
    </div>
  );
}

/** One VIP: holder, lease, and every candidate with a move action (audited as vip.move). */
function VipPanel(props: { view: VipView; onMoved: () => void }) {
  const { api } = useSession();
  const v = props.view;
  return (
    <div class="vip" data-vip={v.name}>
      <h3>
        VIP {v.name}: {v.address}/{v.prefixLength} on {v.interface}
      </h3>
      <p>
        Holder <strong data-testid="vip-holder">{v.holder ?? 'none'}</strong> ({v.holderSource}){v.term !== null && `, term ${v.term}`}
        {v.leaseLeftMs !== null && `, lease ${Math.round(v.leaseLeftMs)} ms left`}
      </p>
      <table>
        <thead>
          <tr>
            <th>Candidate</th>
            <th>State</th>
            <th>Healthy</th>
            <th>Sees holder</th>
            <th>Renew RTT p50 / p99</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {v.candidates.map((c) => (
            <tr key={c.host} data-candidate={c.host}>
              <td class="name">{c.host}</td>
              <td>
                <Badge state={c.state} />
                {c.excluded && ' excluded'}
                {!c.reachable && ' unreachable'}
              </td>
              <td title={c.healthMessage}>{c.healthy ? 'yes' : 'no'}</td>
              <td>{c.sees ?? ''}</td>
              <td>
                {c.renewRttP50Ms === null ? '' : `${c.renewRttP50Ms.toFixed(1)} / ${(c.renewRttP99Ms ?? 0).toFixed(1)} ms`}
              </td>
              <td>
                {c.host !== v.holder && (
                  <ActionButton
                    label="Move VIP here"
                    action="vip.move"
                    confirm={`Move VIP ${v.address} from ${v.holder ?? 'nobody'} to ${c.host}? Clients of the VIP see a short interruption.`}
                    run={() => api.post('/v1/vip/move', { to: c.host })}
                    onDone={props.onMoved}
                  />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

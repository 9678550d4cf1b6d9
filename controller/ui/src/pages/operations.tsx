/** Operations: the newest first, with state and progress; re-read every 2 s. A row opens its timeline. */
import type { OperationListResponse } from '../../../../shared/src/ops-api.js';
import { Badge, ErrorLine, Section } from '../components.js';
import { useSession } from '../context.js';
import { ago } from '../format.js';
import { usePoll } from '../live.js';

export function Operations() {
  const { api } = useSession();
  const ops = usePoll((signal) => api.get<OperationListResponse>('/v1/ops?limit=100', signal), 2000);
  const now = Date.now();
  const items = ops.data?.items ?? [];
  return (
    <Section title="Operations" testid="operations">
      <ErrorLine error={ops.error} />
      <table>
        <thead>
          <tr>
            <th>Operation</th>
            <th>Kind</th>
            <th>Cluster</th>
            <th>State</th>
            <th>Progress</th>
            <th>Current step</th>
            <th>By</th>
            <th>Updated</th>
          </tr>
        </thead>
        <tbody>
          {items.map((op) => (
            <tr key={op.id} data-op={op.id}>
              <td class="name">
                <a href={`#/ops/${op.id}`}>{op.id}</a>
              </td>
              <td>
                {op.kind}
                {op.check && ' (check)'}
              </td>
              <td>{op.cluster ?? ''}</td>
              <td>
                <Badge state={op.state} />
              </td>
              <td>
                {op.progress.done}/{op.progress.total}
              </td>
              <td>{op.current === null ? '' : `[${op.current.phase}] ${op.current.title}`}</td>
              <td>{op.createdBy}</td>
              <td>{ago(op.updatedAt, now)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {items.length === 0 && ops.data !== null && <p class="empty">No operation has run yet.</p>}
    </Section>
  );
}

/** The audit log: every API call that changes something (and every refusal), newest first; re-read every 2 s. */
import type { AuditEntry } from '../../../../shared/src/api.js';
import { Badge, ErrorLine, Section } from '../components.js';
import { useSession } from '../context.js';
import { clock } from '../format.js';
import { usePoll } from '../live.js';

export function Audit() {
  const { api } = useSession();
  const audit = usePoll((signal) => api.get<{ items: AuditEntry[] }>('/v1/audit?limit=200', signal), 2000);
  return (
    <Section title="Audit log" testid="audit">
      <ErrorLine error={audit.error} />
      <table>
        <thead>
          <tr>
            <th>Time</th>
            <th>Actor</th>
            <th>Role</th>
            <th>Action</th>
            <th>Target</th>
            <th>Outcome</th>
            <th>Detail</th>
          </tr>
        </thead>
        <tbody>
          {(audit.data?.items ?? []).map((a) => (
            <tr key={a.id} data-audit={`${a.actor} ${a.action} ${a.outcome}`}>
              <td title={a.ts}>{clock(a.ts)}</td>
              <td>{a.actor}</td>
              <td>{a.role}</td>
              <td>{a.action}</td>
              <td>{a.target}</td>
              <td>
                <Badge state={a.outcome} />
              </td>
              <td>{a.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}

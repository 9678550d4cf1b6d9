/**
 * Certificates with days left: what the controller issued or serves with (agent client
 * certificates, its CA and server certificate) and each cluster's PKI. Coloured as the alert
 * rules fire: under 30 days a warning, under 7 critical.
 */
import type { CertListResponse, IssuedCertListResponse } from '../../../../shared/src/certs-api.js';
import { ErrorLine, Section } from '../components.js';
import { useSession } from '../context.js';
import { daysClass } from '../format.js';
import { usePoll } from '../live.js';

const EVERY_MS = 30_000;

function Days(props: { days: number | null }) {
  return <td class={`days ${daysClass(props.days)}`}>{props.days === null ? '—' : `${props.days} d`}</td>;
}

export function Certs() {
  const { api } = useSession();
  const issued = usePoll((signal) => api.get<IssuedCertListResponse>('/v1/certs/issued', signal), EVERY_MS);
  const pki = usePoll((signal) => api.get<CertListResponse>('/v1/certs', signal), EVERY_MS);
  const byDays = <T extends { daysLeft: number | null }>(items: T[]) => [...items].sort((a, b) => (a.daysLeft ?? 1e9) - (b.daysLeft ?? 1e9));
  return (
    <Section title="Certificates" testid="certs">
      <ErrorLine error={issued.error ?? pki.error} />
      <h3>Controller and agents</h3>
      <table data-testid="issued">
        <thead>
          <tr>
            <th>Name</th>
            <th>Owner</th>
            <th>Kind</th>
            <th>Days left</th>
            <th>Expires</th>
            <th>Serial</th>
          </tr>
        </thead>
        <tbody>
          {byDays(issued.data?.items ?? []).map((c) => (
            <tr key={`${c.owner}/${c.name}`} data-cert={c.name}>
              <td class="name">{c.name}</td>
              <td>{c.owner}</td>
              <td>{c.kind}</td>
              <Days days={c.daysLeft} />
              <td>{c.notAfter.slice(0, 10)}</td>
              <td class="mono">{c.serial ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Cluster PKI</h3>
      <table data-testid="cluster-pki">
        <thead>
          <tr>
            <th>Cluster</th>
            <th>Name</th>
            <th>Kind</th>
            <th>Days left</th>
            <th>Expires</th>
            <th>Subject</th>
          </tr>
        </thead>
        <tbody>
          {byDays(pki.data?.items ?? []).map((c) => (
            <tr key={`${c.cluster}/${c.name}`} data-cert={`${c.cluster}/${c.name}`}>
              <td>{c.cluster}</td>
              <td class="name">{c.name}</td>
              <td>{c.kind}</td>
              <Days days={c.daysLeft} />
              <td>{c.notAfter?.slice(0, 10) ?? ''}</td>
              <td>{c.subject}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {pki.data !== null && pki.data.items.length === 0 && <p class="empty">No cluster PKI yet (cluster create issues it).</p>}
    </Section>
  );
}

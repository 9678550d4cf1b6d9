/**
 * Operations: the newest first, with state and progress; re-read every 2 s. A row opens its
 * timeline. A kind filter narrows the list on the controller (`GET /v1/ops?kind=…`, so the limit
 * counts matches); the Replacements view is this list fixed to the membership kinds.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { OperationListItem, OperationListResponse } from '../../../../shared/src/ops-api.js';
import { Badge, ErrorLine, Section } from '../components.js';
import { useSession } from '../context.js';
import { ago } from '../format.js';
import { usePoll } from '../live.js';

/** Membership changes (`ballastctl node replace|add|remove`): what the Replacements view lists. */
export const REPLACEMENT_KINDS: readonly string[] = ['node.replace', 'node.add', 'node.remove'];

/** Kinds offered by the filter besides the ones seen on the page. */
const KNOWN_KINDS: readonly string[] = ['cluster.create', 'cluster.reset', 'cluster.recover', ...REPLACEMENT_KINDS];

const REPLACEMENTS = REPLACEMENT_KINDS.join(',');

/** The operations list; with `kinds` fixed (the Replacements view) there is no filter to choose; `below` renders under it. */
export function Operations(props: { kinds?: readonly string[]; below?: (items: OperationListItem[]) => ComponentChildren }) {
  const { api } = useSession();
  const [chosen, setChosen] = useState('');
  const kind = props.kinds === undefined ? chosen : props.kinds.join(',');
  const query = kind === '' ? '' : `&kind=${encodeURIComponent(kind)}`;
  const ops = usePoll((signal) => api.get<OperationListResponse>(`/v1/ops?limit=100${query}`, signal), 2000, query);
  const now = Date.now();
  const items = ops.data?.items ?? [];
  const offered = [...new Set([...KNOWN_KINDS, ...items.map((o) => o.kind)])].sort();
  return (
    <>
      <ErrorLine error={ops.error} />
      {props.kinds === undefined && (
        <p>
          <label>
            Kind{' '}
            <select name="kind" value={chosen} onChange={(e) => setChosen((e.target as HTMLSelectElement).value)}>
              <option value="">all kinds</option>
              <option value={REPLACEMENTS}>replacements (node replace, add, remove)</option>
              {offered.map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
          </label>
        </p>
      )}
      <table data-testid="op-list">
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
            <tr key={op.id} data-op={op.id} data-kind={op.kind}>
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
      {items.length === 0 && ops.data !== null && <p class="empty">{kind === '' ? 'No operation has run yet.' : `No ${kind.split(',').join(', ')} operation has run yet.`}</p>}
      {props.below?.(items)}
    </>
  );
}

/** The Operations page. */
export function OperationsPage() {
  return (
    <Section title="Operations" testid="operations">
      <Operations />
    </Section>
  );
}

/**
 * Replacements: the membership operations (`ballastctl node replace|add|remove`) newest first,
 * and the per-host timeline of the newest few, live — a replace touches the old host, the new one
 * and a peer, which is what the lanes show. Each opens its full operation page.
 */
import type { OperationListItem } from '../../../../shared/src/ops-api.js';
import { Badge, ErrorLine, Section } from '../components.js';
import { clock } from '../format.js';
import { Operations, REPLACEMENT_KINDS } from './operations.js';
import { Timeline, useOperation } from './operation.js';

/** Timelines drawn at once (each is a long-poll of its own). */
const TIMELINES = 3;

export function Replacements() {
  return (
    <Section title="Replacements" testid="replacements">
      <p class="hint">Node replace, add and remove (ballastctl node …). Each runs as an operation, one per cluster at a time.</p>
      <Operations kinds={REPLACEMENT_KINDS} below={(items) => items.slice(0, TIMELINES).map((o) => <ReplacementCard key={o.id} item={o} />)} />
    </Section>
  );
}

/** A host of the membership input (`{ name, address, roles }`), or null. */
function hostName(v: unknown): string | null {
  if (typeof v !== 'object' || v === null) return null;
  const name: unknown = Reflect.get(v, 'name');
  return typeof name === 'string' ? name : null;
}

/** "h2 → h4" (replace), "adds w2", "removes w1": the hosts the change takes out and brings in. */
function change(input: Record<string, unknown>): string {
  const out = hostName(input.old);
  const into = hostName(input.add);
  if (out !== null && into !== null) return `${out} → ${into}`;
  if (into !== null) return `adds ${into}`;
  return out === null ? '' : `removes ${out}`;
}

function ReplacementCard(props: { item: OperationListItem }) {
  const doc = useOperation(props.item.id);
  const op = doc.data;
  return (
    <div class="card" data-replacement={props.item.id}>
      <h3>
        <a href={`#/ops/${props.item.id}`}>{props.item.kind}</a> {op !== null && change(op.input)} <Badge state={op?.state ?? props.item.state} />{' '}
        <span class="hint">
          {clock(props.item.createdAt)} by {props.item.createdBy}
        </span>
      </h3>
      <ErrorLine error={doc.error} />
      {op !== null && <Timeline op={op} />}
    </div>
  );
}

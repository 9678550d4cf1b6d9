/**
 * One operation, live: the controller's long-poll (`GET /v1/ops/:id?after=SEQ&waitMs=…`, what
 * `ballastctl op --follow` uses) returns as soon as a step moves, so the timeline redraws step by
 * step without a reload. Resume and abort (with a confirmation) for operators.
 */
import type { OperationDocument, OperationStep } from '../../../../shared/src/ops-api.js';
import { ActionButton, Badge, ErrorLine, Section } from '../components.js';
import { useSession } from '../context.js';
import { clock, duration } from '../format.js';
import { type Live, useLongPoll } from '../live.js';

const CLUSTER_LANE = 'cluster';

/** The longest park per request (the route allows 60 s; shorter survives idle proxies). */
const WAIT_MS = 25_000;

/** One operation's document, redrawn as each step moves (the long-poll above). */
export function useOperation(id: string): Live<OperationDocument> {
  const { api } = useSession();
  const path = `/v1/ops/${encodeURIComponent(id)}`;
  return useLongPoll<OperationDocument>((previous, signal) => api.get<OperationDocument>(previous === null ? path : `${path}?after=${previous.seq}&waitMs=${WAIT_MS}`, signal), id);
}

export function Operation(props: { id: string }) {
  const { api } = useSession();
  const doc = useOperation(props.id);
  const op = doc.data;
  if (op === null) return <Section title={`Operation ${props.id}`}>{doc.error === null ? <p>Loading…</p> : <ErrorLine error={doc.error} />}</Section>;
  const finished = op.state === 'succeeded' || op.state === 'failed' || op.state === 'aborted';
  const pct = op.progress.total === 0 ? 0 : Math.round((100 * op.progress.done) / op.progress.total);
  return (
    <Section title={`Operation ${op.id}`} testid="operation">
      <ErrorLine error={doc.error} />
      <p class="op-head">
        <Badge state={op.state} /> {op.kind}
        {op.check && ' (check mode)'} {op.cluster !== null && `on ${op.cluster}`} · started by {op.createdBy} at {clock(op.createdAt)} · {op.progress.done}/{op.progress.total} steps
      </p>
      <div class="progress" role="progressbar" aria-label="progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
        <div class="bar" style={{ width: `${pct}%` }} />
      </div>
      {op.error !== null && (
        <p class="error" data-testid="op-error">
          {op.error.code}: {op.error.message}
          {op.error.host !== null && ` (host ${op.error.host})`}
        </p>
      )}
      <p class="actions">
        {op.state === 'paused' && (
          <ActionButton label="Resume" action="op.resume" confirm={`Resume ${op.id} at ${op.error?.stepKey ?? 'its next step'}?`} run={() => api.post(`/v1/ops/${op.id}/resume`)} />
        )}
        {!finished && (
          <ActionButton
            label="Abort"
            action="op.abort"
            danger
            confirm={`Abort ${op.id} (${op.kind})? Its remaining steps will not run; nothing already done is torn down.`}
            run={() => api.post(`/v1/ops/${op.id}/abort`)}
          />
        )}
      </p>
      <Timeline op={op} />
      <Steps steps={op.steps} />
    </Section>
  );
}

/**
 * A lane per host for the steps that act on one host (etcd joins, kubeadm init/join, the VIP
 * bootstrap); steps over several hosts at once or over the cluster (roles on every host, gates,
 * PKI) share the `cluster` lane. Each step is a bar over the operation's time span.
 */
export function Timeline(props: { op: OperationDocument }) {
  const { op } = props;
  const start = Date.parse(op.createdAt);
  const end = Math.max(op.endedAt === null ? Date.now() : Date.parse(op.endedAt), start + 1000);
  const lanes = new Map<string, OperationStep[]>();
  for (const s of op.steps) {
    const lane = s.host ?? CLUSTER_LANE;
    lanes.set(lane, [...(lanes.get(lane) ?? []), s]);
  }
  const pos = (iso: string | null, fallback: number) => ((iso === null ? fallback : Date.parse(iso)) - start) / (end - start);
  return (
    <div class="timeline" data-testid="timeline">
      <div class="lane axis">
        <span class="lane-name" />
        <span>{clock(op.createdAt)}</span>
        <span>{duration(end - start)}</span>
        <span>{op.endedAt === null ? 'now' : clock(op.endedAt)}</span>
      </div>
      {[...lanes].map(([lane, steps]) => (
        <div class="lane" key={lane} data-lane={lane}>
          <span class="lane-name">{lane}</span>
          <div class="lane-track">
            {steps.map((s) => {
              const left = s.startedAt === null ? 0 : pos(s.startedAt, start);
              const right = s.startedAt === null ? 0 : pos(s.endedAt, end);
              return (
                <span
                  key={s.key}
                  class={`seg st-${s.state}`}
                  data-step={s.key}
                  data-state={s.state}
                  title={`${s.title}: ${s.state}${s.durationMs === null ? '' : ` in ${duration(s.durationMs)}`}`}
                  style={{ left: `${(100 * left).toFixed(2)}%`, width: `max(4px, ${(100 * Math.max(0, right - left)).toFixed(2)}%)` }}
                />
              );
            })}
          </div>
        </div>
      ))}
    </div>
  );
}

/** Every step in order, with what it reported. */
function Steps(props: { steps: OperationStep[] }) {
  return (
    <table data-testid="steps">
      <thead>
        <tr>
          <th>#</th>
          <th>Phase</th>
          <th>Step</th>
          <th>Host</th>
          <th>State</th>
          <th>Tries</th>
          <th>Started</th>
          <th>Took</th>
          <th>Message</th>
        </tr>
      </thead>
      <tbody>
        {props.steps.map((s) => (
          <tr key={s.key} data-step-row={s.key}>
            <td>{s.idx + 1}</td>
            <td>{s.phase}</td>
            <td>{s.title}</td>
            <td>{s.host ?? ''}</td>
            <td>
              <Badge state={s.state} />
              {s.changed === true && ' changed'}
            </td>
            <td>{s.attempts}</td>
            <td>{clock(s.startedAt)}</td>
            <td>{duration(s.durationMs)}</td>
            <td class={s.error === null ? '' : 'error'}>{s.error === null ? (s.progress ?? s.message) : `${s.error.code}: ${s.error.message}`}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

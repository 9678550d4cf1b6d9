/**
 * etcd snapshots and restore drills of a cluster, through the routes `ballastctl etcd snapshot|drill`
 * uses: every snapshot (size, revision, keys, member, duration, checksum, verification, S3 copy),
 * the schedule and retention in force, and the drills with their outcome and steps. Operators take
 * a snapshot now or run a drill (audited as `etcd.snapshot` / `etcd.drill`); the call returns when
 * the work is done, so the page shows it running, then the result, and re-reads the lists at once.
 * Re-read every 5 s otherwise (scheduled snapshots appear by themselves).
 */
import { useEffect, useState } from 'preact/hooks';
import type { ClusterList } from '../../../../shared/src/clusters-api.js';
import type { DrillInfo, SnapshotInfo, SnapshotPolicyInfo } from '../../../../shared/src/etcd-api.js';
import { ActionButton, Badge, ClusterPicker, ErrorLine, Section } from '../components.js';
import { useSession } from '../context.js';
import { ago, bytes, clock, duration } from '../format.js';
import { usePoll } from '../live.js';

const EVERY_MS = 5000;
/** Drills listed (the store keeps the history; the page shows the newest). */
const DRILLS_SHOWN = 20;

interface Items<T> {
  items: T[];
}

/** What the page is doing for the operator, and what came of it. */
interface Job {
  what: string;
  since: number;
}

export function Snapshots() {
  const { api } = useSession();
  const clusters = usePoll((signal) => api.get<ClusterList>('/v1/clusters', signal), EVERY_MS);
  const [chosen, setChosen] = useState<string | null>(null);
  const names = (clusters.data?.items ?? []).map((c) => c.name);
  const name = chosen !== null && names.includes(chosen) ? chosen : (names[0] ?? null);
  return (
    <Section title="Snapshots" testid="snapshots">
      <ErrorLine error={clusters.error} />
      {names.length > 1 && (
        <ClusterPicker names={names} value={name} onChange={setChosen} />
      )}
      {names.length === 0 && clusters.data !== null && <p class="empty">No cluster yet (ballastctl cluster create).</p>}
      {name !== null && <ClusterSnapshots key={name} cluster={name} />}
    </Section>
  );
}

function ClusterSnapshots(props: { cluster: string }) {
  const { api } = useSession();
  const q = `cluster=${encodeURIComponent(props.cluster)}`;
  const snaps = usePoll((signal) => api.get<Items<SnapshotInfo>>(`/v1/etcd/snapshots?${q}`, signal), EVERY_MS, q);
  const drills = usePoll((signal) => api.get<Items<DrillInfo>>(`/v1/etcd/drills?${q}`, signal), EVERY_MS, q);
  const policy = usePoll((signal) => api.get<SnapshotPolicyInfo>(`/v1/etcd/schedule?${q}`, signal), EVERY_MS * 6, q);
  const [job, setJob] = useState<Job | null>(null);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const track = async <T,>(what: string, call: () => Promise<T>): Promise<T> => {
    setJob({ what, since: Date.now() });
    setResult(null);
    try {
      return await call();
    } finally {
      setJob(null);
    }
  };
  const items = [...(snaps.data?.items ?? [])].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return (
    <>
      <ErrorLine error={snaps.error ?? drills.error ?? policy.error} />
      <Policy info={policy.data} />
      <p class="actions">
        <ActionButton
          label="Snapshot now"
          action="etcd.snapshot"
          confirm={`Take an etcd snapshot of ${props.cluster} now? One member streams its database to the controller, which seals it and copies it off-host.`}
          run={() => track('Taking a snapshot', () => api.post<SnapshotInfo>('/v1/etcd/snapshots', { cluster: props.cluster }))}
          onDone={(s) => {
            setResult({ ok: true, text: `Snapshot ${s.id} taken from ${s.member}: ${bytes(s.size)}, revision ${s.revision}, ${s.totalKeys} keys, in ${duration(s.durationMs)}${s.s3Key === null ? '' : '; copied to S3'}.` });
            snaps.refresh();
          }}
        />{' '}
        <ActionButton
          label="Run drill"
          action="etcd.drill"
          confirm={`Restore the newest snapshot of ${props.cluster} into a throw-away etcd on the controller and check it? The cluster itself is not touched.`}
          run={() => track('Running a restore drill', () => api.post<DrillInfo>('/v1/etcd/drills', { cluster: props.cluster }))}
          onDone={(d) => {
            setResult({ ok: d.outcome === 'passed', text: `Drill of ${d.snapshotId} ${d.outcome} in ${duration(d.durationMs)}${d.error === null ? '' : `: ${d.error}`}.` });
            drills.refresh();
            snaps.refresh();
          }}
        />{' '}
        {job !== null && <Running job={job} />}
        {job === null && result !== null && (
          <span class={result.ok ? 'ok' : 'error'} data-testid="action-result">
            {result.text}
          </span>
        )}
      </p>
      <SnapshotTable items={items} loaded={snaps.data !== null} />
      <Drills items={(drills.data?.items ?? []).slice(0, DRILLS_SHOWN)} loaded={drills.data !== null} />
    </>
  );
}

/** "Taking a snapshot… 4 s", ticking each second while the call is out. */
function Running(props: { job: Job }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return (
    <span class="running" data-testid="action-running">
      {props.job.what}… {Math.round((now - props.job.since) / 1000)} s
    </span>
  );
}

function Policy(props: { info: SnapshotPolicyInfo | null }) {
  const p = props.info?.policy;
  if (p === undefined) return null;
  return (
    <p class="summary" data-testid="policy">
      Schedule: {p.enabled ? <code>{p.schedule}</code> : 'off'} · keep {p.keepHourly} hourly, {p.keepDaily} daily · drills: <code>{p.drillSchedule}</code> · set by {props.info?.source}
    </p>
  );
}

/** Corrupt (its last verification failed), verified, or not checked since it was taken. */
function verification(s: SnapshotInfo): 'corrupt' | 'verified' | 'unverified' {
  if (s.verifyError !== null) return 'corrupt';
  return s.verifiedAt === null ? 'unverified' : 'verified';
}

function SnapshotTable(props: { items: SnapshotInfo[]; loaded: boolean }) {
  const now = Date.now();
  return (
    <>
      <h3>Snapshots ({props.items.length})</h3>
      <table data-testid="snapshot-list">
        <thead>
          <tr>
            <th>Snapshot</th>
            <th>Taken</th>
            <th>Size</th>
            <th>Revision</th>
            <th>Keys</th>
            <th>Member</th>
            <th>Took</th>
            <th>sha256</th>
            <th>State</th>
            <th>S3</th>
          </tr>
        </thead>
        <tbody>
          {props.items.map((s) => (
            <tr key={s.id} data-snapshot={s.id}>
              <td class="name mono">
                {s.id}
                {s.trigger === 'manual' && <span class="hint"> manual</span>}
              </td>
              <td title={s.createdAt}>
                {clock(s.createdAt)} ({ago(s.createdAt, now)})
              </td>
              <td data-size={s.size} title={`${s.size} bytes`}>
                {bytes(s.size)}
              </td>
              <td data-revision={s.revision}>{s.revision}</td>
              <td>{s.totalKeys}</td>
              <td>{s.member}</td>
              <td>{duration(s.durationMs)}</td>
              <td class="mono" title={s.sha256}>
                {s.sha256.slice(0, 12)}
              </td>
              <td title={s.verifyError ?? s.verifiedAt ?? 'not verified since it was taken'}>
                <Badge state={verification(s)} />
              </td>
              <td data-s3={s.s3Key === null ? 'no' : 'yes'} title={s.s3Key ?? 'no off-host copy'}>
                {s.s3Key === null ? '—' : 'yes'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.loaded && props.items.length === 0 && <p class="empty">No snapshot yet.</p>}
    </>
  );
}

function Drills(props: { items: DrillInfo[]; loaded: boolean }) {
  const last = props.items[0];
  const now = Date.now();
  return (
    <>
      <h3>Restore drills</h3>
      {last !== undefined && (
        <p data-testid="last-drill">
          Last drill: <Badge state={last.outcome} /> {duration(last.durationMs)}, {ago(last.startedAt, now)}, of {last.snapshotId}
          {last.error !== null && <span class="error"> — {last.error}</span>}
        </p>
      )}
      {last !== undefined && (
        <table data-testid="drill-steps">
          <thead>
            <tr>
              <th>Step</th>
              <th>Outcome</th>
              <th>Took</th>
              <th>Detail</th>
            </tr>
          </thead>
          <tbody>
            {last.steps.map((s) => (
              <tr key={s.name} data-drill-step={s.name}>
                <td>{s.name}</td>
                <td>
                  <Badge state={s.outcome} />
                </td>
                <td>{duration(s.durationMs)}</td>
                <td>{s.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Drill history</h3>
      <table data-testid="drill-list">
        <thead>
          <tr>
            <th>Started</th>
            <th>Snapshot</th>
            <th>Outcome</th>
            <th>Took</th>
            <th>Error</th>
          </tr>
        </thead>
        <tbody>
          {props.items.map((d) => (
            <tr key={d.id} data-drill={d.id}>
              <td title={d.startedAt}>{clock(d.startedAt)}</td>
              <td class="mono">{d.snapshotId}</td>
              <td>
                <Badge state={d.outcome} />
              </td>
              <td>{duration(d.durationMs)}</td>
              <td class="error">{d.error ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.loaded && props.items.length === 0 && <p class="empty">No drill has run yet.</p>}
    </>
  );
}

/** Small shared pieces: state badges, error lines, and the action button with its confirmation. */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { describeError } from './api.js';
import { useSession } from './context.js';

/** A coloured state word; `data-state` lets tests and CSS read it. */
export function Badge(props: { state: string }) {
  return (
    <span class={`badge st-${props.state}`} data-state={props.state}>
      {props.state}
    </span>
  );
}

/** A failed read, shown above the last good data. */
export function ErrorLine(props: { error: string | null }) {
  return props.error === null ? null : (
    <p class="error" role="alert">
      {props.error}
    </p>
  );
}

/** A titled section. */
export function Section(props: { title: string; children: ComponentChildren; testid?: string }) {
  return (
    <section data-testid={props.testid}>
      <h2>{props.title}</h2>
      {props.children}
    </section>
  );
}

/** The "Cluster" chooser of the pages that show one cluster at a time. */
export function ClusterPicker(props: { names: string[]; value: string | null; onChange: (name: string) => void }) {
  return (
    <p>
      <label>
        Cluster{' '}
        <select value={props.value ?? ''} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
          {props.names.map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </label>
    </p>
  );
}

/**
 * A button that performs an operator action after a confirmation dialog. Disabled for a viewer,
 * with the reason as its tooltip: the API would refuse the call (403) anyway. The dialog stays up
 * ("Working…") until the API answers; `onDone` receives the answer (e.g. the snapshot taken).
 */
export function ActionButton<T>(props: { label: string; confirm: string; action: string; run: () => Promise<T>; onDone?: (result: T) => void; danger?: boolean }) {
  const session = useSession();
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<string | null>(null);
  const go = async () => {
    setBusy(true);
    setResult(null);
    try {
      const value = await props.run();
      setResult(null);
      props.onDone?.(value);
    } catch (err) {
      setResult(describeError(err));
    } finally {
      setBusy(false);
      setAsking(false);
    }
  };
  const title = session.canAct ? props.action : `${props.action} needs role operator; you are ${session.role}`;
  return (
    <span class="action">
      <button type="button" class={props.danger ? 'danger' : ''} disabled={!session.canAct || busy} title={title} data-action={props.action} onClick={() => setAsking(true)}>
        {props.label}
      </button>
      {asking && (
        <div class="modal" role="dialog" aria-modal="true" aria-label={props.label}>
          <div class="modal-box">
            <p>{props.confirm}</p>
            <button type="button" class={props.danger ? 'danger' : ''} disabled={busy} data-confirm="yes" onClick={() => void go()}>
              {busy ? 'Working…' : 'Yes, do it'}
            </button>
            <button type="button" disabled={busy} onClick={() => setAsking(false)}>
              Cancel
            </button>
          </div>
        </div>
      )}
      {result !== null && (
        <span class="error" data-action-error={props.action}>
          {result}
        </span>
      )}
    </span>
  );
}

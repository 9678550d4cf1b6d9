/**
 * Events, live: the newest 100, then the controller's long-poll (`GET /v1/events?after=N&wait=…`,
 * what `ballastctl events --follow` uses) appends each new event as it is written. Newest on top.
 */
import { useState } from 'preact/hooks';
import type { BallastEvent } from '../../../../shared/src/api.js';
import { ErrorLine, Section } from '../components.js';
import { useSession } from '../context.js';
import { clock } from '../format.js';
import { useLongPoll } from '../live.js';

/** Seconds the controller may park one request. */
const WAIT_S = 25;
/** Events kept on the page; older ones drop off the bottom. */
const KEEP = 500;

interface Page {
  items: BallastEvent[];
  last: number;
}

export function Events() {
  const { api } = useSession();
  const [host, setHost] = useState('');
  const filter = host.trim() === '' ? '' : `&host=${encodeURIComponent(host.trim())}`;
  const events = useLongPoll<Page>(async (previous, signal) => {
    if (previous === null) return api.get<Page>(`/v1/events?limit=100${filter}`, signal);
    const next = await api.get<Page>(`/v1/events?after=${previous.last}&wait=${WAIT_S}&limit=100${filter}`, signal);
    return { items: [...previous.items, ...next.items].slice(-KEEP), last: next.last };
  }, filter);
  const items = [...(events.data?.items ?? [])].reverse();
  return (
    <Section title="Events" testid="events">
      <ErrorLine error={events.error} />
      <p>
        <label>
          Host{' '}
          <input type="search" value={host} placeholder="all hosts" maxLength={63} onChange={(e) => setHost((e.target as HTMLInputElement).value)} />
        </label>{' '}
        <span class="live">live</span>
      </p>
      <table>
        <thead>
          <tr>
            <th>Time</th>
            <th>Host</th>
            <th>Kind</th>
            <th>Message</th>
          </tr>
        </thead>
        <tbody>
          {items.map((e) => (
            <tr key={e.id} data-event={e.id} data-kind={e.kind}>
              <td title={e.ts}>{clock(e.ts)}</td>
              <td>{e.host ?? ''}</td>
              <td>{e.kind}</td>
              <td>{e.message}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}

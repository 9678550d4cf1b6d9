/**
 * THE FLOOR (DESIGN.md "Scale: the floor on this machine"): the least a server can do for the same
 * agents over the same transport. HTTPS + ws on loopback, client certificates requested and
 * verified against the same CA, and per frame only JSON parse, a Map update and a JSON ack —
 * no validation, no store, no metrics. The fan-in benchmark runs it in the same run, with the same
 * agents and load generators, so the controller can be judged as a ratio to it.
 *
 *   node dist/bench/floor-server.js --cert server.crt --key server.key --ca ca.crt
 * Prints `listening <port>` on stdout (and sends {port} over IPC when there is a channel).
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';

const { values } = parseArgs({
  options: {
    cert: { type: 'string' },
    key: { type: 'string' },
    ca: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
  },
});
if (values.cert === undefined || values.key === undefined || values.ca === undefined) {
  process.stderr.write('usage: floor-server --cert FILE --key FILE --ca FILE [--host H] [--port P]\n');
  process.exit(2);
}

interface HostEntry {
  seq: number;
  lastAt: number;
  facts: unknown;
  health: unknown;
}

const hosts = new Map<string, HostEntry>();
const server = createServer({
  cert: readFileSync(values.cert),
  key: readFileSync(values.key),
  ca: readFileSync(values.ca),
  requestCert: true,
  rejectUnauthorized: false,
  minVersion: 'TLSv1.2',
});
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 4 * 1024 * 1024 });

server.on('upgrade', (req, socket, head) => {
  const tls = req.socket as TLSSocket;
  if (!tls.authorized) {
    socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
    return;
  }
  const name = String(tls.getPeerCertificate().subject?.CN ?? '');
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on('message', (data: Buffer) => {
      let msg: { type?: unknown; seq?: unknown; ts?: unknown; facts?: unknown; health?: unknown };
      try {
        msg = JSON.parse(data.toString('utf8')) as typeof msg;
      } catch {
        return;
      }
      let entry = hosts.get(name);
      if (entry === undefined) {
        entry = { seq: 0, lastAt: 0, facts: null, health: null };
        hosts.set(name, entry);
      }
      const now = Date.now();
      switch (msg.type) {
        case 'hb':
          entry.seq = Number(msg.seq);
          entry.lastAt = now;
          ws.send(JSON.stringify({ type: 'hb-ack', seq: msg.seq, ts: msg.ts, serverTime: now }));
          return;
        case 'hello':
          entry.lastAt = now;
          ws.send(JSON.stringify({ type: 'welcome', protocol: 1, hostId: name, name, heartbeatIntervalMs: 1000, healthIntervalMs: 15000, serverTime: now }));
          return;
        case 'facts':
          entry.facts = msg.facts;
          return;
        case 'health':
          entry.health = msg.health;
          return;
      }
    });
    ws.on('error', () => ws.terminate());
  });
});

server.listen(Number(values.port), values.host, () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  process.stdout.write(`listening ${port}\n`);
  process.send?.({ type: 'listening', port });
});
const stop = () => {
  for (const ws of wss.clients) ws.terminate();
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

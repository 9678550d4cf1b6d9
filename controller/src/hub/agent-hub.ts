import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { ErrorBody, ErrorCode } from '../../../shared/src/errors.js';
import { AGENT_WS_PATH, HARD_MAX_FRAME_BYTES } from '../../../shared/src/protocol/limits.js';
import { AgentSession, type SessionContext } from './agent-session.js';

/** The outcome of checking a verified client certificate against the store. */
export type Identification =
  | { ok: true; host: { id: string; name: string } }
  | { ok: false; status: number; error: ErrorBody };

/** Decides whether a client certificate (already verified against our CA by TLS) may connect. */
export interface HubAuthPort {
  identify(peer: { commonName: string; serial: string }): Identification;
}

/** Options for {@link AgentHub}. */
export interface AgentHubOptions {
  ctx: SessionContext;
  auth: HubAuthPort;
  log: Logger;
}

/**
 * Accepts agent websockets. Authentication happens before the upgrade (vitest's setup.ts checks its
 * token the same way): the TLS layer has verified the client certificate against our CA, we then
 * refuse revoked or unknown certificates with an HTTP status and a coded JSON body that the agent
 * prints, and count every refusal by reason.
 */
export class AgentHub {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: HARD_MAX_FRAME_BYTES,
    perMessageDeflate: false,
    clientTracking: true,
  });

  constructor(private readonly options: AgentHubOptions) {}

  /** Handles an HTTP upgrade request from the server's `upgrade` event. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    if (path !== AGENT_WS_PATH) {
      this.refuse(socket, 404, { code: 'BALLAST_ERR_NOT_FOUND', message: `no websocket endpoint at ${path}` }, 'bad_path');
      return;
    }
    const tls = req.socket as TLSSocket;
    const peer = typeof tls.getPeerCertificate === 'function' ? tls.getPeerCertificate() : undefined;
    if (peer === undefined || peer === null || Object.keys(peer).length === 0) {
      this.refuse(
        socket,
        401,
        { code: 'BALLAST_ERR_UNAUTHENTICATED', message: 'agent connections need a client certificate (run `ballast-agent join` first)' },
        'no_client_cert',
      );
      return;
    }
    if (!tls.authorized) {
      this.refuse(
        socket,
        401,
        { code: 'BALLAST_ERR_UNAUTHENTICATED', message: `client certificate rejected: ${String(tls.authorizationError)}` },
        'bad_client_cert',
      );
      return;
    }
    const who = this.options.auth.identify({ commonName: String(peer.subject?.CN ?? ''), serial: peer.serialNumber });
    if (!who.ok) {
      this.refuse(socket, who.status, who.error, reasonLabel(who.error.code));
      return;
    }
    const address = req.socket.remoteAddress ?? null;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      new AgentSession(this.options.ctx, ws, { ...who.host, address: address?.replace(/^::ffff:/, '') ?? null });
    });
  }

  /**
   * Closes every agent socket (controller shutdown; agents reconnect with backoff) and resolves once
   * all of them have closed, terminating those still open after `timeoutMs`.
   */
  closeAll(code: number, reason: string, timeoutMs = 2000): Promise<void> {
    // Waits for every socket's close (the sessions record their disconnects in the store), so a
    // shutdown never closes the store under a session that is still closing; a peer that does not
    // answer the closing handshake in time is terminated.
    const open = [...this.wss.clients];
    const closed = Promise.all(open.map((ws) => (ws.readyState === ws.CLOSED ? Promise.resolve() : new Promise<void>((resolve) => ws.once('close', () => resolve())))));
    for (const ws of open) ws.close(code, reason);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    return Promise.race([closed, late])
      .then(() => {
        for (const ws of open) if (ws.readyState !== ws.CLOSED) ws.terminate();
        return closed.then(() => undefined);
      })
      .finally(() => clearTimeout(timer));
  }

  /** Open sockets, authenticated or still waiting for hello. */
  get socketCount(): number {
    return this.wss.clients.size;
  }

  private refuse(socket: Duplex, status: number, error: ErrorBody, reason: string): void {
    this.options.ctx.metrics.authRejected.inc({ reason });
    this.options.log.warn({ status, code: error.code, reason: error.message }, 'refused agent connection');
    const body = JSON.stringify(error);
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
}

const STATUS_TEXT: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' };

function reasonLabel(code: ErrorCode): string {
  return code.replace(/^BALLAST_ERR_/, '').toLowerCase();
}

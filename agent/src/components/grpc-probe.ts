import { connect as http2Connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { messageOf } from '../../../shared/src/errors.js';
import type { ProbeResult } from './supervised-unit.js';

/** containerd's Version RPC: always registered, needs no namespace, and its answer names the version. */
export const CONTAINERD_VERSION_PATH = '/containerd.services.version.v1.Version/Version';

/** Responses larger than this are not a Version answer; stop reading. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/** Options of {@link probeGrpcUnix}. */
export interface GrpcProbeOptions {
  /** The unix socket, e.g. /run/containerd/containerd.sock. */
  socket: string;
  /** The method to call with an empty request message. */
  path: string;
  timeoutMs: number;
}

/**
 * Calls one unary gRPC method with an empty request over a unix socket, using node's own HTTP/2
 * (no gRPC library for one call). Any gRPC answer proves the daemon is serving; a refused or
 * missing socket, a non-gRPC answer or silence until the timeout is a failure. For containerd the
 * Version reply's first field is the version string, reported in the message.
 */
export function probeGrpcUnix(opts: GrpcProbeOptions): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const socket = netConnect(opts.socket);
    const session = http2Connect('http://localhost', { createConnection: () => socket });
    const finish = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      // The session owns the socket, but closing it here too guarantees a hung daemon can never
      // cost us one fd per probe, whatever state the session was in.
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ ok: false, message: `no answer on ${opts.socket} within ${opts.timeoutMs} ms` }), opts.timeoutMs);
    session.on('error', (err) => finish({ ok: false, message: `cannot reach ${opts.socket}: ${messageOf(err)}` }));
    const req = session.request({ ':method': 'POST', ':path': opts.path, 'content-type': 'application/grpc', te: 'trailers' });
    let status: string | undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('response', (headers) => {
      if (headers[':status'] !== 200 || !String(headers['content-type'] ?? '').startsWith('application/grpc')) {
        finish({ ok: false, message: `${opts.socket} answered HTTP ${headers[':status']}, not gRPC` });
      }
      // A "trailers-only" answer (an error) carries grpc-status in the headers.
      if (headers['grpc-status'] !== undefined) status = String(headers['grpc-status']);
    });
    req.on('trailers', (trailers) => {
      if (trailers['grpc-status'] !== undefined) status = String(trailers['grpc-status']);
    });
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
    });
    req.on('error', (err) => finish({ ok: false, message: `call to ${opts.socket} failed: ${messageOf(err)}` }));
    req.on('end', () => {
      if (status === undefined) {
        finish({ ok: false, message: `${opts.socket} answered without a gRPC status` });
      } else if (status !== '0') {
        finish({ ok: true, message: `${opts.socket} answers (gRPC status ${status})` });
      } else {
        const version = firstStringField(Buffer.concat(chunks).subarray(5));
        finish({ ok: true, message: `${opts.socket} answers${version ? ` (version ${version})` : ''}` });
      }
    });
    // An empty message: not compressed (0), length 0.
    req.end(Buffer.alloc(5));
  });
}

/** Field 1 of a protobuf message when it is a length-delimited string; undefined otherwise. */
export function firstStringField(message: Buffer): string | undefined {
  let offset = 0;
  const varint = (): number | undefined => {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = message[offset++];
      if (byte === undefined) return undefined;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    return undefined;
  };
  const tag = varint();
  if (tag !== 0x0a) return undefined;
  const length = varint();
  if (length === undefined || offset + length > message.length) return undefined;
  return message.subarray(offset, offset + length).toString('utf8');
}

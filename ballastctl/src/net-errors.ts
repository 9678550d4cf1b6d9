/**
 * Turns Node's socket and TLS errors into the one-line messages operators see. The distinction
 * matters: "connection refused" means the controller is down or the port is wrong, while a
 * certificate problem means the config's caCert does not belong to that server.
 */
import { CtlError, exitCodeOf } from './errors.js';

const SOCKET_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'temporary DNS failure',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
  EPIPE: 'connection closed while sending',
};

const CERT_CODE = /CERT|SELF_SIGNED|UNABLE_TO_|INVALID_CA|HOSTNAME_MISMATCH|^ERR_TLS_/;
const TLS_PROTOCOL_CODE = /^ERR_SSL_|^EPROTO$/;

/** True when a Node error code denotes a certificate verification failure. */
export function isCertificateCode(code: string): boolean {
  return CERT_CODE.test(code);
}

/** OpenSSL messages carry a file:line trail; the reason alone ("wrong version number") is what helps. */
function opensslReason(message: string): string {
  const match = /SSL routines:[^:]*:([^:]+)/.exec(message);
  return match?.[1]?.trim() ?? message;
}

/** Maps a request error to a CtlError naming `server` (exit 1). */
export function networkError(err: unknown, server: string): CtlError {
  const e = err as NodeJS.ErrnoException;
  const code = typeof e.code === 'string' ? e.code : '';
  const detail = e.message !== undefined && e.message !== '' ? e.message : code;
  if (TLS_PROTOCOL_CODE.test(code)) {
    return new CtlError(
      `TLS handshake with controller ${server} failed: ${code} (${opensslReason(detail)}); is this the controller's HTTPS port?`,
      exitCodeOf('BALLAST_ERR_TLS'),
      { code: 'BALLAST_ERR_TLS', cause: err },
    );
  }
  if (isCertificateCode(code)) {
    return new CtlError(
      `certificate problem with controller ${server}: ${code} (${detail}); does the config's caCert belong to this server?`,
      exitCodeOf('BALLAST_ERR_TLS'),
      { code: 'BALLAST_ERR_TLS', cause: err },
    );
  }
  const known = SOCKET_ERRORS[code];
  const reason = known === undefined ? (code === '' ? detail : `${code} (${detail})`) : `${code} (${known})`;
  return new CtlError(`cannot reach controller ${server}: ${reason}`, exitCodeOf('BALLAST_ERR_CONNECT'), { code: 'BALLAST_ERR_CONNECT', cause: err });
}

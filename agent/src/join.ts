import { existsSync } from 'node:fs';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Logger } from 'pino';
import { CaResponseSchema, HOST_NAME_PATTERN, JoinResponseSchema } from '../../shared/src/api.js';
import { BallastError } from '../../shared/src/errors.js';
import { caPublicKeyHash, certificateInfo, generateKeyAndCsr } from '../../shared/src/pki.js';
import { type AgentConfig, agentPaths, saveAgentCredentials } from './config.js';
import { httpsJson } from './https-json.js';

const checkCa = TypeCompiler.Compile(CaResponseSchema);
const checkJoin = TypeCompiler.Compile(JoinResponseSchema);

/** Options of {@link joinController}. */
export interface JoinOptions {
  server: string;
  token: string;
  caHash: string;
  name: string;
  dataDir: string;
  force: boolean;
  log: Logger;
}

/**
 * kubeadm's discovery pattern: fetch the CA over an unverified connection, trust it only if the
 * sha256 of its public key equals the hash the operator gave us, then talk to the controller with
 * that CA pinned (full verification, hostname included), prove the join token and send a CSR.
 * The private key is generated here and never leaves the host.
 */
export async function joinController(opts: JoinOptions): Promise<AgentConfig> {
  const server = validateServer(opts.server);
  const caHash = opts.caHash.toLowerCase();
  if (!/^sha256:[0-9a-f]{64}$/.test(caHash)) {
    throw new BallastError('BALLAST_ERR_VALIDATION', `--ca-hash: expected sha256:<64 hex digits>, got "${opts.caHash}"`);
  }
  if (!HOST_NAME_PATTERN.test(opts.name)) {
    throw new BallastError(
      'BALLAST_ERR_VALIDATION',
      `--name: "${opts.name}" is not a valid host name (lowercase letters, digits, '.', '-'; at most 63)`,
    );
  }
  const paths = agentPaths(opts.dataDir);
  if (existsSync(paths.config) && !opts.force) {
    throw new BallastError(
      'BALLAST_ERR_CONFIG',
      `failed to join: this host is already joined (${paths.config}); pass --force to enrol again`,
    );
  }
  const log = opts.log.child({ op: 'join', host: opts.name });

  const discovery = await httpsJson({ url: `${server}/v1/join/ca`, method: 'GET' });
  if (!checkCa.Check(discovery)) throw new BallastError('BALLAST_ERR_CONNECT', `${server} did not return a CA certificate`);
  const presented = caPublicKeyHash(discovery.caCert);
  if (presented !== caHash) {
    throw new BallastError(
      'BALLAST_ERR_CA_HASH_MISMATCH',
      `refusing to trust ${server}: its CA public key hash is ${presented}, but --ca-hash is ${caHash}`,
    );
  }
  log.info({ caHash }, 'controller CA matches the pinned hash');

  const { keyPem, csrPem } = await generateKeyAndCsr(opts.name);
  const answer = await httpsJson({
    url: `${server}/v1/join`,
    method: 'POST',
    ca: discovery.caCert,
    body: { token: opts.token, name: opts.name, csr: csrPem },
  });
  if (!checkJoin.Check(answer)) throw new BallastError('BALLAST_ERR_CONNECT', `${server} sent a malformed join response`);
  const cert = certificateInfo(answer.certificate);
  if (cert.commonName !== opts.name) {
    throw new BallastError('BALLAST_ERR_CSR_INVALID', `controller issued a certificate for "${cert.commonName}", expected "${opts.name}"`);
  }
  const config: AgentConfig = {
    apiVersion: 'ballast.dev/v1alpha1',
    kind: 'AgentConfig',
    server,
    name: answer.name,
    hostId: answer.hostId,
    caHash,
    joinedAt: new Date().toISOString(),
  };
  await saveAgentCredentials(opts.dataDir, { config, keyPem, certPem: answer.certificate, caPem: answer.caCert });
  log.info({ hostId: answer.hostId, serial: cert.serial, dataDir: opts.dataDir }, 'joined');
  return config;
}

function validateServer(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BallastError('BALLAST_ERR_VALIDATION', `--server: "${text}" is not a URL (e.g. https://10.0.0.1:9443)`);
  }
  if (url.protocol !== 'https:') throw new BallastError('BALLAST_ERR_VALIDATION', `--server: "${text}" must use https://`);
  return url.origin;
}

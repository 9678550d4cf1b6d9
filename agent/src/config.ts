import { chmod, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { parse, stringify } from 'yaml';
import { BallastError } from '../../shared/src/errors.js';
import { writeFileAtomic } from '../../shared/src/atomic-file.js';

/** Default agent data dir: config and credentials, like kubelet's /etc/kubernetes. */
export const DEFAULT_AGENT_DATA_DIR = '/etc/ballast';

/** agent.yaml: written by `ballast-agent join`, read by `ballast-agent run`. */
export const AgentConfigSchema = Type.Object({
  apiVersion: Type.Literal('ballast.dev/v1alpha1'),
  kind: Type.Literal('AgentConfig'),
  server: Type.String({ pattern: '^https://', maxLength: 512 }),
  name: Type.String({ minLength: 1, maxLength: 63 }),
  hostId: Type.String({ minLength: 1, maxLength: 64 }),
  caHash: Type.String({ pattern: '^sha256:[0-9a-f]{64}$' }),
  joinedAt: Type.String(),
  /**
   * Self-fencing (self-fence.ts): seconds without the controller AND without etcd quorum before
   * this host stops kubelet, its pods and etcd; default 60; 0 turns it off (the controller then
   * needs a fence agent or the operator's confirmation for this host). Short values are for tests.
   */
  selfFenceDeadlineSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600 })),
});
export type AgentConfig = Static<typeof AgentConfigSchema>;
const checkConfig = TypeCompiler.Compile(AgentConfigSchema);

/** File names inside the data dir. */
export function agentPaths(dataDir: string) {
  return {
    config: join(dataDir, 'agent.yaml'),
    key: join(dataDir, 'agent.key'),
    cert: join(dataDir, 'agent.crt'),
    ca: join(dataDir, 'ca.crt'),
  };
}

/** The agent's identity and trust material, loaded for `run`. */
export interface AgentCredentials {
  config: AgentConfig;
  keyPem: string;
  certPem: string;
  caPem: string;
}

/** Loads agent.yaml and the credentials; a missing or invalid file is a coded error naming it. */
export async function loadAgentCredentials(dataDir: string): Promise<AgentCredentials> {
  const paths = agentPaths(dataDir);
  const read = async (path: string) => {
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new BallastError(
        'BALLAST_ERR_CONFIG',
        code === 'ENOENT'
          ? `failed to load agent config: ${path} does not exist; run \`ballast-agent join\` first`
          : `failed to load agent config: cannot read ${path}: ${code ?? String(err)}`,
        { cause: err },
      );
    }
  };
  let raw: unknown;
  try {
    raw = parse(await read(paths.config));
  } catch (err) {
    if (err instanceof BallastError) throw err;
    throw new BallastError('BALLAST_ERR_CONFIG', `failed to load agent config: ${paths.config} is not valid YAML`, { cause: err });
  }
  if (!checkConfig.Check(raw)) {
    const first = checkConfig.Errors(raw).First();
    throw new BallastError(
      'BALLAST_ERR_CONFIG',
      `failed to load agent config: ${paths.config} at ${first?.path || '/'}: ${first?.message ?? 'invalid'}`,
      { path: first?.path },
    );
  }
  return { config: raw, keyPem: await read(paths.key), certPem: await read(paths.cert), caPem: await read(paths.ca) };
}

/** Writes credentials first and agent.yaml last, so a crash mid-join never leaves a config without keys. */
export async function saveAgentCredentials(dataDir: string, creds: AgentCredentials): Promise<void> {
  const paths = agentPaths(dataDir);
  // The directory holds a private key: nobody but root may even list it.
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chmod(dataDir, 0o700);
  await writeFileAtomic(paths.key, creds.keyPem, 0o600);
  await writeFileAtomic(paths.cert, creds.certPem, 0o600);
  await writeFileAtomic(paths.ca, creds.caPem, 0o600);
  await writeFileAtomic(paths.config, `# Written by ballast-agent join.\n${stringify(creds.config)}`, 0o600);
}

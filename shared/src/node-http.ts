/**
 * `node:http`, loaded through `require` rather than `import`. Why: under node 22, an ESM import of
 * `node:http` builds the module's ESM facade, which reads every export — including the lazy
 * `WebSocket` getter, which loads node's built-in fetch client, whose HTTP parser is Wasm. With
 * `--lite-mode` (the agent's unit, issue 15) there is no Wasm, so that import alone crashed the
 * agent at start (a ReferenceError from lazyllhttp: the Wasm global is not defined). `require` hands
 * back the CommonJS exports object without touching the getter. Node 24 builds the facade lazily;
 * this module keeps the agent runnable on both, and test/unit/agent-lite-mode.test.ts keeps agent
 * and shared code from importing `node:http` directly.
 */
import type * as Http from 'node:http';
import { createRequire } from 'node:module';

const http = createRequire(import.meta.url)('node:http') as typeof Http;

/** `http.request`. */
export const httpRequest: typeof Http.request = http.request;
/** `http.Agent`. */
export const HttpAgent: typeof Http.Agent = http.Agent;

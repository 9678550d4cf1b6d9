/**
 * The operation kinds and step executors the production controller knows. Empty until the first
 * real kind (bootstrap) lands: test-only kinds are injected by tests, never shipped here.
 * Add a kind by appending it (and its executors) below; controller.ts registers this set before
 * `recover()`, so operations resumed after a restart find their executors.
 */
import type { OperationRegistry } from './types.js';

/** The production registry. Executors get their dependencies (hub, store, PKI …) through parameters added here. */
export function operationCatalogue(): OperationRegistry {
  return { kinds: [], executors: [] };
}

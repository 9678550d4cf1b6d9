/**
 * What each controller → agent request answers (STYLE.md §13): one table from the request `type`
 * to the schema of the `result` its `res` frame carries, the types derived from it, and the one
 * check the request tracker (rpc.ts) applies when a reply arrives. Callers get typed results and
 * never re-validate or cast them.
 *
 * The `res` frame itself is decoded with `result: unknown` (codec.ts): a frame decoder cannot know
 * which request an id belongs to, the tracker can, so that is where the result is checked.
 *
 * Adding a request type: add its request schema to ControllerMessageSchemas (messages.ts), then its
 * result schema here. The `satisfies` below fails to compile until every request type (and, for a
 * request with an `action`, every action) has one.
 */
import { Kind, type TSchema, Type } from '@sinclair/typebox';
import type { TypeCheck } from '@sinclair/typebox/compiler';
import { BallastError } from '../errors.js';
import { compiledCheck } from '../schema-check.js';
import { FactsSchema, HealthSchema } from './facts.js';
import { type ControllerRequest, RunSummarySchema } from './messages.js';
import { EtcdResultSchemas } from './etcd.js';
import { VipResultSchemas } from './vip.js';

/** The `result` of `req.ping`: the agent's wall clock (ms since epoch) when it answered. */
export const PingResultSchema = Type.Object({ ts: Type.Number() });
/** The `result` of `req.cancel`: false when the agent had no such run in progress. */
export const CancelResultSchema = Type.Object({ cancelled: Type.Boolean() });

/** A request `type` the controller sends and the agent answers with a `res`. */
export type RequestType = ControllerRequest['type'];
/** The request frame of type K. */
export type RequestOf<K extends RequestType> = Extract<ControllerRequest, { type: K }>;

/** The `action`s of request type K; never for a request without one. */
type ActionOf<K extends RequestType> = RequestOf<K> extends { action: infer A extends string } ? A : never;
/**
 * A request with an `action` (req.vip) answers differently per action: its entry is one schema per
 * action. A request without one has a single schema.
 */
interface ResultsByAction<A extends string> {
  readonly byAction: { readonly [X in A]: TSchema };
}
type EntryFor<K extends RequestType> = [ActionOf<K>] extends [never] ? TSchema : ResultsByAction<ActionOf<K>>;

/** Request `type` → schema of its reply's `result`. Object schemas allow extra fields: a newer agent may add some. */
export const RESPONSE_SCHEMAS = {
  'req.ping': PingResultSchema,
  'req.facts': FactsSchema,
  'req.health': HealthSchema,
  'req.run': RunSummarySchema,
  'req.cancel': CancelResultSchema,
  'req.vip': { byAction: VipResultSchemas },
  'req.etcd': { byAction: EtcdResultSchemas },
} as const satisfies { readonly [K in RequestType]: EntryFor<K> };

type Table = typeof RESPONSE_SCHEMAS;
/**
 * The static result types of the concrete table (for a request with actions, a record by action),
 * read from each schema's phantom `static` member: TypeBox's Static<> instantiated under the generic
 * ResponseOf<R> is too deep for tsc (TS2589), a plain property lookup is not.
 */
type Results = {
  [K in RequestType]: Table[K] extends { byAction: infer M extends Record<string, TSchema> }
    ? { [A in keyof M]: M[A]['static'] }
    : Table[K] extends { static: infer T }
      ? T
      : never;
};
type ResultOfType<K extends RequestType> = [ActionOf<K>] extends [never] ? Results[K] : Results[K][keyof Results[K]];
type ResultOfAction<K extends RequestType, A> = A extends keyof Results[K] ? Results[K][A] : never;

/**
 * The reply to a request. `ResponseOf<'req.run'>` is a RunSummary. Given a request frame type
 * rather than its `type`, it is narrowed by `action` too: `ResponseOf<{ type: 'req.vip'; action:
 * 'move'; … }>` is a VipHandoverResult, while `ResponseOf<'req.vip'>` is any of req.vip's results.
 */
export type ResponseOf<R extends RequestType | ControllerRequest> = R extends RequestType
  ? ResultOfType<R>
  : R extends { type: infer K extends RequestType }
    ? [ActionOf<K>] extends [never]
      ? Results[K]
      : ResultOfAction<K, R extends { action: infer A } ? A : never>
    : never;

type AnyEntry = TSchema | ResultsByAction<string>;

function isByAction(entry: AnyEntry): entry is ResultsByAction<string> {
  return !(Kind in entry) && Object.hasOwn(entry, 'byAction');
}

/** Compiled once per schema (compiledCheck caches), looked up per reply. */
function checkOf(request: ControllerRequest): TypeCheck<TSchema> {
  const entry: AnyEntry = RESPONSE_SCHEMAS[request.type];
  if (!isByAction(entry)) return compiledCheck(entry);
  const schema = 'action' in request ? entry.byAction[request.action] : undefined;
  // Unreachable while the table's `satisfies` holds; a coded error rather than a TypeError if not.
  if (schema === undefined) throw new BallastError('BALLAST_ERR_INTERNAL', `failed to check the answer to ${requestLabel(request)}: no result schema`);
  return compiledCheck(schema);
}

/** `req.vip move` for requests with an action, else the type. */
function requestLabel(request: ControllerRequest): string {
  return 'action' in request ? `${request.type} ${request.action}` : request.type;
}

/** True when `result` is a valid answer to `request`; the one place where a reply gets its type. */
export function isResponseTo<R extends ControllerRequest>(request: R, result: unknown): result is ResponseOf<R> {
  return checkOf(request).Check(result);
}

/** The coded error for an invalid answer: names the request type (and action) and the JSON path of the first problem. */
export function invalidResponse(request: ControllerRequest, result: unknown): BallastError {
  const first = checkOf(request).Errors(result).First();
  const path = first?.path || '/';
  return new BallastError(
    'BALLAST_ERR_FRAME_INVALID',
    `failed to accept the answer to ${requestLabel(request)} request ${request.id}: invalid result at ${path}: ${first?.message ?? 'invalid'}`,
    { path },
  );
}

/** `result` typed as the answer to `request`, or throws {@link invalidResponse}. For fakes that answer without a tracker. */
export function parseResponse<R extends ControllerRequest>(request: R, result: unknown): ResponseOf<R> {
  if (isResponseTo(request, result)) return result;
  throw invalidResponse(request, result);
}

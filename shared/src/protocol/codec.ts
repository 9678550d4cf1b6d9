import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { ErrorBody } from '../errors.js';
import { depthProblem } from '../json-depth.js';
import { MAX_FRAME_BYTES, MAX_FRAME_BYTES_BY_TYPE } from './limits.js';
import {
  type AgentMessage,
  AgentMessageSchemas,
  type ControllerMessage,
  ControllerMessageSchemas,
} from './messages.js';

/** The result of decoding one inbound frame: the typed message, or a coded error to send back. */
export type Decoded<M> = { ok: true; message: M } | { ok: false; error: ErrorBody };

/** Decodes and validates one frame of a given direction. */
export interface FrameDecoder<M> {
  decode(data: Buffer | string): Decoded<M>;
}

/**
 * Compiles one validator per message type and dispatches on `type` first, so that validation of a
 * heartbeat costs one small compiled check rather than a walk through the whole union.
 */
function compileDecoder<M>(schemas: Record<string, TSchema>, maxBytes: number): FrameDecoder<M> {
  // Compiled on a type's first frame, not up front: an idle agent receives a handful of types
  // (welcome, hb-ack, req.ping …) and compiling all of them (req.run with every task module's
  // schema …) cost it ~3 MB of resident memory for checks it never ran (issue 15).
  const checks = new Map<string, TypeCheck<TSchema>>();
  const checkOf = (type: string): TypeCheck<TSchema> | undefined => {
    let check = checks.get(type);
    if (check !== undefined) return check;
    if (!Object.hasOwn(schemas, type)) return undefined;
    const schema = schemas[type];
    if (schema === undefined) return undefined;
    check = TypeCompiler.Compile(schema);
    checks.set(type, check);
    return check;
  };
  return {
    decode(data) {
      const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
      if (size > maxBytes) {
        return fail('BALLAST_ERR_FRAME_TOO_LARGE', `frame of ${size} bytes exceeds the limit of ${maxBytes} bytes`);
      }
      const text = typeof data === 'string' ? data : data.toString('utf8');
      // Before JSON.parse: the schema check after it recurses, and 100k levels overflowed the stack.
      const tooDeep = depthProblem(text);
      if (tooDeep !== null) return fail('BALLAST_ERR_FRAME_TOO_DEEP', `failed to decode frame: ${tooDeep}`, '/');
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        return fail('BALLAST_ERR_FRAME_MALFORMED', `frame is not valid JSON: ${(err as Error).message}`);
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return fail('BALLAST_ERR_FRAME_INVALID', 'frame must be a JSON object', '/');
      }
      const type = (value as { type?: unknown }).type;
      if (typeof type !== 'string') return fail('BALLAST_ERR_FRAME_INVALID', 'frame has no string "type"', '/type');
      const check = checkOf(type);
      if (check === undefined) {
        return fail('BALLAST_ERR_FRAME_UNKNOWN_TYPE', `unknown frame type ${JSON.stringify(type.slice(0, 64))}`, '/type');
      }
      const typeMax = MAX_FRAME_BYTES_BY_TYPE[type];
      if (typeMax !== undefined && size > typeMax) {
        return fail('BALLAST_ERR_FRAME_TOO_LARGE', `"${type}" frame of ${size} bytes exceeds its limit of ${typeMax} bytes`);
      }
      if (!check.Check(value)) {
        const first = check.Errors(value).First();
        const path = first?.path || '/';
        return fail('BALLAST_ERR_FRAME_INVALID', `invalid "${type}" frame at ${path}: ${first?.message ?? 'invalid'}`, path);
      }
      return { ok: true, message: value as M };
    },
  };
}

function fail(code: ErrorBody['code'], message: string, path?: string): { ok: false; error: ErrorBody } {
  return { ok: false, error: path === undefined ? { code, message } : { code, message, path } };
}

/** Decoder for frames the controller receives from agents. */
export function agentFrameDecoder(maxBytes = MAX_FRAME_BYTES): FrameDecoder<AgentMessage> {
  return compileDecoder<AgentMessage>(AgentMessageSchemas, maxBytes);
}

/** Decoder for frames the agent receives from the controller. */
export function controllerFrameDecoder(maxBytes = MAX_FRAME_BYTES): FrameDecoder<ControllerMessage> {
  return compileDecoder<ControllerMessage>(ControllerMessageSchemas, maxBytes);
}

/** Serializes an outbound frame. Typed per direction so a wrong message cannot be sent. */
export function encodeFrame(message: AgentMessage | ControllerMessage): string {
  return JSON.stringify(message);
}

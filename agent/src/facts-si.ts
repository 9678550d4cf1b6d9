/**
 * The full facts port: {@link nodeSystemInfo} plus systeminformation for the CPU, memory, block
 * devices and the product UUID (why those calls and not others: the note at the top of facts.ts).
 * Only the `ballast-agent facts` command imports this module — the daemon runs that command as a
 * short-lived child (facts-child.ts) — because systeminformation is ~1.5 MB resident for good once
 * loaded, and a daemon needs facts only at connect (issue 15, README "Performance").
 */
import si from 'systeminformation';
import { nodeSystemInfo, type SystemInfoPort } from './facts.js';

/** See the file comment. */
export function systemInformationPort(): SystemInfoPort {
  return {
    ...nodeSystemInfo(),
    cpu: () => si.cpu(),
    mem: () => si.mem(),
    blockDevices: () => si.blockDevices(),
    uuid: () => si.uuid(),
  };
}

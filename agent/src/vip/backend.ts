/**
 * The ports one VIP election runs on (etcd, the address, ARP), built per config by the manager.
 * Production uses {@link realBackend}; tests pass fakes (testing.ts) through the same factory.
 */
import type { Logger } from 'pino';
import { createEtcdLeaseKv, createHttpsEtcdTransport, type EtcdTlsPem, type HttpsEtcdTransport } from '../etcd/lease.js';
import type { ExecPort } from '../host/ports.js';
import { createArpingPort, createIpAddressPort } from './address.js';
import type { VipConfig } from './config.js';
import type { AddressPort, ArpPort, ElectionStore } from './ports.js';
import { createEtcdVipStore } from './store.js';

/** The ports one election runs on, built per config. */
export interface VipBackend {
  store: ElectionStore;
  address: AddressPort;
  arp: ArpPort;
  /** New etcd client certificate (rotation). */
  setTls(tls: EtcdTlsPem): void;
  close(): void;
}

/** See {@link VipManagerOptions.backend}. May be async: the production one imports this module on first use. */
export type VipBackendFactory = (config: VipConfig, tls: EtcdTlsPem, log: Logger) => VipBackend | Promise<VipBackend>;

/** The production ports: etcd over the mTLS JSON gateway, `ip` and `arping`. */
export function realBackend(exec: ExecPort): VipBackendFactory {
  return (config, tls, log) => {
    const transport: HttpsEtcdTransport = createHttpsEtcdTransport({ endpoint: config.etcd.endpoints[0]!, tls });
    return {
      store: createEtcdVipStore({ kv: createEtcdLeaseKv(transport), name: config.name }),
      address: createIpAddressPort({ exec, address: config.address, prefixLength: config.prefixLength, interface: config.interface, lifetimeSeconds: config.addressLifetimeSeconds }),
      arp: createArpingPort({ exec, address: config.address, interface: config.interface, log }),
      setTls: (next) => transport.setTls(next),
      close: () => transport.close(),
    };
  };
}

/** The etcd client lives in shared/ (the controller's health gates use it too); agent code imports it from here. */
export * from '../../../shared/src/etcd/client.js';

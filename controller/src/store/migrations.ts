/**
 * The store's schema, as numbered migrations. A migration is never edited once released: change
 * the schema by appending a new one, so every existing database reaches the same shape.
 */

/** One schema step. `version`s start at 1 and increase by one; `sql` may hold several statements. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * All migrations, oldest first. Timestamps are integer ms since the epoch. Tables are STRICT so a
 * wrongly typed write fails loudly instead of being stored as text.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
      CREATE TABLE hosts (
        id                TEXT PRIMARY KEY,
        name              TEXT NOT NULL UNIQUE,
        state             TEXT NOT NULL CHECK (state IN ('pending', 'healthy', 'degraded', 'unreachable')),
        state_since       INTEGER NOT NULL,
        enrolled_at       INTEGER NOT NULL,
        cert_serial       TEXT NOT NULL,
        cert_not_after    INTEGER NOT NULL,
        last_heartbeat_at INTEGER,
        last_seq          INTEGER,
        address           TEXT,
        agent_version     TEXT,
        session_id        TEXT,
        facts_json        TEXT,
        health_json       TEXT,
        removed_at        INTEGER
      ) STRICT;

      -- No foreign key to hosts: a revocation must outlive the host row, which is deleted when a
      -- new host re-enrols under the same name.
      CREATE TABLE revoked_certs (
        serial     TEXT PRIMARY KEY,
        host_id    TEXT NOT NULL,
        revoked_at INTEGER NOT NULL,
        reason     TEXT NOT NULL
      ) STRICT;

      CREATE TABLE join_tokens (
        id           TEXT PRIMARY KEY,
        secret_hash  TEXT NOT NULL,
        description  TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        created_by   TEXT NOT NULL,
        expires_at   INTEGER NOT NULL,
        uses_allowed INTEGER,
        uses_count   INTEGER NOT NULL DEFAULT 0,
        revoked_at   INTEGER
      ) STRICT;

      CREATE TABLE operators (
        name       TEXT PRIMARY KEY,
        role       TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        token_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      ) STRICT;

      CREATE TABLE events (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        ts        INTEGER NOT NULL,
        host_name TEXT,
        kind      TEXT NOT NULL,
        message   TEXT NOT NULL,
        data_json TEXT NOT NULL
      ) STRICT;
      -- "events of one host after id N" (ballastctl events --host, host detail).
      CREATE INDEX events_host_id ON events (host_name, id);

      CREATE TABLE health_samples (
        id      INTEGER PRIMARY KEY,
        host_id TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
        ts      INTEGER NOT NULL,
        json    TEXT NOT NULL
      ) STRICT;
      CREATE INDEX health_samples_host_ts ON health_samples (host_id, ts);
      -- Age-based pruning scans by time across all hosts.
      CREATE INDEX health_samples_ts ON health_samples (ts);

      CREATE TABLE audit (
        id      INTEGER PRIMARY KEY,
        ts      INTEGER NOT NULL,
        actor   TEXT NOT NULL,
        role    TEXT NOT NULL,
        action  TEXT NOT NULL,
        target  TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
        detail  TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 2,
    name: 'artifacts',
    sql: `
      -- The artifact mirror's index; the files live under <data dir>/artifacts/<name>/<version>/<arch>/<file>.
      CREATE TABLE artifacts (
        name        TEXT NOT NULL,
        version     TEXT NOT NULL,
        os          TEXT NOT NULL,
        arch        TEXT NOT NULL,
        sha256      TEXT NOT NULL,
        size        INTEGER NOT NULL,
        url         TEXT NOT NULL,
        file        TEXT NOT NULL,
        imported_at INTEGER NOT NULL,
        PRIMARY KEY (name, version, arch)
      ) STRICT;
    `,
  },
  {
    version: 3,
    name: 'runs',
    sql: `
      -- Role runs (ballastctl apply): one row per run, per host of a run, and per finished task.
      -- Written before dispatch and on every agent event; never resumed after a restart.
      CREATE TABLE runs (
        id                  TEXT PRIMARY KEY,
        role                TEXT NOT NULL,
        check_mode          INTEGER NOT NULL,
        diff_mode           INTEGER NOT NULL,
        vars_json           TEXT NOT NULL,
        status              TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'cancelled', 'interrupted')),
        created_at          INTEGER NOT NULL,
        created_by          TEXT NOT NULL,
        finished_at         INTEGER,
        cancel_requested_by TEXT,
        seq                 INTEGER NOT NULL DEFAULT 0
      ) STRICT;
      CREATE INDEX runs_created ON runs (created_at);
      CREATE INDEX runs_status ON runs (status);

      CREATE TABLE run_hosts (
        run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        host_name    TEXT NOT NULL,
        host_id      TEXT NOT NULL,
        position     INTEGER NOT NULL,
        status       TEXT NOT NULL CHECK (status IN ('pending', 'running', 'ok', 'failed', 'cancelled', 'interrupted')),
        plan_json    TEXT NOT NULL,
        started_at   INTEGER,
        finished_at  INTEGER,
        current_json TEXT,
        ok           INTEGER NOT NULL DEFAULT 0,
        changed      INTEGER NOT NULL DEFAULT 0,
        failed       INTEGER NOT NULL DEFAULT 0,
        skipped      INTEGER NOT NULL DEFAULT 0,
        summary_json TEXT,
        error_json   TEXT,
        PRIMARY KEY (run_id, host_name)
      ) STRICT;

      CREATE TABLE run_results (
        run_id      TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        host_name   TEXT NOT NULL,
        phase       TEXT NOT NULL CHECK (phase IN ('task', 'handler')),
        idx         INTEGER NOT NULL,
        name        TEXT NOT NULL,
        module      TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('ok', 'changed', 'failed', 'skipped')),
        result_json TEXT NOT NULL,
        ts          INTEGER NOT NULL,
        PRIMARY KEY (run_id, seq),
        FOREIGN KEY (run_id, host_name) REFERENCES run_hosts (run_id, host_name) ON DELETE CASCADE
      ) STRICT;
    `,
  },
  {
    version: 4,
    name: 'cluster_pki',
    sql: `
      -- The Kubernetes cluster PKI the controller issues (pki/cluster-pki.ts): CAs, leaf certificates,
      -- the service-account key pair and the kubeadm bootstrap token. key_pem holds private keys (and
      -- the token), so this table never leaves the controller; the API lists it without key_pem.
      CREATE TABLE cluster_pki (
        cluster    TEXT NOT NULL,
        name       TEXT NOT NULL,
        kind       TEXT NOT NULL CHECK (kind IN ('ca', 'cert', 'keypair', 'token')),
        subject    TEXT NOT NULL,
        sans_json  TEXT NOT NULL,
        cert_pem   TEXT,
        key_pem    TEXT NOT NULL,
        not_after  INTEGER,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (cluster, name)
      ) STRICT;
    `,
  },
  {
    version: 5,
    name: 'operations',
    sql: `
      -- Operations (bootstrap, reset, add-node …): persisted state machines run one step at a time
      -- and resumed after a restart (controller/src/ops). Independent of every other table.
      CREATE TABLE operations (
        id          TEXT PRIMARY KEY,
        kind        TEXT NOT NULL,
        cluster     TEXT,
        state       TEXT NOT NULL CHECK (state IN ('pending', 'running', 'paused', 'succeeded', 'failed', 'aborted')),
        check_mode  INTEGER NOT NULL,
        input_json  TEXT NOT NULL,
        created_by  TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        ended_at    INTEGER,
        error_json  TEXT,
        seq         INTEGER NOT NULL DEFAULT 0
      ) STRICT;
      CREATE INDEX operations_created ON operations (created_at);
      CREATE INDEX operations_state ON operations (state);
      -- One unfinished operation per cluster, enforced by the database as well as by the engine.
      CREATE UNIQUE INDEX operations_one_per_cluster ON operations (cluster)
        WHERE cluster IS NOT NULL AND state IN ('pending', 'running', 'paused');

      -- idx is the step's position (renumbered when an executor inserts steps); key is its identity.
      CREATE TABLE operation_steps (
        op_id       TEXT NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
        idx         INTEGER NOT NULL,
        phase       TEXT NOT NULL,
        key         TEXT NOT NULL,
        host        TEXT,
        title       TEXT NOT NULL,
        kind        TEXT NOT NULL,
        args_json   TEXT NOT NULL,
        timeout_ms  INTEGER,
        state       TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed', 'skipped')),
        attempts    INTEGER NOT NULL DEFAULT 0,
        started_at  INTEGER,
        ended_at    INTEGER,
        result_json TEXT,
        error_json  TEXT,
        progress    TEXT,
        seq         INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (op_id, idx),
        UNIQUE (op_id, key)
      ) STRICT;
    `,
  },
  {
    version: 6,
    name: 'cluster_lifecycle',
    sql: `
      -- Where a cluster stands (created, reset, partly-reset), kept apart from its operations'
      -- outcomes: a reset cluster's create operation still "succeeded". Written by the last step of
      -- cluster create and by the reset step (controller/src/store/clusters.ts); states in between
      -- (creating, resetting, …-failed) come from the unfinished or failed operation itself.
      CREATE TABLE cluster_lifecycle (
        cluster      TEXT PRIMARY KEY,
        lifecycle    TEXT NOT NULL CHECK (lifecycle IN ('created', 'reset', 'partly-reset')),
        operation_id TEXT NOT NULL,
        updated_at   INTEGER NOT NULL
      ) STRICT;
      -- Existing clusters: from their newest successful create or reset.
      INSERT INTO cluster_lifecycle (cluster, lifecycle, operation_id, updated_at)
      SELECT o.cluster,
             CASE
               WHEN o.kind = 'cluster.create' THEN 'created'
               WHEN json_array_length(o.input_json, '$.hosts') >= json_array_length(o.input_json, '$.spec.hosts') THEN 'reset'
               ELSE 'partly-reset'
             END,
             o.id, COALESCE(o.ended_at, o.updated_at)
        FROM operations o
       WHERE o.cluster IS NOT NULL AND o.check_mode = 0 AND o.state = 'succeeded'
         AND o.kind IN ('cluster.create', 'cluster.reset')
         AND NOT EXISTS (
           SELECT 1 FROM operations n
            WHERE n.cluster = o.cluster AND n.check_mode = 0 AND n.state = 'succeeded'
              AND n.kind IN ('cluster.create', 'cluster.reset')
              AND (n.created_at > o.created_at OR (n.created_at = o.created_at AND n.id > o.id)));
    `,
  },
  {
    version: 7,
    name: 'artifact_images',
    sql: `
      -- Container images in the mirror (issue 11): the reference a docker-archive artifact is
      -- imported under and its image ID (the config digest); NULL for every other artifact.
      ALTER TABLE artifacts ADD COLUMN image_ref TEXT;
      ALTER TABLE artifacts ADD COLUMN image_id TEXT;
    `,
  },
  {
    version: 8,
    name: 'cluster_membership',
    sql: `
      -- One membership change (node replace, add, remove) at a time per cluster (issue 12): a lock
      -- held by the operation from its first step to its last, kept across controller restarts and
      -- across an abort (an aborted change may have left etcd half-changed: releasing it is an
      -- explicit \`ballastctl node unlock\`). controller/src/store/membership.ts.
      CREATE TABLE membership_locks (
        cluster      TEXT PRIMARY KEY,
        operation_id TEXT NOT NULL,
        kind         TEXT NOT NULL,
        detail       TEXT NOT NULL,
        acquired_at  INTEGER NOT NULL
      ) STRICT;
      -- The cluster's spec after its newest membership change (the hosts and their roles); the
      -- newest cluster create's spec until one happened.
      CREATE TABLE cluster_specs (
        cluster      TEXT PRIMARY KEY,
        spec_json    TEXT NOT NULL,
        operation_id TEXT NOT NULL,
        updated_at   INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 9,
    name: 'etcd_snapshots',
    sql: `
      -- etcd snapshots (issue 13), controller/src/store/snapshots.ts. \`sha256\`/\`size\` are the etcd
      -- database file's as the member's agent took it; \`sealed_*\` the encrypted bundle on disk
      -- (relative to <data dir>/snapshots). A snapshot whose last verification failed
      -- (\`verify_error\` set) is never offered for restore.
      CREATE TABLE etcd_snapshots (
        id              TEXT PRIMARY KEY,
        cluster         TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        trigger         TEXT NOT NULL CHECK (trigger IN ('manual', 'schedule')),
        host            TEXT NOT NULL,
        member          TEXT NOT NULL,
        sha256          TEXT NOT NULL,
        size            INTEGER NOT NULL,
        revision        TEXT NOT NULL,
        total_keys      INTEGER NOT NULL,
        etcd_hash       TEXT NOT NULL,
        duration_ms     INTEGER NOT NULL,
        encrypted       INTEGER NOT NULL,
        file            TEXT NOT NULL,
        sealed_sha256   TEXT NOT NULL,
        sealed_size     INTEGER NOT NULL,
        s3_key          TEXT,
        s3_copied_at    INTEGER,
        verified_at     INTEGER,
        verify_error    TEXT
      ) STRICT;
      CREATE INDEX etcd_snapshots_cluster ON etcd_snapshots (cluster, created_at);
      CREATE TABLE etcd_drills (
        id           TEXT PRIMARY KEY,
        cluster      TEXT NOT NULL,
        snapshot_id  TEXT NOT NULL,
        started_at   INTEGER NOT NULL,
        duration_ms  INTEGER NOT NULL,
        outcome      TEXT NOT NULL CHECK (outcome IN ('passed', 'failed')),
        steps_json   TEXT NOT NULL,
        error        TEXT
      ) STRICT;
      CREATE INDEX etcd_drills_cluster ON etcd_drills (cluster, started_at);
      -- A cluster's snapshot policy set with ballastctl; overrides its cluster.yaml's \`snapshots\`.
      CREATE TABLE snapshot_policies (
        cluster     TEXT PRIMARY KEY,
        policy_json TEXT NOT NULL,
        updated_at  INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 10,
    name: 'host_heartbeats',
    sql: `
      -- Heartbeats get a narrow table of their own (issue 15): in the hosts row, every heartbeat
      -- rewrote the row's multi-KB facts_json/health_json, 42% of the controller's CPU at 5,000
      -- agents. A WITHOUT ROWID row here is ~40 bytes, ~100 to a page, so one batch commit writes a
      -- handful of pages. No foreign key: a heartbeat batch must never fail because a host row went
      -- away meanwhile (that would requeue it for ever); the trigger deletes a host's row with it,
      -- and the controller drops orphans at start (store/heartbeats.ts).
      CREATE TABLE host_heartbeats (
        host_id TEXT PRIMARY KEY,
        at      INTEGER NOT NULL,
        seq     INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
      INSERT INTO host_heartbeats (host_id, at, seq)
        SELECT id, last_heartbeat_at, COALESCE(last_seq, 0) FROM hosts WHERE last_heartbeat_at IS NOT NULL;
      ALTER TABLE hosts DROP COLUMN last_heartbeat_at;
      ALTER TABLE hosts DROP COLUMN last_seq;
      CREATE TRIGGER hosts_delete_heartbeat AFTER DELETE ON hosts
      BEGIN
        DELETE FROM host_heartbeats WHERE host_id = old.id;
      END;
    `,
  },
  {
    version: 11, // host labels (issue 12); another branch may take 11 too: the merger renumbers
    name: 'host_labels',
    // Labels (shared/src/labels.ts) live in the host's row: small, rarely changed, and gone with it
    // (a name enrolled again starts unlabelled, so it never joins a spare pool by accident).
    sql: `ALTER TABLE hosts ADD COLUMN labels_json TEXT NOT NULL DEFAULT '{}';`,
  },
];

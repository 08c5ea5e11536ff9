/**
 * Redis Cluster: every key of a fleet must hash to one slot, or a script touching two of them fails
 * with CROSSSLOT. A one-node cluster checks that as any cluster does, and cluster clients run on it.
 */
import { closeIoredis } from './clients.js';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';
import { Cluster as Cluster5 } from 'ioredis-5';
import { createCluster } from 'redis';
import { createCluster as createCluster5 } from 'redis-5';
import { type RedisClientLike, RedisLink } from '../../src/redis/client.js';
import { FleetStore } from '../../src/redis/store.js';
import { describeRedis, useRedisServer } from './server.js';

interface ClusterKind {
  readonly name: string;
  connect(port: number): Promise<{ client: RedisClientLike; close(): Promise<void> }>;
}

const CLUSTER_CLIENTS: readonly ClusterKind[] = [
  {
    name: 'ioredis 6 Cluster',
    async connect(port) {
      const client = new Cluster([{ host: '127.0.0.1', port }]);
      client.on('error', () => {});
      await client.ping();
      return { client, close: async () => client.disconnect() };
    },
  },
  {
    name: 'ioredis 5 Cluster',
    async connect(port) {
      const client = new Cluster5([{ host: '127.0.0.1', port }]);
      client.on('error', () => {});
      await client.ping();
      return { client, close: async () => client.disconnect() };
    },
  },
  {
    name: 'node-redis 6 cluster',
    async connect(port) {
      const client = createCluster({ rootNodes: [{ socket: { host: '127.0.0.1', port } }] });
      client.on('error', () => {});
      await client.connect();
      return { client, close: async () => client.destroy() };
    },
  },
  {
    name: 'node-redis 5 cluster',
    async connect(port) {
      const client = createCluster5({ rootNodes: [{ socket: { host: '127.0.0.1', port } }] });
      client.on('error', () => {});
      await client.connect();
      return { client, close: async () => client.destroy() };
    },
  },
];

const NAMES = ['plain', 'with:colons', 'a}b{c', '{tagged}', 'spaces and ünïcödé'];

describeRedis('a fleet on Redis Cluster', () => {
  const redis = useRedisServer({ cluster: true });
  let admin: Redis;

  beforeAll(() => {
    admin = new Redis({ port: redis.server.port, host: '127.0.0.1' });
  });
  afterAll(() => closeIoredis(admin));

  test('the node refuses a script whose keys are in two slots (so the tests below prove something)', async () => {
    await expect(admin.eval('return 1', 2, '{duta:a}:leases', '{duta:b}:leases')).rejects.toThrow(/CROSSSLOT/);
  });

  describe.each(CLUSTER_CLIENTS.map((kind, i) => ({ ...kind, i })))('with $name', (kind) => {
    let connected: { client: RedisClientLike; close(): Promise<void> };

    beforeAll(async () => {
      connected = await kind.connect(redis.server.port);
    });
    afterAll(() => connected.close());

    test.each(NAMES)('every key of the fleet %j is in one slot, and every script runs', async (name) => {
      const byKey = { 'k}{': { requestsPerMinute: 5 }, plain: { tokensPerMinute: 500 } };
      // A name of its own per client: the fleets of the other clients' runs are still in Redis.
      const store = new FleetStore(new RedisLink(connected.client), `${name}${kind.i}`, { maxWorkers: 4, rateLimit: { tokensPerMinute: 1_000, requestsPerSecond: 100, byKey } });
      const candidates = ['k}{', 'plain', ''].map((key) => ({ lease: store.lease(), key, cost: 1 }));
      expect((await store.admit([], candidates)).admitted).toEqual([true, true, true]);
      expect((await store.admit([{ ...candidates[0]!, used: 2 }], [])).released).toEqual([true]);
      expect((await store.renew([candidates[1]!.lease])).lost).toEqual([]);
      expect(await store.pause(1_000)).toBe(1_000);
      expect((await store.status()).leases).toBe(2);
      const keys = await admin.keys(`${store.keys.tag.replace(/[[\]*?\\]/g, '\\$&')}*`);
      // The waiters key is written only when someone waits for a fleet slot.
      expect(keys.length).toBe(4);
      const slots = new Set(await Promise.all(keys.map((key) => admin.call('CLUSTER', 'KEYSLOT', key))));
      expect(slots.size).toBe(1);
    });
  });
});

// Compile-time tests of duta/redis's types: every supported client is accepted as it is, with no cast,
// and anything else is not. Nothing here runs.
import { expectTypeOf } from 'expect-type';
import { Cluster, Redis } from 'ioredis';
import { Cluster as Cluster5, Redis as Redis5 } from 'ioredis-5';
import { createClient, createCluster } from 'redis';
import { createClient as createClient5, createCluster as createCluster5 } from 'redis-5';
import { RedisLink, type RedisClientLike } from '../../src/redis/client.js';
import { FleetStore } from '../../src/redis/store.js';
import type { Admission } from '../../src/redis/types.js';

export function clients(): void {
  new RedisLink(new Redis());
  new RedisLink(new Cluster([]));
  new RedisLink(new Redis5());
  new RedisLink(new Cluster5([]));
  new RedisLink(createClient());
  new RedisLink(createCluster({ rootNodes: [] }));
  new RedisLink(createClient5());
  new RedisLink(createCluster5({ rootNodes: [] }));
  // @ts-expect-error a URL is not a client
  new RedisLink('redis://localhost:6379');
  // @ts-expect-error nor is an object without the script methods
  new RedisLink({ get: async () => null });
  expectTypeOf<RedisClientLike>().not.toBeAny();
}

export async function answers(store: FleetStore): Promise<void> {
  const answer = await store.admit([], [{ lease: store.lease(), key: '', cost: 10 }]);
  expectTypeOf(answer).toEqualTypeOf<Admission>();
  expectTypeOf(answer.admitted).toEqualTypeOf<readonly boolean[]>();
  expectTypeOf(answer.blocked).toEqualTypeOf<'pause' | 'budget' | 'slots' | 'rate' | undefined>();
  expectTypeOf(answer.exhausted?.cap).toEqualTypeOf<'tokens' | 'requests' | 'spend' | undefined>();
  expectTypeOf(await store.pause(1_000)).toEqualTypeOf<number>();
  expectTypeOf((await store.renew([])).lost).toEqualTypeOf<readonly string[]>();
  // @ts-expect-error a candidate needs its key ('' for none)
  await store.admit([], [{ lease: 'a', cost: 1 }]);
  // @ts-expect-error a release is told what was reserved
  await store.admit([{ lease: 'a', key: '', used: 5 }], []);
}

/**
 * The Redis clients duta supports, each connected as a user would: ioredis 6 and node-redis 6 (RESP3
 * by default), ioredis 5 and node-redis 5 (RESP2). Every test that talks to Redis runs with each.
 */
import { Redis } from 'ioredis';
import { Redis as Redis5 } from 'ioredis-5';
import { createClient } from 'redis';
import { createClient as createClient5 } from 'redis-5';
import type { RedisClientLike } from '../../src/redis/client.js';

export interface Connected {
  readonly client: RedisClientLike;
  close(): Promise<void>;
}

export interface ClientKind {
  readonly name: string;
  connect(port: number): Promise<Connected>;
}

/**
 * Closes an ioredis client by QUIT, which ends its socket at once; `disconnect()` alone leaves a 2 s timer
 * of ioredis's own that holds the test process open. A client whose server is gone is disconnected.
 */
export async function closeIoredis(client: { quit(): Promise<unknown>; disconnect(): void }): Promise<void> {
  try {
    await Promise.race([client.quit(), new Promise((_, reject) => setTimeout(reject, 500).unref())]);
  } catch {
    client.disconnect();
  }
}

/** Reconnect fast, so a test that restarts Redis does not wait out a backoff. */
const RECONNECT_MS = 50;

/** Connected as a user would: the client passed to duta as it is, with no cast, so its type is checked too. */
const ioredis6: ClientKind = {
  name: 'ioredis 6',
  async connect(port) {
    const client = new Redis({ port, host: '127.0.0.1', retryStrategy: () => RECONNECT_MS, maxRetriesPerRequest: 3 });
    // A lost connection is an 'error' event too: the test that causes it checks what the calls say.
    client.on('error', () => {});
    await client.ping();
    return { client, close: () => closeIoredis(client) };
  },
};

const ioredis5: ClientKind = {
  name: 'ioredis 5',
  async connect(port) {
    const client = new Redis5({ port, host: '127.0.0.1', retryStrategy: () => RECONNECT_MS, maxRetriesPerRequest: 3 });
    client.on('error', () => {});
    await client.ping();
    return { client, close: () => closeIoredis(client) };
  },
};

const nodeRedis6: ClientKind = {
  name: 'node-redis 6',
  async connect(port) {
    const client = createClient({ socket: { port, host: '127.0.0.1', reconnectStrategy: () => RECONNECT_MS } });
    // node-redis throws an 'error' event that has no listener: a lost connection would end the test run.
    client.on('error', () => {});
    await client.connect();
    return { client, close: async () => void (client.isOpen && client.destroy()) };
  },
};

const nodeRedis5: ClientKind = {
  name: 'node-redis 5',
  async connect(port) {
    const client = createClient5({ socket: { port, host: '127.0.0.1', reconnectStrategy: () => RECONNECT_MS } });
    client.on('error', () => {});
    await client.connect();
    return { client, close: async () => void (client.isOpen && client.destroy()) };
  },
};

export const CLIENTS: readonly ClientKind[] = [ioredis6, nodeRedis6, ioredis5, nodeRedis5];

/** The current major of each client. */
export const LATEST_CLIENTS: readonly ClientKind[] = [ioredis6, nodeRedis6];

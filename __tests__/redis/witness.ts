/**
 * The witness of the fleet tests: a loopback HTTP server that stands for an LLM provider and writes
 * down every request it receives (from whom, when it came, when it ended, what it answered), so a test
 * can tell what the whole fleet did, as a provider would see it, whatever each instance believes.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { RequestBody } from '../fixtures/fleet-protocol.js';

export interface Arrival {
  /** The instance that sent it. */
  readonly from: string;
  readonly task: string;
  /** The tokens it says it uses. */
  readonly tokens: number;
  /** When it came (`performance.now()` in the test process). */
  readonly at: number;
  /** When its answer was sent or its connection closed; Infinity while it runs. */
  end: number;
  /** The status answered; undefined while it runs or when the client went away first. */
  status: number | undefined;
}

/** How to answer one request. */
export interface Answer {
  /** Milliseconds before answering. @default 0 */
  readonly holdMs?: number;
  /** Answer only once this settles (or the client goes away). */
  readonly until?: Promise<unknown>;
  /** @default 200 */
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Witness {
  readonly url: string;
  /** Every request received since the last `reset()`, in order of arrival. */
  readonly arrivals: readonly Arrival[];
  /** How the next requests are answered: `index` counts from 0 since the last `reset()`. */
  answer: (arrival: Arrival, index: number) => Answer;
  /** The most requests in flight at once among those `which` picks. */
  peak(which?: (arrival: Arrival) => boolean): number;
  /** Forgets every request and goes back to answering each at once with a 200. */
  reset(answer?: (arrival: Arrival, index: number) => Answer): void;
  close(): Promise<void>;
}

const rightAway = (): Answer => ({});

export async function startWitness(): Promise<Witness> {
  let arrivals: Arrival[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const respond = (res: ServerResponse, arrival: Arrival, answer: Answer): void => {
    if (res.destroyed) {
      return;
    }
    const status = answer.status ?? 200;
    arrival.status = status;
    res.writeHead(status, { 'content-type': 'application/json', ...answer.headers });
    res.end(JSON.stringify({ tokens: arrival.tokens }));
  };

  let url = '';
  const witness: Witness = {
    get url() {
      return url;
    },
    get arrivals() {
      return arrivals;
    },
    answer: rightAway,
    peak(which = () => true) {
      const edges: [number, number][] = [];
      for (const arrival of arrivals) {
        if (which(arrival)) {
          edges.push([arrival.at, 1], [arrival.end, -1]);
        }
      }
      // An end and an arrival at the same moment do not overlap.
      edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      let now = 0;
      let most = 0;
      for (const [, step] of edges) {
        now += step;
        most = Math.max(most, now);
      }
      return most;
    },
    reset(answer = rightAway) {
      arrivals = [];
      witness.answer = answer;
    },
    async close() {
      for (const timer of timers) {
        clearTimeout(timer);
      }
      const stopped = new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) {
        socket.destroy();
      }
      await stopped;
    },
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const at = performance.now();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as RequestBody;
      const arrival: Arrival = { from: body.from, task: body.task, tokens: body.tokens, at, end: Infinity, status: undefined };
      const list = arrivals;
      list.push(arrival);
      res.on('close', () => {
        arrival.end = performance.now();
      });
      const answer = witness.answer(arrival, list.length - 1);
      const go = (): void => {
        if (answer.holdMs === undefined || answer.holdMs <= 0) {
          respond(res, arrival, answer);
          return;
        }
        const timer = setTimeout(() => {
          timers.delete(timer);
          respond(res, arrival, answer);
        }, answer.holdMs);
        timers.add(timer);
      };
      if (answer.until === undefined) {
        go();
      } else {
        answer.until.then(go, go);
      }
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  url = `http://127.0.0.1:${port}/`;
  return witness;
}

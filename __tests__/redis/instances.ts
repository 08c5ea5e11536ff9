/**
 * Instances of a fleet, each a child process running fixtures/fleet-instance.ts through tsx: its own
 * Redis client and Dispatcher. A child runs one scenario after another, so a test file starts its
 * processes once; one that a test kills is replaced when the next test asks for instances.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Message, Scenario } from '../fixtures/fleet-protocol.js';

type Done = Extract<Message, { type: 'done' }>;

/** A scenario made ready in one instance: `go()` starts it, `done` is its report. */
export interface Run {
  go(): void;
  readonly done: Promise<Done>;
}

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'fleet-instance.ts');

export class Instance {
  readonly #child: ChildProcess;
  readonly #waiting: ((message: Message) => void)[] = [];
  readonly #early: Message[] = [];
  readonly #exited: Promise<void>;
  /** It failed to report in time: it is being killed, and no test may take it. */
  #broken = false;
  /** A scenario armed here has not reported yet (a test that failed early left it running). */
  #busy = false;

  private constructor(readonly skewMs: number) {
    this.#child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
      env: { ...process.env, SKEW_MS: String(skewMs) },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    // Should the test process end without its afterAll, its children end too.
    const orphaned = (): void => void this.#child.kill('SIGKILL');
    process.once('exit', orphaned);
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()));
    void this.#exited.then(() => process.off('exit', orphaned));
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) {
        return;
      }
      const message = JSON.parse(line) as Message;
      const waiter = this.#waiting.shift();
      if (waiter === undefined) {
        this.#early.push(message);
      } else {
        waiter(message);
      }
    });
  }

  /** A new instance, once it is ready; its clocks `skewMs` off. */
  static async start(skewMs = 0): Promise<Instance> {
    const instance = new Instance(skewMs);
    await instance.#next('ready', 60_000);
    return instance;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get alive(): boolean {
    return !this.#broken && !this.#busy && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  #next<T extends Message['type']>(type: T, timeoutMs = Infinity): Promise<Extract<Message, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs === Infinity
          ? undefined
          : setTimeout(() => {
              // It writes what it still waits for on stderr, then goes: a later test gets a fresh one.
              this.#broken = true;
              this.#child.kill('SIGUSR2');
              setTimeout(() => this.#child.kill('SIGKILL'), 200);
              reject(new Error(`instance ${this.pid}: no '${type}' in ${timeoutMs} ms`));
            }, timeoutMs);
      const take = (message: Message): void => {
        clearTimeout(timer);
        if (message.type === type) {
          resolve(message as Extract<Message, { type: T }>);
        } else {
          reject(new Error(`instance ${this.pid}: expected '${type}', got ${JSON.stringify(message)}`));
        }
      };
      const early = this.#early.shift();
      if (early === undefined) {
        this.#waiting.push(take);
      } else {
        take(early);
      }
      void this.#exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`instance ${this.pid} exited while the test waited for '${type}'`));
      });
    });
  }

  /** Sends `scenario` and resolves once the instance is ready to start it. */
  async arm(scenario: Scenario): Promise<Run> {
    this.#child.stdin!.write(`${JSON.stringify(scenario)}\n`);
    await this.#next('armed', 20_000);
    // Long enough for any scenario here: a report that never comes is a task left without a result.
    const done = this.#next('done', 25_000);
    this.#busy = true;
    // A test that kills the instance does not wait for its report.
    done.then(
      () => {
        this.#busy = false;
      },
      () => undefined,
    );
    return { go: () => void this.#child.stdin!.write('go\n'), done };
  }

  /** SIGKILL, as a crashed or evicted function instance: no cleanup, its leases left in Redis. */
  async kill(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill('SIGKILL');
    }
    await this.#exited;
  }

  /** Ends the instance: its stdin closes and it exits; killed if it does not within a second. */
  async stop(): Promise<void> {
    this.#child.stdin!.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 1_000);
    await this.#exited;
    clearTimeout(timer);
  }
}

/** Instances kept for a test file, by clock skew; dead ones are replaced. */
export class Instances {
  readonly #all: Instance[] = [];

  /** `count` live instances whose clocks are `skewMs` off, started as needed. */
  async take(count: number, skewMs = 0): Promise<Instance[]> {
    for (let i = this.#all.length - 1; i >= 0; i--) {
      const instance = this.#all[i] as Instance;
      if (!instance.alive) {
        // One still busy with a failed test's scenario would answer this test with that one's report.
        void instance.kill();
        this.#all.splice(i, 1);
      }
    }
    const have = this.#all.filter((instance) => instance.skewMs === skewMs);
    const started = await Promise.all(Array.from({ length: Math.max(0, count - have.length) }, () => Instance.start(skewMs)));
    this.#all.push(...started);
    return [...have, ...started].slice(0, count);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.#all.splice(0).map((instance) => instance.stop()));
  }
}

/** A fleet's run: when it was told to go (`performance.now()`), and each instance's report, in order. */
export interface FleetRun {
  readonly startedAt: number;
  readonly reports: Promise<Done[]>;
}

/** Arms every scenario and starts them all at once. */
export async function startFleet(instances: readonly Instance[], scenarios: readonly Scenario[]): Promise<FleetRun> {
  const runs = await Promise.all(scenarios.map((scenario, i) => (instances[i] as Instance).arm(scenario)));
  const startedAt = performance.now();
  for (const run of runs) {
    run.go();
  }
  return { startedAt, reports: Promise.all(runs.map((run) => run.done)) };
}

/** Runs a fleet to its end. */
export async function runFleet(instances: readonly Instance[], scenarios: readonly Scenario[]): Promise<{ startedAt: number; reports: Done[] }> {
  const { startedAt, reports } = await startFleet(instances, scenarios);
  return { startedAt, reports: await reports };
}

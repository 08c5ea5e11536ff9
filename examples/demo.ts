// The speedup table: N calls of latency L, run one after another and through duta at 8 workers.
// Latencies are scaled down so the demo takes about 20 s; `--real-time` runs them at full length.
import { Dispatcher, type TaskContext } from 'duta';
import { complete } from './fake-llm.js';

const WORKERS = 8;
const SCENARIOS = [
  { calls: 10, latencyS: 5 },
  { calls: 50, latencyS: 3 },
  { calls: 20, latencyS: 10 },
];

function readScale(argv: readonly string[]): number {
  if (argv.includes('--real-time')) {
    return 1;
  }
  const flag = argv.find((arg) => arg.startsWith('--scale='));
  const scale = flag === undefined ? 0.04 : Number(flag.slice('--scale='.length));
  if (!(scale > 0 && scale <= 1)) {
    throw new RangeError(`Expected --scale to be a number in (0, 1], got ${flag}`);
  }
  return scale;
}

/** One progress line per run, redrawn in place on a terminal. */
function progressBar(label: string, total: number): { tick(): void; done(): void } {
  const tty = process.stdout.isTTY === true;
  const started = performance.now();
  let finished = 0;
  const draw = (): void => {
    const width = 30;
    const filled = Math.round((finished / total) * width);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const line = `  ${label.padEnd(28)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${finished}/${total} ${seconds}s`;
    process.stdout.write(tty ? `\r${line}` : `${line}\n`);
  };
  if (tty) {
    draw();
  }
  return {
    tick() {
      finished++;
      if (tty) {
        draw();
      }
    },
    done() {
      if (!tty) {
        draw();
      } else {
        process.stdout.write('\n');
      }
    },
  };
}

async function callModel(index: number, latencyMs: number, { signal }: TaskContext): Promise<string> {
  const { text } = await complete(`Question ${index}`, { signal, latencyMs });
  return text;
}

async function sequential(calls: number, latencyMs: number, label: string): Promise<number> {
  const bar = progressBar(label, calls);
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    await complete(`Question ${i}`, { latencyMs });
    bar.tick();
  }
  bar.done();
  return performance.now() - started;
}

async function withDuta(calls: number, latencyMs: number, label: string): Promise<number> {
  const dispatcher = new Dispatcher({ maxWorkers: WORKERS, timeoutMs: latencyMs * 3 });
  const bar = progressBar(label, calls);
  const started = performance.now();
  const results = await dispatcher.dispatch(
    Array.from({ length: calls }, (_, i) => ({
      id: `call-${i}`,
      func: async (index: number, latency: number, ctx: TaskContext) => {
        try {
          return await callModel(index, latency, ctx);
        } finally {
          bar.tick();
        }
      },
      args: [i, latencyMs],
    })),
  );
  bar.done();
  const failed = results.filter((r) => !r.success);
  if (failed.length > 0) {
    throw new Error(`${failed.length} calls failed, first: ${failed[0]?.error}`);
  }
  return performance.now() - started;
}

const scale = readScale(process.argv.slice(2));
const seconds = (ms: number): string => `${(ms / 1000 / scale).toFixed(1)} s`;
console.log(
  `duta demo: ${WORKERS} workers, latencies scaled by ${scale}${scale === 1 ? ' (real time)' : ' (times below are scaled back up)'}\n`,
);
const rows: string[][] = [];
for (const { calls, latencyS } of SCENARIOS) {
  const latencyMs = latencyS * 1000 * scale;
  const name = `${calls} calls × ${latencyS} s`;
  const seq = await sequential(calls, latencyMs, `${name} sequential`);
  const par = await withDuta(calls, latencyMs, `${name} duta`);
  const ideal = Math.ceil(calls / WORKERS) * latencyMs;
  rows.push([name, seconds(seq), seconds(par), `${(seq / par).toFixed(1)}×`, seconds(ideal), `${(par / ideal).toFixed(3)}×`]);
}

const header = ['scenario', 'sequential', 'duta', 'speedup', 'ideal ⌈N/8⌉×L', 'duta / ideal'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
const format = (row: readonly string[]): string => `| ${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
console.log(`\n${format(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of rows) {
  console.log(format(row));
}

// The speedup table: N chat completions of latency L, over real HTTP through the openai SDK to duta's
// mock LLM server, run one after another and through duta at 8 workers. Latencies are scaled down so
// the demo takes about 20 s; `--real-time` runs them at full length.
import { Dispatcher, type TaskContext } from 'duta';
import { type Llm, startLlm } from './llm.js';

const WORKERS = 8;
const scale = readScale(process.argv.slice(2));
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

/** Milliseconds as the table shows them: scaled back up to the full latencies. */
const seconds = (ms: number): string => `${(ms / 1000 / scale).toFixed(1)} s`;

/**
 * One progress line per run, redrawn in place on a terminal. It shows the elapsed time scaled back up,
 * as the table does, and the real seconds beside it when the run is scaled; `done()` returns the elapsed
 * milliseconds, which the table then shows, so the two agree.
 */
function progressBar(label: string, total: number): { tick(): void; set(finished: number): void; done(): number } {
  const tty = process.stdout.isTTY === true;
  const started = performance.now();
  let finished = 0;
  /** Set when the run is over, so the last line and the table show the same time. */
  let ended: number | undefined;
  const draw = (): void => {
    const width = 30;
    const filled = Math.round((finished / total) * width);
    const elapsed = (ended ?? performance.now()) - started;
    const real = scale === 1 ? '' : ` (${(elapsed / 1000).toFixed(1)} s real)`;
    const line = `  ${label.padEnd(28)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${finished}/${total} ${seconds(elapsed)}${real}`;
    process.stdout.write(tty ? `\r${line}` : `${line}\n`);
  };
  // On a terminal the bar also redraws on a clock, so its timer runs between completions.
  const clock = tty ? setInterval(draw, 100) : undefined;
  if (tty) {
    draw();
  }
  return {
    tick() {
      this.set(finished + 1);
    },
    set(count) {
      finished = count;
      if (tty) {
        draw();
      }
    },
    done() {
      clearInterval(clock);
      ended = performance.now();
      draw();
      if (tty) {
        process.stdout.write('\n');
      }
      return ended - started;
    },
  };
}

async function sequential(llm: Llm, calls: number, label: string): Promise<number> {
  const bar = progressBar(label, calls);
  for (let i = 0; i < calls; i++) {
    await llm.complete(`Question ${i}`);
    bar.tick();
  }
  return bar.done();
}

/** The duta run: its bar follows `onProgress`, and the table's duration percentile comes from `stats()`. */
async function withDuta(llm: Llm, calls: number, latencyMs: number, label: string): Promise<{ ms: number; p95: number }> {
  const dispatcher = new Dispatcher({ maxWorkers: WORKERS, timeoutMs: latencyMs * 5 + 1_000 });
  const bar = progressBar(label, calls);
  const results = await dispatcher.dispatch(
    Array.from({ length: calls }, (_, i) => ({
      id: `call-${i}`,
      func: async ({ signal }: TaskContext) => (await llm.complete(`Question ${i}`, { signal })).text,
    })),
    { onProgress: ({ done, failed }) => bar.set(done + failed) },
  );
  const ms = bar.done();
  const failed = results.filter((r) => !r.success);
  if (failed.length > 0) {
    throw new Error(`${failed.length} calls failed, first: ${failed[0]?.error}`);
  }
  return { ms, p95: dispatcher.stats().p95 };
}

console.log(
  `duta demo: chat completions over HTTP (openai SDK → duta's mock LLM server on 127.0.0.1), ${WORKERS} workers,\n` +
    `latencies scaled by ${scale}${scale === 1 ? ' (real time)' : ': every time shown, in the bars and the table, is scaled back up (the bars add the real seconds)'}\n`,
);
const rows: string[][] = [];
for (const { calls, latencyS } of SCENARIOS) {
  const latencyMs = latencyS * 1000 * scale;
  const llm = await startLlm({ latencyMs });
  const name = `${calls} calls × ${latencyS} s`;
  const seq = await sequential(llm, calls, `${name} sequential`);
  llm.server.reset();
  const { ms: par, p95 } = await withDuta(llm, calls, latencyMs, `${name} duta`);
  const { requests, peakConcurrent } = llm.server.stats();
  await llm.close();
  const ideal = Math.ceil(calls / WORKERS) * latencyMs;
  rows.push([
    name,
    seconds(seq),
    seconds(par),
    `${(seq / par).toFixed(1)}×`,
    seconds(ideal),
    `${(par / ideal).toFixed(3)}×`,
    seconds(p95),
    String(requests),
    String(peakConcurrent),
  ]);
}

// 'call p95' is from duta's stats(); the last two columns are the server's view of the duta run: requests
// received, and most in flight at once.
const header = ['scenario', 'sequential', 'duta', 'speedup', 'ideal ⌈N/8⌉×L', 'duta / ideal', 'call p95', 'server saw', 'peak at server'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
const format = (row: readonly string[]): string => `| ${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
console.log(`\n${format(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of rows) {
  console.log(format(row));
}

// Where `dispatch`'s time goes: runs the overhead benchmark's duta case (N = 1e5, C = 16) in a fresh
// process under V8's sampling profiler and sums self time by function. Shows the gap to a target with
// a profile instead of a guess. `node bench/profile.mjs` prints the table on its own.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

const here = import.meta.dirname;

/** What a profiled function counts as: the collector, duta's own code, the peers' test harness, or Node and V8. */
function placeOf({ functionName, url }) {
  if (functionName === '(garbage collector)') {
    return 'garbage collection';
  }
  if (url.includes('/dist/esm/')) {
    return 'duta';
  }
  if (url.includes('/bench/')) {
    return 'the benchmark (task function, ids)';
  }
  if (functionName === '(program)' || functionName === '(idle)' || functionName === '(root)') {
    return 'V8 and Node outside JavaScript';
  }
  return 'Node and V8 built-ins (promises, setImmediate)';
}

/** Self time per function and per place, as shares of the profile's samples. */
export function summarise(profile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const counts = new Map();
  for (const id of profile.samples) {
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  // Idle samples (the process waiting on nothing) are left out: shares are of the time spent working.
  const idle = new Set(profile.nodes.filter((node) => node.callFrame.functionName === '(idle)').map((node) => node.id));
  const total = profile.samples.filter((id) => !idle.has(id)).length;
  const functions = new Map();
  const places = new Map();
  for (const [id, count] of counts) {
    const { callFrame } = byId.get(id);
    if (idle.has(id)) {
      continue;
    }
    const file = callFrame.url === '' ? '' : ` (${basename(callFrame.url)}:${callFrame.lineNumber + 1})`;
    const name = `${callFrame.functionName || '(anonymous)'}${file}`;
    functions.set(name, (functions.get(name) ?? 0) + count);
    const place = placeOf(callFrame);
    places.set(place, (places.get(place) ?? 0) + count);
  }
  const share = (entries) =>
    [...entries].map(([name, count]) => ({ name, share: count / total })).sort((a, b) => b.share - a.share);
  return { samples: total, places: share(places), functions: share(functions).slice(0, 12) };
}

/** Profiles the duta dispatch case in a child process and summarises it. */
export function profileDispatch({ n = 1e5, rounds = 5 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'duta-prof-'));
  try {
    execFileSync(
      process.execPath,
      ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '100', join(here, 'profile-child.mjs'), String(n), String(rounds)],
      { stdio: 'ignore' },
    );
    const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
    return { n, rounds, ...summarise(JSON.parse(readFileSync(join(dir, file), 'utf8'))) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The report's lines for a summary. */
export function profileLines({ places, functions }) {
  const pct = (share) => `${(share * 100).toFixed(1)} %`;
  return [
    '| where | share of samples |',
    '|---|---:|',
    ...places.map(({ name, share }) => `| ${name} | ${pct(share)} |`),
    '',
    '| function (self time) | share |',
    '|---|---:|',
    ...functions.map(({ name, share }) => `| \`${name.replaceAll('|', '\\|')}\` | ${pct(share)} |`),
  ];
}

if (process.argv[1] === import.meta.filename) {
  const summary = profileDispatch();
  process.stdout.write(`${profileLines(summary).join('\n')}\n`);
}

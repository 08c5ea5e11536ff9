#!/usr/bin/env node
// `npx duta-mock-llm --port 8787 --rpm 60 ...`: the mock server from the command line, until Ctrl-C.
import { parseArgs } from 'node:util';
import type { LatencyModel, MockLlmOptions } from './options.js';
import { startMockLlm } from './server.js';

const usage = `Usage: duta-mock-llm [options]
  --port N              port on 127.0.0.1 (default: a free one)
  --latency MS          fixed latency; or MEDIAN~SPREAD (log-normal); or MIN-MAX (uniform)
  --latency-per-token MS  extra latency per requested max_tokens
  --rpm N               requests per minute     --tpm N          tokens per minute
  --max-concurrent N    requests in flight at once
  --error-rate R        share answered 500/503 (Anthropic: 500/529)
  --hang-rate R         share never answered    --reset-rate R   share reset mid-response
  --stream-error-rate R share of streams broken off by an error event
  --fail-first N[:STATUS]  the first N requests get STATUS (default 503)
  --seed N              random seed             --default-max-tokens N  max_tokens when absent`;

function latency(text: string): LatencyModel {
  const [median, spread] = text.split('~');
  if (spread !== undefined) {
    return { median: Number(median), spread: Number(spread) };
  }
  const [min, max] = text.split('-');
  return max !== undefined && min !== '' ? { min: Number(min), max: Number(max) } : Number(text);
}

function fail(message: string): never {
  console.error(`duta-mock-llm: ${message}\n\n${usage}`);
  process.exit(2);
}

let parsed: ReturnType<typeof parse>;
try {
  parsed = parse();
} catch (error) {
  fail((error as Error).message);
}
const { values } = parsed;

function parse() {
  return parseArgs({
  options: {
    port: { type: 'string' },
    latency: { type: 'string' },
    'latency-per-token': { type: 'string' },
    rpm: { type: 'string' },
    tpm: { type: 'string' },
    'max-concurrent': { type: 'string' },
    'error-rate': { type: 'string' },
    'hang-rate': { type: 'string' },
    'reset-rate': { type: 'string' },
    'stream-error-rate': { type: 'string' },
    'fail-first': { type: 'string' },
    seed: { type: 'string' },
    'default-max-tokens': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  });
}
if (values.help === true) {
  console.log(usage);
  process.exit(0);
}
// An empty value is a mistake, not 0: Number('') would silently be 0.
const number = (text: string | undefined): number | undefined => (text === undefined ? undefined : text === '' ? Number.NaN : Number(text));
const [failCount, failStatus] = (values['fail-first'] ?? '').split(':');
const options: MockLlmOptions = {
  port: number(values.port),
  latencyMs: values.latency === undefined ? undefined : latency(values.latency),
  latencyPerTokenMs: number(values['latency-per-token']),
  requestsPerMinute: number(values.rpm),
  tokensPerMinute: number(values.tpm),
  maxConcurrent: number(values['max-concurrent']),
  errorRate: number(values['error-rate']),
  hangRate: number(values['hang-rate']),
  resetRate: number(values['reset-rate']),
  streamErrorRate: number(values['stream-error-rate']),
  failFirst: failCount ? { count: Number(failCount), status: failStatus ? Number(failStatus) : 503 } : undefined,
  seed: number(values.seed),
  defaultMaxTokens: number(values['default-max-tokens']),
};
try {
  const server = await startMockLlm(options);
  console.log(`duta mock LLM listening on ${server.url} (Anthropic SDK: baseURL ${server.anthropicUrl})`);
  const stop = (): void => {
    console.log(JSON.stringify(server.stats()));
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  fail((error as Error).message);
}

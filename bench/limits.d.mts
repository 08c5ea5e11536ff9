export function measureLimits(
  classes: { Dispatcher: unknown; startMockLlm: unknown },
  options?: {
    scale?: number;
    windows?: number;
    requestsPerMinute?: number;
    tokensPerMinute?: number;
    maxTokens?: number;
    overEstimate?: number;
    keys?: number;
    burstMs?: number;
  },
): Promise<{
  scale: number;
  windows: number;
  minutes: number;
  requestsPerMinute: number;
  tokensPerMinute: number;
  overEstimate: number;
  burstMs: number;
  tooMany: number;
  requests: number;
  busiestMinute: { requests: number; tokens: number };
  tasks: number;
  results: number;
  byStatus: Partial<Record<'done' | 'failed' | 'timeout' | 'cancelled', number>>;
  requestShare: number;
  tokenShare: number;
  throughput: number;
  order: string[];
}>;

export interface GoodputRun {
  goodput: number;
  rejectedAfterWarmup: number;
  limit: number;
  failed: number;
}
export function measureGoodput(
  classes: { Dispatcher: unknown; startMockLlm: unknown },
  options?: { k?: number; n?: number; latencyMs?: number; maxWorkers?: number; rounds?: number; warmup?: number },
): Promise<{ k: number; n: number; latencyMs: number; maxWorkers: number; exact: GoodputRun; adaptive: GoodputRun; ratio: number }>;

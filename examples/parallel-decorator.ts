// dispatchParallel wraps a function so one call runs it over many inputs, failing fast on the first error.
import { dispatchParallel, TaskFailedError, type TaskContext } from 'duta';
import { startLlm } from './llm.js';

const llm = await startLlm({ latencyMs: { median: 300, spread: 0.5 } });

const translate = dispatchParallel({ maxWorkers: 5, timeoutMs: 3_000 })(async function translate(
  text: string,
  language: string,
  { signal }: TaskContext,
) {
  return (await llm.complete(`Translate to ${language}: ${text}`, { signal })).text;
});

// Each item is the argument list of one call; results come back in order.
const greetings = await translate([
  ['Good morning', 'French'],
  ['Good morning', 'German'],
  ['Good morning', 'Japanese'],
]);
console.log(greetings.map((text) => `${text.slice(0, 50)}…`));

// One bad item rejects the whole call at once and cancels the others.
const checkLength = dispatchParallel({ maxWorkers: 2 })(async function checkLength(text: string, { signal }: TaskContext) {
  if (text.length > 10) {
    throw new Error(`"${text}" is too long`);
  }
  return (await llm.complete(`Count the letters of ${text}`, { signal })).text;
});
try {
  await checkLength(['short', 'this one is far too long', 'fine']);
} catch (error) {
  if (error instanceof TaskFailedError) {
    console.log(`item ${error.index} (${error.taskId}) failed: ${(error.cause as Error).message}`);
  }
}
await llm.close();

export { readAiSdkStream } from './ai-sdk.js';
export type { AiSdkStreamPart, AiSdkStreamResult, StreamedText } from './ai-sdk.js';
export { readAnthropicStream } from './anthropic.js';
export type { AnthropicMessageStream } from './anthropic.js';
export { StreamError } from './stream.js';
export type { ReadStreamOptions } from './stream.js';

/**
 * The chat model an agent gets: n8n's AI node SDK model (supplyModel wraps it for LangChain with
 * n8n's tracing) over one protected call per generate. Retries, fallbacks, limits, budgets and the
 * ledger happen inside `call`, so the agent sees one answer or one classified failure.
 */
import {
	BaseChatModel,
	getParametersJsonSchema,
	type ChatModelConfig,
	type GenerateResult,
	type Message,
	type StreamChunk,
} from '@n8n/ai-node-sdk';

import { toChatMessages } from '../../lib/ai/chatMessages';
import type { ChatMessage, ToolSpec } from '../../lib/ai/wire';

/**
 * One protected call. With `onText` the answer is streamed: its text pieces go there as they
 * arrive (already redacted); the result still holds the whole answer.
 */
export type ChatCall = (
	messages: ChatMessage[],
	tools: ToolSpec[],
	signal: AbortSignal | undefined,
	onText?: (text: string) => void,
) => Promise<GenerateResult>;

export class ProtectedChatModel extends BaseChatModel {
	constructor(
		provider: string,
		modelId: string,
		// a plain property: withTools copies the instance with Object.assign
		readonly call: ChatCall,
	) {
		super(provider, modelId);
	}

	async generate(messages: Message[], config?: ChatModelConfig): Promise<GenerateResult> {
		const signal = signalOf(config);
		return await this.call(toChatMessages(messages), this.toolSpecs(), signal);
	}

	/**
	 * A streamed call: the text as the service sends it, then each tool call whole (n8n's SDK stream
	 * adapter gives every tool-call piece index 0; whole calls after the text keep them apart),
	 * then the finish with the usage. Retries and fallbacks happen until the first piece is out.
	 */
	async *stream(messages: Message[], config?: ChatModelConfig): AsyncIterable<StreamChunk> {
		const signal = signalOf(config);
		const pieces: string[] = [];
		let wake: (() => void) | undefined;
		let settled = false;
		let streamed = false;
		let outcome: { result: GenerateResult } | { error: unknown } | undefined;
		this.call(toChatMessages(messages), this.toolSpecs(), signal, (text) => {
			pieces.push(text);
			wake?.();
		})
			.then(
				(result) => (outcome = { result }),
				(error: unknown) => (outcome = { error }),
			)
			.finally(() => {
				settled = true;
				wake?.();
			});
		for (;;) {
			if (pieces.length) {
				streamed = true;
				yield { type: 'text-delta', delta: pieces.shift()! };
				continue;
			}
			if (settled) break;
			await new Promise<void>((resolve) => (wake = resolve));
			wake = undefined;
		}
		if (!outcome || 'error' in outcome) throw (outcome as { error: unknown } | undefined)?.error;
		const { result } = outcome;
		for (const c of result.message.content) {
			// a service that answered the stream request with one plain answer: its text at once
			if (c.type === 'text' && c.text && !streamed) yield { type: 'text-delta', delta: c.text };
			if (c.type === 'tool-call')
				yield {
					type: 'tool-call-delta',
					id: c.toolCallId,
					name: c.toolName,
					argumentsDelta: c.input,
				};
		}
		yield { type: 'finish', finishReason: result.finishReason ?? 'stop', usage: result.usage };
	}

	/** The agent's tools with JSON Schema inputs (n8n's tools carry zod schemas). */
	private toolSpecs(): ToolSpec[] {
		return this.tools.flatMap(
			(t) =>
				t.type === 'function'
					? [
							{
								name: t.name,
								...(t.description ? { description: t.description } : {}),
								parameters: (getParametersJsonSchema(t) ?? { type: 'object' }) as Record<
									string,
									unknown
								>,
							},
						]
					: [], // provider tools (a vendor's built-in web search) are not in our wire formats
		);
	}
}

/** The SDK's LangChain adapter passes LangChain's call options as the config: their abort is `signal`. */
const signalOf = (config?: ChatModelConfig): AbortSignal | undefined =>
	(config as { signal?: AbortSignal } | undefined)?.signal ?? config?.abortSignal;

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

export type ChatCall = (
	messages: ChatMessage[],
	tools: ToolSpec[],
	signal: AbortSignal | undefined,
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
		// the SDK's LangChain adapter passes LangChain's call options, whose abort is `signal`
		const signal = (config as { signal?: AbortSignal } | undefined)?.signal ?? config?.abortSignal;
		return await this.call(toChatMessages(messages), this.toolSpecs(), signal);
	}

	/**
	 * The answer of one protected call, in pieces the agent forwards to a streaming chat: text,
	 * then each tool call, then the finish. Retries and fallbacks need the whole answer first, so
	 * the text arrives at once, not token by token.
	 */
	async *stream(messages: Message[], config?: ChatModelConfig): AsyncIterable<StreamChunk> {
		const result = await this.generate(messages, config);
		for (const c of result.message.content) {
			if (c.type === 'text' && c.text) yield { type: 'text-delta', delta: c.text };
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

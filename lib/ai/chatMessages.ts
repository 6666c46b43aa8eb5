/**
 * The agent's conversation (n8n's AI node SDK messages) as our wire messages, and our answer as
 * the SDK's result. Framework-free: only the SDK's types are used, nothing at run time.
 */
import type {
	FinishReason as SdkFinishReason,
	GenerateResult,
	Message,
	MessageContent,
} from '@n8n/ai-node-sdk';

import { newToolCallId, type AiAnswer, type ChatMessage, type ToolCall } from './wire';

const textOf = (content: MessageContent[]) =>
	content
		.filter((c): c is Extract<MessageContent, { type: 'text' }> => c.type === 'text')
		.map((c) => c.text)
		.join('');

/** A tool result as text: the model reads text; objects as JSON. */
const resultText = (result: unknown): string =>
	typeof result === 'string' ? result : (JSON.stringify(result) ?? '');

/**
 * SDK messages as ChatMessages: text blocks joined, an assistant's tool-call blocks as toolCalls,
 * each tool-result block one tool message. Files, reasoning and provider blocks are not sent (the
 * two wire formats we speak carry text and tool calls).
 */
export function toChatMessages(messages: Message[]): ChatMessage[] {
	const out: ChatMessage[] = [];
	for (const m of messages) {
		const content = Array.isArray(m.content) ? m.content : [];
		if (m.role === 'tool') {
			for (const c of content) {
				if (c.type !== 'tool-result') continue;
				out.push({
					role: 'tool',
					toolCallId: c.toolCallId,
					content: (c.isError ? 'Error: ' : '') + resultText(c.result),
				});
			}
			continue;
		}
		const toolCalls: ToolCall[] =
			m.role === 'assistant'
				? content
						.filter(
							(c): c is Extract<MessageContent, { type: 'tool-call' }> => c.type === 'tool-call',
						)
						.map((c) => ({
							id: c.toolCallId || newToolCallId(),
							name: c.toolName,
							arguments: typeof c.input === 'string' ? c.input : JSON.stringify(c.input ?? {}),
						}))
				: [];
		out.push({
			role: m.role,
			content: textOf(content),
			...(toolCalls.length ? { toolCalls } : {}),
		});
	}
	return out;
}

const FINISH: Record<string, SdkFinishReason> = {
	stop: 'stop',
	stop_sequence: 'stop',
	length: 'length',
	tool_calls: 'tool-calls',
	content_filter: 'content-filter',
};

/** Our answer as the SDK's result; `metadata` goes to the message's response metadata. */
export function toGenerateResult(
	answer: Pick<AiAnswer, 'text' | 'toolCalls' | 'finishReason'>,
	usage: { inputTokens: number; outputTokens: number },
	metadata: Record<string, unknown> = {},
): GenerateResult {
	const content: MessageContent[] = [];
	if (answer.text) content.push({ type: 'text', text: answer.text });
	for (const c of answer.toolCalls ?? [])
		content.push({ type: 'tool-call', toolCallId: c.id, toolName: c.name, input: c.arguments });
	return {
		finishReason: answer.toolCalls?.length
			? 'tool-calls'
			: (FINISH[answer.finishReason] ?? 'other'),
		usage: {
			promptTokens: usage.inputTokens,
			completionTokens: usage.outputTokens,
			totalTokens: usage.inputTokens + usage.outputTokens,
		},
		message: { role: 'assistant', content },
		providerMetadata: metadata,
	};
}

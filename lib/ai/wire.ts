/** Request bodies and response parsing for the two wire formats, validated with zod. */
import { z } from 'zod/v4';

import type { Provider } from '../provider';
import { AiCallError, classifyStatus } from './failure';

export interface ChatMessage {
	role: 'system' | 'user' | 'assistant' | 'tool';
	content: string;
	/** An assistant message's tool calls (the chat model's conversation with an agent). */
	toolCalls?: ToolCall[];
	/** A tool message: the call it answers. */
	toolCallId?: string;
}

/** A tool call as the model made it; `arguments` is the JSON text the model wrote (may be broken). */
export interface ToolCall {
	id: string;
	name: string;
	arguments: string;
}

/** A tool the model may call: its input as a JSON Schema. */
export interface ToolSpec {
	name: string;
	description?: string;
	parameters: Record<string, unknown>;
}

export type ToolChoice = 'auto' | 'required' | 'none' | { name: string };

export type ResponseFormat = 'text' | 'json' | 'jsonSchema';

export interface AiRequest {
	model: string;
	messages: ChatMessage[];
	temperature?: number;
	maxTokens?: number;
	stop?: string[];
	responseFormat: ResponseFormat;
	schema?: Record<string, unknown>;
	tools?: ToolSpec[];
	toolChoice?: ToolChoice;
	/**
	 * Ask for Server-Sent Events (stream.ts reads them). With tools, one tool call per answer:
	 * n8n's SDK stream adapter gives every tool-call piece index 0, so parallel calls would merge.
	 */
	stream?: boolean;
}

export type FinishReason =
	| 'stop'
	| 'length'
	| 'stop_sequence'
	| 'content_filter'
	| 'tool_calls'
	| string;

export interface AiAnswer {
	text: string;
	model: string;
	finishReason: FinishReason;
	inputTokens: number;
	outputTokens: number;
	/** The tool calls the model asks for (finishReason tool_calls); absent without. */
	toolCalls?: ToolCall[];
}

/** Anthropic requires max_tokens; this is what we send when the user sets none. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;

const JSON_INSTRUCTION = 'Respond with a single JSON object only, without prose or code fences.';

function jsonInstruction(req: AiRequest): string | undefined {
	if (req.responseFormat === 'text') return undefined;
	if (req.responseFormat === 'jsonSchema' && req.schema) {
		return `${JSON_INSTRUCTION} It must match this JSON Schema: ${JSON.stringify(req.schema)}`;
	}
	return JSON_INSTRUCTION;
}

/** Newer OpenAI reasoning models take max_completion_tokens; compatible servers know max_tokens. */
export const USES_MAX_COMPLETION_TOKENS = /^(o\d|gpt-5)/i;

/**
 * Anthropic's turns: an assistant's tool calls become tool_use blocks, and the tool messages that
 * answer them one user turn of tool_result blocks (Anthropic wants them together, right after).
 */
function anthropicMessages(messages: ChatMessage[]): Array<Record<string, unknown>> {
	const out: Array<{ role: string; content: unknown }> = [];
	for (const m of messages) {
		if (m.role === 'system') continue;
		if (m.role === 'tool') {
			const block = { type: 'tool_result', tool_use_id: m.toolCallId ?? '', content: m.content };
			const last = out.at(-1);
			if (
				last?.role === 'user' &&
				Array.isArray(last.content) &&
				last.content[0]?.type === 'tool_result'
			)
				(last.content as unknown[]).push(block);
			else out.push({ role: 'user', content: [block] });
			continue;
		}
		if (m.role === 'assistant' && m.toolCalls?.length) {
			out.push({
				role: 'assistant',
				content: [
					...(m.content ? [{ type: 'text', text: m.content }] : []),
					...m.toolCalls.map((c) => ({
						type: 'tool_use',
						id: c.id,
						name: c.name,
						input: toolInput(c.arguments),
					})),
				],
			});
			continue;
		}
		out.push({ role: m.role, content: m.content });
	}
	return out;
}

/** A tool call's arguments as the object Anthropic wants; broken JSON (from a model) as {}. */
function toolInput(text: string): Record<string, unknown> {
	try {
		const value: unknown = JSON.parse(text || '{}');
		return value && typeof value === 'object' && !Array.isArray(value)
			? (value as Record<string, unknown>)
			: {};
	} catch {
		return {};
	}
}

function anthropicToolChoice(req: AiRequest): Record<string, unknown> {
	const choice = req.toolChoice ?? 'auto';
	if (choice === 'none') return { tool_choice: { type: 'none' } };
	const type =
		typeof choice === 'object'
			? { type: 'tool', name: choice.name }
			: { type: choice === 'required' ? 'any' : 'auto' };
	if (req.stream) return { tool_choice: { ...type, disable_parallel_tool_use: true } };
	return choice === 'auto' ? {} : { tool_choice: type };
}

function openAiToolChoice(req: AiRequest): Record<string, unknown> {
	const choice = req.toolChoice ?? 'auto';
	return {
		...(choice === 'auto'
			? {}
			: {
					tool_choice:
						typeof choice === 'object'
							? { type: 'function', function: { name: choice.name } }
							: choice,
				}),
		...(req.stream && choice !== 'none' ? { parallel_tool_calls: false } : {}),
	};
}

export function buildRequest(
	provider: Provider,
	req: AiRequest,
): { path: string; body: Record<string, unknown> } {
	if (provider === 'anthropic') {
		const system = req.messages.filter((m) => m.role === 'system').map((m) => m.content);
		const instruction = jsonInstruction(req);
		if (instruction) system.push(instruction);
		return {
			path: '/messages',
			body: {
				model: req.model,
				max_tokens: req.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
				...(system.length ? { system: system.join('\n\n') } : {}),
				messages: anthropicMessages(req.messages),
				...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
				...(req.stop?.length ? { stop_sequences: req.stop } : {}),
				...(req.stream ? { stream: true } : {}),
				...(req.tools?.length
					? {
							tools: req.tools.map((t) => ({
								name: t.name,
								...(t.description ? { description: t.description } : {}),
								input_schema: t.parameters,
							})),
							...anthropicToolChoice(req),
						}
					: {}),
			},
		};
	}
	const messages: Array<Record<string, unknown> & { role: string; content: string | null }> =
		req.messages.map((m) =>
			m.role === 'tool'
				? { role: 'tool', tool_call_id: m.toolCallId ?? '', content: m.content }
				: m.toolCalls?.length
					? {
							role: m.role,
							content: m.content || null,
							tool_calls: m.toolCalls.map((c) => ({
								id: c.id,
								type: 'function',
								function: { name: c.name, arguments: c.arguments },
							})),
						}
					: { role: m.role, content: m.content },
		);
	// json_object mode requires the word "JSON" in the messages; say it once, in a system message.
	const instruction = req.responseFormat === 'json' ? jsonInstruction(req) : undefined;
	if (instruction && !messages.some((m) => /json/i.test(m.content ?? ''))) {
		messages.unshift({ role: 'system', content: instruction });
	}
	return {
		path: '/chat/completions',
		body: {
			model: req.model,
			messages,
			...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
			...(req.maxTokens !== undefined
				? {
						[USES_MAX_COMPLETION_TOKENS.test(req.model) ? 'max_completion_tokens' : 'max_tokens']:
							req.maxTokens,
					}
				: {}),
			...(req.stop?.length ? { stop: req.stop } : {}),
			...(req.stream ? { stream: true, stream_options: { include_usage: true } } : {}),
			...(req.tools?.length
				? {
						tools: req.tools.map((t) => ({
							type: 'function',
							function: {
								name: t.name,
								...(t.description ? { description: t.description } : {}),
								parameters: t.parameters,
							},
						})),
						...openAiToolChoice(req),
					}
				: {}),
			...(req.responseFormat === 'json' ? { response_format: { type: 'json_object' } } : {}),
			...(req.responseFormat === 'jsonSchema'
				? {
						response_format: {
							type: 'json_schema',
							json_schema: {
								name: 'response',
								schema: req.schema ?? { type: 'object' },
								strict: false,
							},
						},
					}
				: {}),
		},
	};
}

/** The most tokens one count may report; a service's 1e308 would otherwise price as Infinity. */
export const MAX_REPORTED_TOKENS = 1_000_000_000;

/**
 * A token count as reported: a whole number from 0 to MAX_REPORTED_TOKENS. Anything else (text,
 * negative, fractional garbage) counts as 0: a negative count must never credit the budget.
 */
export function tokenCount(value: unknown): number {
	const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
	if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return 0;
	return Math.min(MAX_REPORTED_TOKENS, Math.floor(n));
}

// Fields that only describe the answer (model, finish reason, usage) are read leniently: a broken
// one is dropped, the answer is kept.
const optionalText = z.unknown().transform((v) => (typeof v === 'string' ? v : undefined));
const usageOf = <K extends string>(keys: [K, K]) =>
	z.unknown().transform((v) => {
		const u = typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
		return { input: tokenCount(u[keys[0]]), output: tokenCount(u[keys[1]]) };
	});

const openAiAnswer = z.object({
	model: optionalText,
	choices: z.array(
		z.object({
			message: z
				.object({
					content: z.string().nullable().optional(),
					refusal: optionalText,
					tool_calls: z.unknown().optional(),
				})
				.optional(),
			finish_reason: optionalText,
		}),
	),
	usage: usageOf(['prompt_tokens', 'completion_tokens']),
});

const anthropicAnswer = z.object({
	model: optionalText,
	content: z.array(
		z.object({
			type: z.string(),
			text: z.string().optional(),
			id: z.unknown().optional(),
			name: z.unknown().optional(),
			input: z.unknown().optional(),
		}),
	),
	stop_reason: optionalText,
	usage: usageOf(['input_tokens', 'output_tokens']),
});

const errorText = (body: unknown): string => {
	const e = (body as { error?: { message?: unknown; code?: unknown; type?: unknown } } | undefined)
		?.error;
	return [e?.message, e?.code, e?.type].filter((v) => typeof v === 'string').join(' ');
};

/**
 * The service's answer as an AiAnswer, or an AiCallError with its class. `status` and `text` are
 * exactly what came over the wire: error pages, broken JSON and empty answers are classified here.
 */
export function parseResponse(
	provider: Provider,
	model: string,
	status: number,
	text: string,
	retryAfter?: number,
): AiAnswer {
	let body: unknown;
	try {
		body = text ? JSON.parse(text) : undefined;
	} catch {
		body = undefined;
	}
	if (status < 200 || status >= 300) {
		const detail = body ? errorText(body) : '';
		const cls = classifyStatus(status, detail);
		const what = body
			? detail || 'error'
			: /<html/i.test(text)
				? 'an HTML error page'
				: 'a non-JSON error';
		throw new AiCallError(
			cls,
			`HTTP ${status} from the AI service: ${what}`.slice(0, 500),
			status,
			retryAfter,
		);
	}
	if (body === undefined) {
		throw new AiCallError(
			'server_error',
			'The AI service answered 200 with a body that is not JSON',
			status,
		);
	}
	if (provider === 'anthropic') {
		const parsed = anthropicAnswer.safeParse(body);
		if (!parsed.success)
			throw new AiCallError(
				'server_error',
				'The answer is not in the Anthropic Messages format',
				status,
			);
		const a = parsed.data;
		if (a.stop_reason === 'refusal')
			throw new AiCallError(
				'content_filter',
				'The model refused to answer (stop_reason refusal)',
				status,
			);
		const blocks = a.content.filter((b) => b.type === 'text');
		const toolCalls = toolCallsOf(
			a.content
				.filter((b) => b.type === 'tool_use')
				.map((b) => ({ id: b.id, name: b.name, arguments: JSON.stringify(b.input ?? {}) })),
		);
		if (!blocks.length && !toolCalls.length)
			throw new AiCallError('server_error', 'The answer has no text content', status);
		return {
			...(toolCalls.length ? { toolCalls } : {}),
			text: blocks.map((b) => b.text ?? '').join(''),
			model: a.model ?? model,
			finishReason:
				(
					{
						end_turn: 'stop',
						max_tokens: 'length',
						stop_sequence: 'stop_sequence',
						tool_use: 'tool_calls',
					} as Record<string, string>
				)[a.stop_reason ?? ''] ??
				a.stop_reason ??
				'stop',
			inputTokens: a.usage.input,
			outputTokens: a.usage.output,
		};
	}
	const parsed = openAiAnswer.safeParse(body);
	if (!parsed.success)
		throw new AiCallError(
			'server_error',
			'The answer is not in the OpenAI chat completion format',
			status,
		);
	const a = parsed.data;
	const choice = a.choices[0];
	if (!choice) throw new AiCallError('server_error', 'The answer has no choices', status);
	if (choice.finish_reason === 'content_filter') {
		throw new AiCallError(
			'content_filter',
			'The answer was withheld by the content filter',
			status,
		);
	}
	if (choice.message?.refusal)
		throw new AiCallError('content_filter', 'The model refused to answer', status);
	const calls = choice.message?.tool_calls;
	const toolCalls = toolCallsOf(
		(Array.isArray(calls) ? calls : []).map(
			(c: { id?: unknown; function?: { name?: unknown; arguments?: unknown } }) => ({
				id: c?.id,
				name: c?.function?.name,
				arguments: c?.function?.arguments,
			}),
		),
	);
	return {
		...(toolCalls.length ? { toolCalls } : {}),
		text: choice.message?.content ?? '',
		model: a.model ?? model,
		finishReason: choice.finish_reason ?? 'stop',
		inputTokens: a.usage.input,
		outputTokens: a.usage.output,
	};
}

let toolCallSeq = 0;

/** A new unique tool call id, for a call that came without one. */
export const newToolCallId = () =>
	`call_aip_${Date.now().toString(36)}_${(toolCallSeq++).toString(36)}`;

/**
 * Tool calls as the model wrote them, without the broken ones (no name). An agent matches every
 * tool result to its call by id: a missing or repeated id gets a new unique one.
 */
export function toolCallsOf(
	raw: Array<{ id: unknown; name: unknown; arguments: unknown }>,
): ToolCall[] {
	const seen = new Set<string>();
	const calls: ToolCall[] = [];
	for (const c of raw) {
		if (typeof c.name !== 'string' || !c.name) continue;
		let id = typeof c.id === 'string' && c.id && !seen.has(c.id) ? c.id : '';
		if (!id) id = newToolCallId();
		seen.add(id);
		calls.push({
			id,
			name: c.name,
			arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments ?? {}),
		});
	}
	return calls;
}

/** The models a credential offers, for the model list in the editor. */
export function parseModelList(text: string): string[] {
	const parsed = z
		.object({ data: z.array(z.object({ id: z.string() })) })
		.safeParse(JSON.parse(text));
	return parsed.success ? parsed.data.data.map((m) => m.id) : [];
}

/** The two wire formats the simulator speaks: request schemas, tool conversations, answers, streams and errors. */
import { z } from 'zod/v4';

import type { Provider } from '../lib/provider';

const textPart = z.looseObject({ type: z.string(), text: z.string().optional() });
const content = z.union([z.string(), z.array(textPart), z.null()]);

/** Both APIs allow these names for a tool, up to 64 characters. */
const toolName = z
	.string()
	.regex(/^[a-zA-Z0-9_-]{1,64}$/, 'a tool name is 1 to 64 letters, digits, underscores or dashes');
const jsonSchema = z.record(z.string(), z.unknown());

const openAiTool = z.looseObject({
	type: z.literal('function'),
	function: z.looseObject({
		name: toolName,
		description: z.string().optional(),
		parameters: jsonSchema.optional(),
		strict: z.boolean().nullable().optional(),
	}),
});

const openAiToolCall = z.looseObject({
	id: z.string().min(1),
	type: z.literal('function'),
	function: z.looseObject({ name: z.string(), arguments: z.string() }),
});

export const openAiChatRequest = z.looseObject({
	model: z.string().min(1),
	messages: z
		.array(
			z.looseObject({
				role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
				content: content.optional(),
				tool_calls: z.array(openAiToolCall).optional(),
				tool_call_id: z.string().optional(),
			}),
		)
		.min(1),
	tools: z.array(openAiTool).optional(),
	tool_choice: z
		.union(
			[
				z.enum(['auto', 'none', 'required']),
				z.looseObject({
					type: z.literal('function'),
					function: z.looseObject({ name: z.string() }),
				}),
			],
			{
				error:
					"tool_choice must be 'auto', 'none', 'required' or {type: 'function', function: {name}}",
			},
		)
		.optional(),
	parallel_tool_calls: z.boolean().optional(),
	stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
	max_tokens: z.number().int().positive().optional(),
	max_completion_tokens: z.number().int().positive().optional(),
	temperature: z.number().min(0).max(2).optional(),
	stop: z
		.union([z.string(), z.array(z.string()).max(4)])
		.nullable()
		.optional(),
	stream: z.boolean().optional(),
	response_format: z
		.discriminatedUnion('type', [
			z.looseObject({ type: z.literal('text') }),
			z.looseObject({ type: z.literal('json_object') }),
			z.looseObject({
				type: z.literal('json_schema'),
				json_schema: z.looseObject({
					name: z.string(),
					schema: z.record(z.string(), z.unknown()).optional(),
				}),
			}),
		])
		.optional(),
});

/**
 * OpenAI's Responses API (`POST /v1/responses`, what n8n's own OpenAI nodes send by default):
 * `instructions` and `input` (a string, or messages whose content is text or input_text parts;
 * tool items such as function_call_output pass through as text), `max_output_tokens`,
 * `text.format` for JSON.
 */
export const openAiResponsesRequest = z.looseObject({
	model: z.string().min(1),
	instructions: z.string().nullable().optional(),
	input: z.union([
		z.string().min(1),
		z
			.array(
				z.looseObject({
					type: z.string().optional(),
					role: z.enum(['system', 'developer', 'user', 'assistant']).optional(),
					content: content.optional(),
					output: z.unknown().optional(),
				}),
			)
			.min(1),
	]),
	max_output_tokens: z.number().int().positive().nullable().optional(),
	temperature: z.number().min(0).max(2).nullable().optional(),
	stream: z.boolean().nullable().optional(),
	text: z
		.looseObject({
			format: z
				.discriminatedUnion('type', [
					z.looseObject({ type: z.literal('text') }),
					z.looseObject({ type: z.literal('json_object') }),
					z.looseObject({
						type: z.literal('json_schema'),
						name: z.string(),
						schema: z.record(z.string(), z.unknown()).optional(),
					}),
				])
				.optional(),
		})
		.nullable()
		.optional(),
});

/**
 * A Responses request as the chat completion it asks for, so one path answers both: instructions
 * become the system message, input items the messages (a tool's output as a tool message).
 */
export function responsesAsChat(
	r: z.infer<typeof openAiResponsesRequest>,
): Record<string, unknown> {
	const messages: Array<{ role: string; content: unknown }> = [];
	if (r.instructions) messages.push({ role: 'system', content: r.instructions });
	if (typeof r.input === 'string') messages.push({ role: 'user', content: r.input });
	else
		for (const item of r.input) {
			if (item.type === 'function_call_output')
				messages.push({
					role: 'tool',
					content: typeof item.output === 'string' ? item.output : JSON.stringify(item.output),
				});
			else if (item.role && (item.type === undefined || item.type === 'message'))
				messages.push({ role: item.role, content: item.content ?? '' });
		}
	const format = r.text?.format;
	return {
		model: r.model,
		messages,
		...(r.max_output_tokens ? { max_tokens: r.max_output_tokens } : {}),
		...(r.stream ? { stream: true } : {}),
		...(format?.type === 'json_object' ? { response_format: { type: 'json_object' } } : {}),
		...(format?.type === 'json_schema'
			? {
					response_format: {
						type: 'json_schema',
						json_schema: { name: format.name, schema: format.schema },
					},
				}
			: {}),
	};
}

const anthropicToolUse = z.looseObject({
	id: z.string().min(1),
	name: z.string(),
	input: z.record(z.string(), z.unknown()),
});
const anthropicToolResult = z.looseObject({
	tool_use_id: z.string().min(1),
	content: z.union([z.string(), z.array(textPart)]).optional(),
	is_error: z.boolean().optional(),
});
/** Any content block; tool_use and tool_result blocks must also have their own fields. */
const anthropicBlock = textPart.superRefine((block, ctx) => {
	const schema =
		block.type === 'tool_use'
			? anthropicToolUse
			: block.type === 'tool_result'
				? anthropicToolResult
				: undefined;
	const checked = schema?.safeParse(block);
	if (checked && !checked.success)
		for (const issue of checked.error.issues)
			ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
});

const anthropicTool = z.looseObject({
	// server tools (web search, code execution) are not simulated
	type: z.literal('custom').optional(),
	name: toolName,
	description: z.string().optional(),
	input_schema: z.looseObject({ type: z.literal('object') }),
});

export const anthropicMessagesRequest = z.looseObject({
	model: z.string().min(1),
	max_tokens: z.number().int().positive(),
	messages: z
		.array(
			z.looseObject({
				role: z.enum(['user', 'assistant']),
				content: z.union([z.string(), z.array(anthropicBlock), z.null()]),
			}),
		)
		.min(1),
	tools: z.array(anthropicTool).optional(),
	tool_choice: z
		.discriminatedUnion(
			'type',
			[
				z.looseObject({
					type: z.literal('auto'),
					disable_parallel_tool_use: z.boolean().optional(),
				}),
				z.looseObject({
					type: z.literal('any'),
					disable_parallel_tool_use: z.boolean().optional(),
				}),
				z.looseObject({ type: z.literal('none') }),
				z.looseObject({
					type: z.literal('tool'),
					name: z.string(),
					disable_parallel_tool_use: z.boolean().optional(),
				}),
			],
			{ error: "tool_choice.type must be 'auto', 'any', 'none' or 'tool'" },
		)
		.optional(),
	system: z.union([z.string(), z.array(textPart)]).optional(),
	stop_sequences: z.array(z.string()).optional(),
	temperature: z.number().min(0).max(1).optional(),
	stream: z.boolean().optional(),
	output_format: z
		.looseObject({ type: z.literal('json_schema'), schema: z.record(z.string(), z.unknown()) })
		.optional(),
});

export function contentText(value: z.infer<typeof content> | undefined): string {
	if (typeof value === 'string') return value;
	if (!value) return '';
	return value.map((p) => p.text ?? '').join('\n');
}

/** A tool the model may call, from either format. */
export interface ToolDef {
	name: string;
	/** Its input as a JSON Schema. */
	schema?: Record<string, unknown>;
}

/** A tool call the model makes; `arguments` is JSON text. */
export interface ToolCall {
	id: string;
	name: string;
	arguments: string;
}

/** A tool's answer that ends the conversation, with the name of the tool its call went to. */
export interface ToolResult {
	name: string;
	content: string;
	isError: boolean;
}

/** What a request says about tools: those offered, the choice, and the results it ends with. */
export interface ToolTurn {
	tools: ToolDef[];
	/** 'none': answer text; 'auto' / 'required': call the tool the simulator picks; { name }: call that one. */
	choice: 'auto' | 'none' | 'required' | { name: string };
	/** The tool results of the last message(s); empty when the conversation ends otherwise. */
	results: ToolResult[];
}

/** A request the real API refuses for its tools or its tool conversation: a 400 with this message. */
export class ToolRequestError extends Error {}

type AnthropicBlock = z.infer<typeof textPart> & {
	id?: string;
	name?: string;
	input?: unknown;
	tool_use_id?: string;
	content?: unknown;
	is_error?: boolean;
};

function uniqueNames(tools: ToolDef[]): void {
	const seen = new Set<string>();
	tools.forEach((t, i) => {
		if (seen.has(t.name))
			throw new ToolRequestError(`tools.${i}.name: tool names must be unique ("${t.name}" twice)`);
		seen.add(t.name);
	});
}

/** A tool result's content: a string or text blocks (other blocks, e.g. images, have no text). */
function resultText(value: unknown): string {
	if (typeof value === 'string') return value;
	if (!Array.isArray(value)) return '';
	return value
		.filter((b): b is { text: string } => typeof (b as { text?: unknown })?.text === 'string')
		.map((b) => b.text)
		.join('\n');
}

/**
 * OpenAI's rules: a run of tool messages follows the assistant message whose tool calls they
 * answer, by tool_call_id, and every call is answered before the next other message.
 */
export function openAiToolTurn(data: z.infer<typeof openAiChatRequest>): ToolTurn {
	const tools = (data.tools ?? []).map((t) => ({
		name: t.function.name,
		schema: t.function.parameters,
	}));
	uniqueNames(tools);
	const c = data.tool_choice;
	if (c !== undefined && !tools.length)
		throw new ToolRequestError(
			"tool_choice: 'tool_choice' is only allowed when 'tools' are specified",
		);
	const choice = typeof c === 'object' ? { name: c.function.name } : (c ?? 'auto');
	if (typeof choice === 'object' && !tools.some((t) => t.name === choice.name))
		throw new ToolRequestError(
			`tool_choice.function.name: no tool named "${choice.name}" in tools`,
		);

	let calls = new Map<string, string>(); // id → tool name, of the assistant message the run follows
	let open = new Set<string>(); // those calls not answered yet
	let callsAt = -1;
	const results: ToolResult[] = [];
	const unanswered = () =>
		new ToolRequestError(
			`messages.${callsAt}: An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...open].join(', ')}`,
		);
	data.messages.forEach((m, i) => {
		if (m.role === 'tool') {
			if (callsAt === -1)
				throw new ToolRequestError(
					`messages.${i}.role: messages with role 'tool' must be a response to a preceding message with 'tool_calls'`,
				);
			const id = m.tool_call_id;
			if (!id)
				throw new ToolRequestError(
					`messages.${i}.tool_call_id: messages with role 'tool' must have a 'tool_call_id'`,
				);
			const name = calls.get(id);
			if (name === undefined)
				throw new ToolRequestError(
					`messages.${i}.tool_call_id: "${id}" is not the id of a tool call in the preceding assistant message`,
				);
			open.delete(id);
			results.push({ name, content: contentText(m.content), isError: false });
			return;
		}
		if (open.size) throw unanswered();
		results.length = 0;
		callsAt = -1;
		if (m.role === 'assistant' && m.tool_calls?.length) {
			calls = new Map(m.tool_calls.map((call) => [call.id, call.function.name]));
			open = new Set(calls.keys());
			callsAt = i;
		}
	});
	if (open.size) throw unanswered();
	return { tools, choice, results };
}

/**
 * Anthropic's rules: tool_use blocks are the assistant's, tool_result blocks the user's, and the
 * message after one with tool_use blocks answers each of them by tool_use_id.
 */
export function anthropicToolTurn(data: z.infer<typeof anthropicMessagesRequest>): ToolTurn {
	const tools = (data.tools ?? []).map((t) => ({ name: t.name, schema: t.input_schema }));
	uniqueNames(tools);
	const c = data.tool_choice;
	if (c?.type === 'tool' && !tools.some((t) => t.name === c.name))
		throw new ToolRequestError(`tool_choice.name: no tool named "${c.name}" in tools`);
	if (c?.type === 'any' && !tools.length)
		throw new ToolRequestError("tool_choice: type 'any' needs tools to choose from");
	const choice =
		c?.type === 'tool'
			? { name: c.name }
			: c?.type === 'any'
				? 'required'
				: c?.type === 'none'
					? 'none'
					: 'auto';

	let previous = new Map<string, string>(); // tool_use ids of the previous message → tool name
	let results: ToolResult[] = [];
	const unanswered = (at: number, ids: string[]) =>
		new ToolRequestError(
			`messages.${at}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${ids.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
		);
	data.messages.forEach((m, i) => {
		const blocks = (Array.isArray(m.content) ? m.content : []) as AnthropicBlock[];
		const answered = new Set<string>();
		results = [];
		blocks.forEach((b, j) => {
			if (b.type === 'tool_use' && m.role !== 'assistant')
				throw new ToolRequestError(
					`messages.${i}.content.${j}: tool_use blocks can only be in assistant messages`,
				);
			if (b.type !== 'tool_result') return;
			if (m.role !== 'user')
				throw new ToolRequestError(
					`messages.${i}.content.${j}: tool_result blocks can only be in user messages`,
				);
			const id = b.tool_use_id!;
			const name = previous.get(id);
			if (name === undefined)
				throw new ToolRequestError(
					`messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
				);
			answered.add(id);
			results.push({ name, content: resultText(b.content), isError: b.is_error === true });
		});
		const missing = [...previous.keys()].filter((id) => !answered.has(id));
		if (missing.length) throw unanswered(i - 1, missing);
		previous = new Map(
			blocks.filter((b) => b.type === 'tool_use').map((b) => [b.id!, b.name!] as const),
		);
	});
	if (previous.size) throw unanswered(data.messages.length - 1, [...previous.keys()]);
	return { tools, choice, results };
}

/**
 * A message's text as the model reads it (and bills it): its text, and the tool calls and results
 * it carries. Reads bodies not validated yet too: faults are decided before validation.
 */
export function messageText(message: unknown): string {
	if (typeof message !== 'object' || message === null) return '';
	const { content, tool_calls } = message as { content?: unknown; tool_calls?: unknown };
	if (
		content !== undefined &&
		content !== null &&
		typeof content !== 'string' &&
		!Array.isArray(content)
	)
		return '';
	const tools: string[] = [];
	if (Array.isArray(tool_calls))
		for (const call of tool_calls as Array<{
			function?: { name?: unknown; arguments?: unknown };
		}>) {
			const f = call?.function;
			if (f) tools.push([f.name, f.arguments].filter((v) => typeof v === 'string').join(' '));
		}
	if (Array.isArray(content))
		for (const b of content as AnthropicBlock[]) {
			if (b?.type === 'tool_use') tools.push(`${b.name ?? ''} ${JSON.stringify(b.input ?? {})}`);
			else if (b?.type === 'tool_result') tools.push(resultText(b.content));
		}
	if (!tools.length) return contentText(content as never);
	const text = Array.isArray(content) ? resultText(content) : contentText(content as never);
	return [text, ...tools].filter(Boolean).join('\n');
}

/** First zod issue as "path: message", the way the real APIs word a bad request. */
export function describeIssue(error: z.ZodError): string {
	let issue = error.issues[0];
	let path = issue.path;
	// a union says only "Invalid input": name the problem of the branch that got furthest into the value
	while (issue.code === 'invalid_union') {
		const deeper = issue.errors.map((branch) => branch[0]).find((i) => i && i.path.length > 0);
		if (!deeper) break;
		path = [...path, ...deeper.path];
		issue = deeper;
	}
	return `${path.join('.') || 'body'}: ${issue.message}`;
}

const OPENAI_ERROR: Record<number, { type: string; code: string | null; message: string }> = {
	400: { type: 'invalid_request_error', code: null, message: 'Bad request' },
	401: {
		type: 'invalid_request_error',
		code: 'invalid_api_key',
		message: 'Incorrect API key provided.',
	},
	403: {
		type: 'invalid_request_error',
		code: 'unsupported_country_region_territory',
		message: 'Forbidden',
	},
	404: { type: 'invalid_request_error', code: 'model_not_found', message: 'Not found' },
	408: { type: 'timeout', code: null, message: 'Request timed out.' },
	409: { type: 'invalid_request_error', code: null, message: 'Conflict' },
	429: {
		type: 'requests',
		code: 'rate_limit_exceeded',
		message: 'Rate limit reached for requests. Please try again later.',
	},
	500: {
		type: 'server_error',
		code: null,
		message: 'The server had an error while processing your request.',
	},
	502: { type: 'server_error', code: null, message: 'Bad gateway.' },
	503: {
		type: 'server_error',
		code: 'service_unavailable',
		message: 'The server is overloaded or not ready yet.',
	},
	504: { type: 'server_error', code: null, message: 'Gateway timeout.' },
	529: {
		type: 'server_error',
		code: 'overloaded',
		message: 'The engine is currently overloaded, please try again later.',
	},
};

const ANTHROPIC_ERROR: Record<number, { type: string; message: string }> = {
	400: { type: 'invalid_request_error', message: 'Bad request' },
	401: { type: 'authentication_error', message: 'invalid x-api-key' },
	403: {
		type: 'permission_error',
		message: 'Your API key does not have permission to use the specified resource.',
	},
	404: { type: 'not_found_error', message: 'Not found' },
	413: {
		type: 'request_too_large',
		message: 'Request exceeds the maximum allowed number of bytes.',
	},
	429: {
		type: 'rate_limit_error',
		message: 'Number of requests has exceeded your rate limit. Please try again later.',
	},
	500: { type: 'api_error', message: 'Internal server error' },
	503: { type: 'overloaded_error', message: 'Service unavailable' },
	529: { type: 'overloaded_error', message: 'Overloaded' },
};

export function errorBody(
	provider: Provider,
	status: number,
	message?: string,
	code?: string,
): unknown {
	if (provider === 'anthropic') {
		const known = ANTHROPIC_ERROR[status] ?? {
			type: status >= 500 ? 'api_error' : 'invalid_request_error',
			message: 'Error',
		};
		return { type: 'error', error: { type: known.type, message: message ?? known.message } };
	}
	const known = OPENAI_ERROR[status] ?? {
		type: status >= 500 ? 'server_error' : 'invalid_request_error',
		code: null,
		message: 'Error',
	};
	return {
		error: {
			message: message ?? known.message,
			type: known.type,
			param: null,
			code: code ?? known.code,
		},
	};
}

export const HTML_ERROR_PAGE = (status: number) =>
	`<!DOCTYPE html>\n<html><head><title>${status} Bad Gateway</title></head><body><center><h1>${status} Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n`;

export interface Completion {
	id: string;
	model: string;
	text: string | null;
	finish: 'end' | 'length' | 'stop' | 'content_filter' | 'tool';
	/** The model calls these tools instead of answering (finish 'tool'). */
	toolCalls?: ToolCall[];
	stopSequence?: string;
	inputTokens: number;
	outputTokens: number;
	/** Send no choices / no content blocks at all. */
	empty?: boolean;
}

const OPENAI_FINISH = {
	end: 'stop',
	length: 'length',
	stop: 'stop',
	content_filter: 'content_filter',
	tool: 'tool_calls',
} as const;

const openAiToolCalls = (calls: ToolCall[]) =>
	calls.map((t) => ({
		id: t.id,
		type: 'function',
		function: { name: t.name, arguments: t.arguments },
	}));

export function openAiCompletion(c: Completion, created: number): unknown {
	const finish_reason = OPENAI_FINISH[c.finish];
	return {
		id: `chatcmpl-${c.id}`,
		object: 'chat.completion',
		created,
		model: c.model,
		choices: c.empty
			? []
			: [
					{
						index: 0,
						message: {
							role: 'assistant',
							content: c.text,
							refusal: null,
							...(c.toolCalls?.length ? { tool_calls: openAiToolCalls(c.toolCalls) } : {}),
						},
						logprobs: null,
						finish_reason,
					},
				],
		usage: {
			prompt_tokens: c.inputTokens,
			completion_tokens: c.outputTokens,
			total_tokens: c.inputTokens + c.outputTokens,
		},
		system_fingerprint: 'fp_ai_sim',
	};
}

/** The Responses API's answer: one assistant message of output_text (or a refusal). */
export function openAiResponse(c: Completion, created: number): unknown {
	const incomplete =
		c.finish === 'length'
			? 'max_output_tokens'
			: c.finish === 'content_filter'
				? 'content_filter'
				: null;
	const content =
		c.finish === 'content_filter'
			? [{ type: 'refusal', refusal: 'The answer was withheld by the content filter.' }]
			: [{ type: 'output_text', text: c.text ?? '', annotations: [], logprobs: [] }];
	return {
		id: `resp_${c.id}`,
		object: 'response',
		created_at: created,
		status: incomplete ? 'incomplete' : 'completed',
		error: null,
		incomplete_details: incomplete ? { reason: incomplete } : null,
		model: c.model,
		output: c.empty
			? []
			: [{ type: 'message', id: `msg_${c.id}`, status: 'completed', role: 'assistant', content }],
		parallel_tool_calls: true,
		tool_choice: 'auto',
		tools: [],
		usage: {
			input_tokens: c.inputTokens,
			input_tokens_details: { cached_tokens: 0 },
			output_tokens: c.outputTokens,
			output_tokens_details: { reasoning_tokens: 0 },
			total_tokens: c.inputTokens + c.outputTokens,
		},
	};
}

const ANTHROPIC_STOP = {
	end: 'end_turn',
	length: 'max_tokens',
	stop: 'stop_sequence',
	content_filter: 'refusal',
	tool: 'tool_use',
} as const;

/** The content blocks of an Anthropic answer: its text (if any), then its tool calls. */
function anthropicBlocks(c: Completion): Array<Record<string, unknown>> {
	if (c.empty) return [];
	return [
		...(c.text === null ? [] : [{ type: 'text', text: c.text }]),
		...(c.toolCalls ?? []).map((t) => ({
			type: 'tool_use',
			id: t.id,
			name: t.name,
			input: JSON.parse(t.arguments) as unknown,
		})),
	];
}

export function anthropicMessage(c: Completion): unknown {
	return {
		id: `msg_${c.id}`,
		type: 'message',
		role: 'assistant',
		model: c.model,
		content: anthropicBlocks(c),
		stop_reason: ANTHROPIC_STOP[c.finish],
		stop_sequence: c.stopSequence ?? null,
		usage: { input_tokens: c.inputTokens, output_tokens: c.outputTokens },
	};
}

/** One server-sent event; `piece` marks a piece of the answer's text or arguments (where stream-cut cuts). */
export interface SseEvent {
	event?: string;
	data: string;
	piece?: boolean;
}

export const sseText = (e: SseEvent) =>
	`${e.event === undefined ? '' : `event: ${e.event}\n`}data: ${e.data}\n\n`;

/** Text in word-sized pieces (each with the spaces after it), as a model streams its tokens. */
export function textPieces(text: string): string[] {
	return text ? text.split(/(?<=\s)(?=\S)/) : [];
}

/** Arguments JSON in pieces of a few characters, whole code points each. */
export function argumentPieces(json: string, size = 8): string[] {
	const chars = Array.from(json);
	const pieces: string[] = [];
	for (let i = 0; i < chars.length; i += size) pieces.push(chars.slice(i, i + size).join(''));
	return pieces;
}

/**
 * A chat completion as its stream's chunks, `data: [DONE]` last. With include_usage every chunk
 * carries `usage: null` and one more chunk without choices brings the usage, as OpenAI does.
 */
export function openAiChunks(c: Completion, created: number, includeUsage: boolean): SseEvent[] {
	const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({
		data: JSON.stringify({
			id: `chatcmpl-${c.id}`,
			object: 'chat.completion.chunk',
			created,
			model: c.model,
			system_fingerprint: 'fp_ai_sim',
			choices,
			...(includeUsage ? { usage: null } : {}),
			...extra,
		}),
	});
	const delta = (d: Record<string, unknown>, finish: string | null = null) =>
		chunk([{ index: 0, delta: d, logprobs: null, finish_reason: finish }]);
	const events: SseEvent[] = [];
	if (c.empty) events.push(chunk([]));
	else {
		events.push(delta({ role: 'assistant', content: '' }));
		for (const piece of textPieces(c.text ?? ''))
			events.push({ ...delta({ content: piece }), piece: true });
		(c.toolCalls ?? []).forEach((t, index) => {
			events.push(
				delta({
					tool_calls: [
						{ index, id: t.id, type: 'function', function: { name: t.name, arguments: '' } },
					],
				}),
			);
			for (const piece of argumentPieces(t.arguments))
				events.push({
					...delta({ tool_calls: [{ index, function: { arguments: piece } }] }),
					piece: true,
				});
		});
		events.push(delta({}, OPENAI_FINISH[c.finish]));
	}
	if (includeUsage)
		events.push(
			chunk([], {
				usage: {
					prompt_tokens: c.inputTokens,
					completion_tokens: c.outputTokens,
					total_tokens: c.inputTokens + c.outputTokens,
				},
			}),
		);
	events.push({ data: '[DONE]' });
	return events;
}

/** An Anthropic message as its stream's events: message_start, the content blocks, message_delta, message_stop. */
export function anthropicEvents(c: Completion): SseEvent[] {
	const event = (type: string, body: Record<string, unknown> = {}, piece?: boolean): SseEvent => ({
		event: type,
		data: JSON.stringify({ type, ...body }),
		...(piece ? { piece } : {}),
	});
	const events = [
		event('message_start', {
			message: {
				id: `msg_${c.id}`,
				type: 'message',
				role: 'assistant',
				model: c.model,
				content: [],
				stop_reason: null,
				stop_sequence: null,
				usage: { input_tokens: c.inputTokens, output_tokens: 0 },
			},
		}),
		event('ping'),
	];
	anthropicBlocks(c).forEach((block, index) => {
		if (block.type === 'text') {
			events.push(
				event('content_block_start', { index, content_block: { type: 'text', text: '' } }),
			);
			for (const text of textPieces(block.text as string))
				events.push(
					event('content_block_delta', { index, delta: { type: 'text_delta', text } }, true),
				);
		} else {
			events.push(event('content_block_start', { index, content_block: { ...block, input: {} } }));
			const json = JSON.stringify(block.input);
			for (const partial_json of argumentPieces(json))
				events.push(
					event(
						'content_block_delta',
						{ index, delta: { type: 'input_json_delta', partial_json } },
						true,
					),
				);
		}
		events.push(event('content_block_stop', { index }));
	});
	events.push(
		event('message_delta', {
			delta: { stop_reason: ANTHROPIC_STOP[c.finish], stop_sequence: c.stopSequence ?? null },
			usage: { output_tokens: c.outputTokens },
		}),
		event('message_stop'),
	);
	return events;
}

export function modelList(provider: Provider, models: readonly string[]): unknown {
	if (provider === 'anthropic') {
		const data = models.map((id) => ({
			type: 'model',
			id,
			display_name: id,
			created_at: '2024-01-01T00:00:00Z',
		}));
		return {
			data,
			has_more: false,
			first_id: data[0]?.id ?? null,
			last_id: data.at(-1)?.id ?? null,
		};
	}
	return {
		object: 'list',
		data: models.map((id) => ({ id, object: 'model', created: 1704067200, owned_by: 'ai-sim' })),
	};
}

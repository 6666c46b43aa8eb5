/** The two wire formats the simulator speaks: request schemas, answers and errors. */
import { z } from 'zod/v4';

import type { Provider } from '../lib/provider';

const textPart = z.looseObject({ type: z.string(), text: z.string().optional() });
const content = z.union([z.string(), z.array(textPart), z.null()]);

export const openAiChatRequest = z.looseObject({
	model: z.string().min(1),
	messages: z
		.array(
			z.looseObject({
				role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
				content: content.optional(),
			}),
		)
		.min(1),
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

export const anthropicMessagesRequest = z.looseObject({
	model: z.string().min(1),
	max_tokens: z.number().int().positive(),
	messages: z
		.array(z.looseObject({ role: z.enum(['user', 'assistant']), content: content }))
		.min(1),
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

/** First zod issue as "path: message", the way the real APIs word a bad request. */
export function describeIssue(error: z.ZodError): string {
	const issue = error.issues[0];
	return `${issue.path.join('.') || 'body'}: ${issue.message}`;
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
	finish: 'end' | 'length' | 'stop' | 'content_filter';
	stopSequence?: string;
	inputTokens: number;
	outputTokens: number;
	/** Send no choices / no content blocks at all. */
	empty?: boolean;
}

export function openAiCompletion(c: Completion, created: number): unknown {
	const finish_reason = {
		end: 'stop',
		length: 'length',
		stop: 'stop',
		content_filter: 'content_filter',
	}[c.finish];
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
						message: { role: 'assistant', content: c.text, refusal: null },
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

export function anthropicMessage(c: Completion): unknown {
	const stop_reason = {
		end: 'end_turn',
		length: 'max_tokens',
		stop: 'stop_sequence',
		content_filter: 'refusal',
	}[c.finish];
	return {
		id: `msg_${c.id}`,
		type: 'message',
		role: 'assistant',
		model: c.model,
		content: c.empty || c.text === null ? [] : [{ type: 'text', text: c.text }],
		stop_reason,
		stop_sequence: c.stopSequence ?? null,
		usage: { input_tokens: c.inputTokens, output_tokens: c.outputTokens },
	};
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

/**
 * Streamed answers (`stream: true`): Server-Sent Events read as they arrive, in both wire formats.
 * Each piece of text or tool-call arguments goes to `onDelta` at once; at the end the whole answer
 * is an AiAnswer as parseResponse gives for a plain one, so the policies (budgets, the ledger) see
 * the same thing either way. A stream that stops before its end, or carries an error event, fails
 * with its class.
 */
import type { Provider } from '../provider';
import { AiCallError } from './failure';
import { toolCallsOf, tokenCount, type AiAnswer, type FinishReason } from './wire';

export type StreamDelta =
	| { type: 'text'; text: string }
	| { type: 'tool-call'; index: number; id?: string; name?: string; argumentsDelta?: string };

export interface StreamReader {
	/** The body's text as it arrives, in any pieces. */
	push(text: string): void;
	/** The whole answer, once the body ended. */
	finish(): AiAnswer;
}

interface SseEvent {
	event?: string;
	data: string;
}

/** Splits SSE text into events (`event:` and `data:` lines, a blank line ends one). */
function sseSplitter(onEvent: (e: SseEvent) => void) {
	let buffer = '';
	let event: string | undefined;
	let data: string[] = [];
	const line = (l: string) => {
		if (l === '') {
			if (data.length) onEvent({ event, data: data.join('\n') });
			event = undefined;
			data = [];
		} else if (l.startsWith('data:')) data.push(l.slice(5).replace(/^ /, ''));
		else if (l.startsWith('event:')) event = l.slice(6).trim();
		// comments (":") and other fields are ignored, as the SSE standard says
	};
	return {
		push(text: string) {
			buffer += text;
			let at: number;
			while ((at = buffer.search(/\r\n|\n|\r/)) !== -1) {
				const crlf = buffer.startsWith('\r\n', at);
				line(buffer.slice(0, at));
				buffer = buffer.slice(at + (crlf ? 2 : 1));
			}
		},
		end() {
			if (buffer) line(buffer);
			line('');
		},
	};
}

/** An event's JSON: hostile, so every field is checked where it is read (typeof, Array.isArray). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type EventJson = Record<string, any>;

const parse = (data: string): EventJson | undefined => {
	try {
		const v: unknown = JSON.parse(data);
		return v && typeof v === 'object' && !Array.isArray(v) ? (v as EventJson) : undefined;
	} catch {
		return undefined;
	}
};

const ANTHROPIC_STOP: Record<string, FinishReason> = {
	end_turn: 'stop',
	max_tokens: 'length',
	stop_sequence: 'stop_sequence',
	tool_use: 'tool_calls',
};

/** An error event inside a 200 stream, classified as the same error as an HTTP status would be. */
function streamError(error: unknown): AiCallError {
	const e = (error ?? {}) as { type?: unknown; message?: unknown; code?: unknown };
	const type = `${String(e.type ?? '')} ${String(e.code ?? '')}`;
	const cls = /overloaded/.test(type)
		? 'overloaded'
		: /rate_limit/.test(type)
			? 'rate_limited'
			: 'server_error';
	return new AiCallError(
		cls,
		`The AI service's stream carried an error: ${typeof e.message === 'string' ? e.message.slice(0, 300) : type.trim() || 'unknown'}`,
	);
}

export function createStreamReader(
	provider: Provider,
	model: string,
	onDelta: (delta: StreamDelta) => void,
): StreamReader {
	let text = '';
	let answeredModel = model;
	let finishReason: FinishReason | undefined;
	let inputTokens = 0;
	let outputTokens = 0;
	let ended = false;
	let failure: AiCallError | undefined;
	const calls = new Map<number, { id?: string; name?: string; arguments: string }>();
	const toolCall = (index: number, id?: unknown, name?: unknown, args?: unknown) => {
		const call = calls.get(index) ?? { arguments: '' };
		calls.set(index, call);
		if (typeof id === 'string' && id) call.id ??= id;
		if (typeof name === 'string' && name) call.name ??= name;
		const argumentsDelta = typeof args === 'string' ? args : '';
		call.arguments += argumentsDelta;
		onDelta({
			type: 'tool-call',
			index,
			...(typeof id === 'string' && id ? { id } : {}),
			...(typeof name === 'string' && name ? { name } : {}),
			...(argumentsDelta ? { argumentsDelta } : {}),
		});
	};
	const addText = (piece: unknown) => {
		if (typeof piece !== 'string' || !piece) return;
		text += piece;
		onDelta({ type: 'text', text: piece });
	};

	const openai = (e: SseEvent) => {
		if (e.data.trim() === '[DONE]') {
			ended = true;
			return;
		}
		const chunk = parse(e.data);
		if (!chunk) return;
		if (chunk.error) {
			failure ??= streamError(chunk.error);
			return;
		}
		if (typeof chunk.model === 'string' && chunk.model) answeredModel = chunk.model;
		if (chunk.usage && typeof chunk.usage === 'object') {
			inputTokens = tokenCount(chunk.usage.prompt_tokens);
			outputTokens = tokenCount(chunk.usage.completion_tokens);
		}
		const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined;
		if (!choice || typeof choice !== 'object') return;
		const delta = choice.delta ?? {};
		addText(delta.content);
		if (Array.isArray(delta.tool_calls))
			for (const c of delta.tool_calls) {
				if (!c || typeof c !== 'object') continue;
				const index = Number.isInteger(c.index) ? c.index : 0;
				toolCall(index, c.id, c.function?.name, c.function?.arguments);
			}
		if (typeof choice.finish_reason === 'string') finishReason = choice.finish_reason;
	};

	const anthropic = (e: SseEvent) => {
		const data = parse(e.data);
		if (!data) return;
		switch (e.event ?? data.type) {
			case 'message_start':
				if (typeof data.message?.model === 'string') answeredModel = data.message.model;
				inputTokens = tokenCount(data.message?.usage?.input_tokens);
				outputTokens = tokenCount(data.message?.usage?.output_tokens);
				break;
			case 'content_block_start': {
				const block = data.content_block ?? {};
				if (block.type === 'tool_use') toolCall(Number(data.index) || 0, block.id, block.name);
				else if (block.type === 'text') addText(block.text);
				break;
			}
			case 'content_block_delta': {
				const delta = data.delta ?? {};
				if (delta.type === 'text_delta') addText(delta.text);
				else if (delta.type === 'input_json_delta')
					toolCall(Number(data.index) || 0, undefined, undefined, delta.partial_json);
				break;
			}
			case 'message_delta':
				if (typeof data.delta?.stop_reason === 'string')
					finishReason = ANTHROPIC_STOP[data.delta.stop_reason] ?? data.delta.stop_reason;
				if (data.usage?.output_tokens !== undefined)
					outputTokens = tokenCount(data.usage.output_tokens);
				break;
			case 'message_stop':
				ended = true;
				break;
			case 'error':
				failure ??= streamError(data.error);
				break;
		}
	};

	const splitter = sseSplitter(provider === 'anthropic' ? anthropic : openai);
	return {
		push: (chunk) => splitter.push(chunk),
		finish() {
			splitter.end();
			if (failure) throw failure;
			// OpenAI ends with [DONE]; a compatible server may only close after the finish reason
			if (!ended && !(provider !== 'anthropic' && finishReason))
				throw new AiCallError('network', 'The stream ended before the answer was complete');
			if (provider === 'anthropic' && finishReason === 'refusal')
				throw new AiCallError(
					'content_filter',
					'The model refused to answer (stop_reason refusal)',
				);
			if (finishReason === 'content_filter')
				throw new AiCallError('content_filter', 'The answer was withheld by the content filter');
			// Anthropic's tool_use input arrives as JSON pieces starting from '{}' or ''
			const toolCalls = toolCallsOf(
				[...calls.entries()]
					.sort(([a], [b]) => a - b)
					.map(([, c]) => ({ id: c.id, name: c.name, arguments: c.arguments || '{}' })),
			);
			return {
				text,
				model: answeredModel,
				finishReason: finishReason ?? 'stop',
				inputTokens,
				outputTokens,
				...(toolCalls.length ? { toolCalls } : {}),
			};
		},
	};
}

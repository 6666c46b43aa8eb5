import fc from 'fast-check';

import { callAi, type Transport } from '../../lib/ai/call';
import { createStreamReader, type StreamDelta } from '../../lib/ai/stream';
import { buildRequest, type AiRequest } from '../../lib/ai/wire';
import { CallLimiter } from '../../lib/limit';
import { createRedactor, REDACTED } from '../../lib/redact';

// Streamed answers (stream: true): Server-Sent Events read as they arrive, in both wire formats,
// and what a stream changes in the call: retries only before the first piece went out.

const sse = (events: Array<[event: string | undefined, data: unknown]>) =>
	events
		.map(
			([event, data]) =>
				`${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`,
		)
		.join('');

const OPENAI_STREAM = sse([
	[
		undefined,
		{ model: 'gpt-x', choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] },
	],
	[undefined, { choices: [{ index: 0, delta: { content: 'Hello ' } }] }],
	[undefined, { choices: [{ index: 0, delta: { content: 'wörld' } }] }],
	[
		undefined,
		{
			choices: [
				{
					index: 0,
					delta: {
						tool_calls: [
							{
								index: 0,
								id: 'call_1',
								type: 'function',
								function: { name: 'find', arguments: '' },
							},
						],
					},
				},
			],
		},
	],
	[
		undefined,
		{
			choices: [
				{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"q":' } }] } },
			],
		},
	],
	[
		undefined,
		{
			choices: [
				{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '"x"}' } }] } },
			],
		},
	],
	[undefined, { choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] }],
	[undefined, { choices: [], usage: { prompt_tokens: 12, completion_tokens: 7 } }],
	[undefined, '[DONE]'],
]);

const ANTHROPIC_STREAM = sse([
	[
		'message_start',
		{
			type: 'message_start',
			message: { model: 'claude-x', usage: { input_tokens: 20, output_tokens: 1 } },
		},
	],
	[
		'content_block_start',
		{ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
	],
	[
		'content_block_delta',
		{ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Let me ' } },
	],
	[
		'content_block_delta',
		{ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'check.' } },
	],
	['content_block_stop', { type: 'content_block_stop', index: 0 }],
	[
		'content_block_start',
		{
			type: 'content_block_start',
			index: 1,
			content_block: { type: 'tool_use', id: 'toolu_1', name: 'find', input: {} },
		},
	],
	[
		'content_block_delta',
		{
			type: 'content_block_delta',
			index: 1,
			delta: { type: 'input_json_delta', partial_json: '{"q": ' },
		},
	],
	[
		'content_block_delta',
		{
			type: 'content_block_delta',
			index: 1,
			delta: { type: 'input_json_delta', partial_json: '"x"}' },
		},
	],
	['content_block_stop', { type: 'content_block_stop', index: 1 }],
	[
		'message_delta',
		{ type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 15 } },
	],
	['message_stop', { type: 'message_stop' }],
]);

function read(provider: 'openai' | 'anthropic', text: string, pieces: number[] = []) {
	const deltas: StreamDelta[] = [];
	const reader = createStreamReader(provider, 'm', (d) => deltas.push(d));
	let at = 0;
	for (const size of pieces) {
		reader.push(text.slice(at, at + size));
		at += size;
	}
	reader.push(text.slice(at));
	return { deltas, answer: () => reader.finish() };
}

describe('reading a stream', () => {
	it('OpenAI: text pieces and tool-call pieces as they come; the whole answer with usage at the end', () => {
		const { deltas, answer } = read('openai', OPENAI_STREAM);
		expect(
			deltas.filter((d) => d.type === 'text').map((d) => (d as { text: string }).text),
		).toEqual(['Hello ', 'wörld']);
		expect(answer()).toEqual({
			text: 'Hello wörld',
			model: 'gpt-x',
			finishReason: 'tool_calls',
			inputTokens: 12,
			outputTokens: 7,
			toolCalls: [{ id: 'call_1', name: 'find', arguments: '{"q":"x"}' }],
		});
	});

	it('Anthropic: text and tool_use blocks, usage from message_start and message_delta', () => {
		const { answer } = read('anthropic', ANTHROPIC_STREAM);
		expect(answer()).toEqual({
			text: 'Let me check.',
			model: 'claude-x',
			finishReason: 'tool_calls',
			inputTokens: 20,
			outputTokens: 15,
			toolCalls: [{ id: 'toolu_1', name: 'find', arguments: '{"q": "x"}' }],
		});
	});

	it('gives the same answer however the body is cut into pieces (CRLF lines too)', () => {
		const whole = read('anthropic', ANTHROPIC_STREAM).answer();
		const crlf = read('openai', OPENAI_STREAM.replace(/\n/g, '\r\n')).answer();
		expect(crlf.text).toBe('Hello wörld');
		fc.assert(
			fc.property(fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 60 }), (pieces) => {
				expect(read('anthropic', ANTHROPIC_STREAM, pieces).answer()).toEqual(whole);
			}),
			{ numRuns: 200 },
		);
	});

	it('a stream cut before its end fails as network (nothing is made up from half an answer)', () => {
		const cut = ANTHROPIC_STREAM.slice(0, ANTHROPIC_STREAM.indexOf('message_delta'));
		expect(() => read('anthropic', cut).answer()).toThrow(
			expect.objectContaining({ failureClass: 'network' }),
		);
		const openCut = OPENAI_STREAM.slice(0, OPENAI_STREAM.indexOf('"finish_reason"'));
		expect(() => read('openai', openCut).answer()).toThrow(
			expect.objectContaining({ failureClass: 'network' }),
		);
	});

	it('an error event inside a 200 stream fails with its class', () => {
		const overloaded = sse([
			['message_start', { type: 'message_start', message: { usage: { input_tokens: 3 } } }],
			['error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }],
		]);
		expect(() => read('anthropic', overloaded).answer()).toThrow(
			expect.objectContaining({ failureClass: 'overloaded' }),
		);
		expect(() =>
			read(
				'openai',
				sse([[undefined, { error: { message: 'boom', type: 'server_error' } }]]),
			).answer(),
		).toThrow(expect.objectContaining({ failureClass: 'server_error' }));
	});

	it('hostile events (not JSON, wrong types) are skipped, not thrown', () => {
		const hostile = sse([
			[undefined, 'not json'],
			[undefined, [1, 2]],
			[undefined, { choices: 'x' }],
			[
				undefined,
				{ choices: [{ delta: { content: 42, tool_calls: ['x', null, { index: 'a' }] } }] },
			],
			[
				undefined,
				{
					choices: [{ delta: { content: 'ok' }, finish_reason: 'stop' }],
					usage: { prompt_tokens: -5 },
				},
			],
			[undefined, '[DONE]'],
		]);
		expect(read('openai', hostile).answer()).toMatchObject({
			text: 'ok',
			finishReason: 'stop',
			inputTokens: 0,
		});
	});
});

describe('a streamed call', () => {
	const request: AiRequest = {
		model: 'm',
		messages: [{ role: 'user', content: 'hi' }],
		responseFormat: 'text',
		stream: true,
	};
	const policy = (onDelta: (d: StreamDelta) => void) => ({
		attemptTimeoutMs: 1000,
		totalTimeoutMs: 5000,
		maxRetries: 2,
		backoff: { baseMs: 1, maxMs: 10 },
		limiter: new CallLimiter(5, 0),
		onDelta,
	});
	const events = { 'content-type': 'text/event-stream' };

	it('asks for events (and for the usage, OpenAI) and, with tools, for one tool call at a time', () => {
		const tools = [{ name: 't', parameters: { type: 'object' } }];
		const openai = buildRequest('openai', { ...request, tools }).body;
		expect(openai).toMatchObject({
			stream: true,
			stream_options: { include_usage: true },
			parallel_tool_calls: false,
		});
		const anthropic = buildRequest('anthropic', { ...request, tools }).body;
		expect(anthropic).toMatchObject({
			stream: true,
			tool_choice: { type: 'auto', disable_parallel_tool_use: true },
		});
	});

	it('retries a 429 before anything was sent on, then streams', async () => {
		let calls = 0;
		const transport: Transport = async ({ onChunk }) => {
			if (++calls === 1) return { status: 429, headers: { 'retry-after': '0' }, text: '{}' };
			onChunk!(OPENAI_STREAM);
			return { status: 200, headers: events, text: OPENAI_STREAM };
		};
		const deltas: StreamDelta[] = [];
		const outcome = await callAi(
			request,
			[{ model: 'm', provider: 'openai', baseUrl: 'http://x', credential: 'primary' }],
			policy((d) => deltas.push(d)),
			transport,
		);
		expect(outcome.ok).toBe(true);
		expect(outcome.attempts).toBe(2);
		expect(deltas.length).toBeGreaterThan(0);
	});

	it('a stream cut after its first pieces is final: no retry, no fallback (the consumer showed them)', async () => {
		const cut = OPENAI_STREAM.slice(0, OPENAI_STREAM.indexOf('tool_calls'));
		let calls = 0;
		const transport: Transport = async ({ onChunk }) => {
			calls++;
			onChunk!(cut);
			return { status: 200, headers: events, text: cut };
		};
		const outcome = await callAi(
			request,
			[
				{ model: 'm', provider: 'openai', baseUrl: 'http://x', credential: 'primary' },
				{
					model: 'f',
					provider: 'openai',
					baseUrl: 'http://x',
					credential: 'primary',
					on: new Set(['network' as const]),
				},
			],
			policy(() => undefined),
			transport,
		);
		expect(outcome).toMatchObject({ ok: false, attempts: 1, fallbackUsed: false });
		expect(calls).toBe(1);
		expect(!outcome.ok && outcome.error.failureClass).toBe('network');
	});
});

describe('redacting a stream', () => {
	it('removes a secret split across pieces, and gives every other character out', () => {
		const secret = 'sk-live-0123456789abcdef';
		const text = `Your headers: Authorization: Bearer ${secret}; thanks.`;
		fc.assert(
			fc.property(fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 30 }), (sizes) => {
				const r = createRedactor([secret]).stream();
				let out = '';
				let at = 0;
				for (const size of sizes) {
					out += r.push(text.slice(at, at + size));
					at += size;
				}
				out += r.push(text.slice(at)) + r.end();
				expect(out).toBe(text.replace(secret, REDACTED));
			}),
			{ numRuns: 300 },
		);
	});
});

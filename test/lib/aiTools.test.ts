import type { GenerateResult, Message } from '@n8n/ai-node-sdk';
import { z } from 'zod';

import { toChatMessages, toGenerateResult } from '../../lib/ai/chatMessages';
import { estimateTokens } from '../../lib/ai/sharedLimit';
import { buildRequest, parseResponse, type AiRequest, type ChatMessage } from '../../lib/ai/wire';
import { ProtectedChatModel, type ChatCall } from '../../nodes/AiCallChatModel/model';

// Tool calling for the chat model sub-node: the agent's conversation in both wire formats, tool
// calls out of both answers, and the SDK model the agent gets.

const weather = {
	name: 'get_weather',
	description: 'The weather in a city',
	parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

/** An agent's second turn: its question, the model's tool call, the tool's result. */
const conversation: ChatMessage[] = [
	{ role: 'system', content: 'You are helpful.' },
	{ role: 'user', content: 'Weather in Paris and Rome?' },
	{
		role: 'assistant',
		content: '',
		toolCalls: [
			{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
			{ id: 'call_2', name: 'get_weather', arguments: '{"city":"Rome"}' },
		],
	},
	{ role: 'tool', toolCallId: 'call_1', content: 'Sunny, 21 °C' },
	{ role: 'tool', toolCallId: 'call_2', content: 'Rain, 14 °C' },
];
const request = (messages: ChatMessage[], extra: Partial<AiRequest> = {}): AiRequest => ({
	model: 'm',
	messages,
	responseFormat: 'text',
	tools: [weather],
	...extra,
});

describe('tool calls on the wire', () => {
	it('OpenAI: tools as functions, the assistant tool calls with content null, tool messages by id', () => {
		const { body } = buildRequest('openai', request(conversation, { toolChoice: 'required' }));
		expect(body.tools).toEqual([{ type: 'function', function: weather }]);
		expect(body.tool_choice).toBe('required');
		const messages = body.messages as Array<Record<string, unknown>>;
		expect(messages[2]).toEqual({
			role: 'assistant',
			content: null,
			tool_calls: [
				{
					id: 'call_1',
					type: 'function',
					function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
				},
				{
					id: 'call_2',
					type: 'function',
					function: { name: 'get_weather', arguments: '{"city":"Rome"}' },
				},
			],
		});
		expect(messages[3]).toEqual({ role: 'tool', tool_call_id: 'call_1', content: 'Sunny, 21 °C' });
	});

	it('Anthropic: tool_use blocks, both results in one user turn right after, the system apart', () => {
		const { body } = buildRequest(
			'anthropic',
			request(conversation, { toolChoice: { name: 'get_weather' } }),
		);
		expect(body.system).toBe('You are helpful.');
		expect(body.tools).toEqual([
			{ name: 'get_weather', description: weather.description, input_schema: weather.parameters },
		]);
		expect(body.tool_choice).toEqual({ type: 'tool', name: 'get_weather' });
		expect(body.messages).toEqual([
			{ role: 'user', content: 'Weather in Paris and Rome?' },
			{
				role: 'assistant',
				content: [
					{ type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
					{ type: 'tool_use', id: 'call_2', name: 'get_weather', input: { city: 'Rome' } },
				],
			},
			{
				role: 'user',
				content: [
					{ type: 'tool_result', tool_use_id: 'call_1', content: 'Sunny, 21 °C' },
					{ type: 'tool_result', tool_use_id: 'call_2', content: 'Rain, 14 °C' },
				],
			},
		]);
	});

	it("Anthropic: a model's broken arguments are sent as {} (the API wants an object), not a thrown error", () => {
		const { body } = buildRequest(
			'anthropic',
			request([
				{ role: 'user', content: 'hi' },
				{
					role: 'assistant',
					content: 'Let me look.',
					toolCalls: [{ id: 'x', name: 'get_weather', arguments: '{"city":' }],
				},
				{ role: 'tool', toolCallId: 'x', content: 'failed' },
			]),
		);
		expect((body.messages as Array<{ content: unknown }>)[1].content).toEqual([
			{ type: 'text', text: 'Let me look.' },
			{ type: 'tool_use', id: 'x', name: 'get_weather', input: {} },
		]);
	});

	it('no tools: the request is as before (no tools, no tool_choice)', () => {
		const { body } = buildRequest(
			'openai',
			request([{ role: 'user', content: 'hi' }], { tools: [] }),
		);
		expect(body).not.toHaveProperty('tools');
		expect(body).not.toHaveProperty('tool_choice');
	});

	it('OpenAI answer: tool calls with their ids and argument text, content null is an empty text', () => {
		const answer = parseResponse(
			'openai',
			'm',
			200,
			JSON.stringify({
				choices: [
					{
						message: {
							content: null,
							tool_calls: [
								{
									id: 'call_a',
									type: 'function',
									function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
								},
							],
						},
						finish_reason: 'tool_calls',
					},
				],
				usage: { prompt_tokens: 10, completion_tokens: 5 },
			}),
		);
		expect(answer).toMatchObject({
			text: '',
			finishReason: 'tool_calls',
			toolCalls: [{ id: 'call_a', name: 'get_weather', arguments: '{"city":"Oslo"}' }],
		});
	});

	it('Anthropic answer: tool_use blocks are tool calls (an answer without text is not an error)', () => {
		const answer = parseResponse(
			'anthropic',
			'm',
			200,
			JSON.stringify({
				content: [
					{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Oslo' } },
				],
				stop_reason: 'tool_use',
				usage: { input_tokens: 10, output_tokens: 5 },
			}),
		);
		expect(answer).toMatchObject({
			text: '',
			finishReason: 'tool_calls',
			toolCalls: [{ id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Oslo"}' }],
		});
	});

	it('hostile tool calls: no name is dropped, a missing or repeated id gets a unique one (the agent matches results by id)', () => {
		const answer = parseResponse(
			'openai',
			'm',
			200,
			JSON.stringify({
				choices: [
					{
						message: {
							content: 'x',
							tool_calls: [
								{ id: 'same', function: { name: 'a', arguments: '{}' } },
								{ id: 'same', function: { name: 'b', arguments: { not: 'text' } } },
								{ function: { name: 'c' } },
								{ id: 'n', function: {} },
								'garbage',
								null,
							],
						},
					},
				],
			}),
		);
		const calls = answer.toolCalls!;
		expect(calls.map((c) => c.name)).toEqual(['a', 'b', 'c']);
		expect(new Set(calls.map((c) => c.id)).size).toBe(3);
		expect(calls[0].id).toBe('same');
		expect(calls[1].arguments).toBe('{"not":"text"}');
		expect(calls[2].arguments).toBe('{}');
	});

	it("the shared limit's estimate counts tool call arguments and the tools' schemas", () => {
		const bare = estimateTokens([{ content: 'abcd' }], 0);
		expect(estimateTokens(conversation, 0)).toBeGreaterThan(bare);
		expect(estimateTokens([{ content: 'abcd' }], 0, [weather])).toBeGreaterThan(bare);
	});
});

describe("the agent's messages", () => {
	const sdkConversation: Message[] = [
		{ role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
		{
			role: 'user',
			content: [
				{ type: 'text', text: 'Hi ' },
				{ type: 'text', text: 'there' },
			],
		},
		{
			role: 'assistant',
			content: [
				{ type: 'text', text: 'Checking.' },
				{ type: 'tool-call', toolCallId: 't1', toolName: 'lookup', input: '{"q":1}' },
			],
		},
		{
			role: 'tool',
			content: [{ type: 'tool-result', toolCallId: 't1', result: { rows: 2 } }],
		},
		{
			role: 'tool',
			content: [{ type: 'tool-result', toolCallId: 't2', result: 'boom', isError: true }],
		},
	];

	it('text joined, tool calls kept, tool results as text (objects as JSON, errors marked)', () => {
		expect(toChatMessages(sdkConversation)).toEqual([
			{ role: 'system', content: 'Be brief.' },
			{ role: 'user', content: 'Hi there' },
			{
				role: 'assistant',
				content: 'Checking.',
				toolCalls: [{ id: 't1', name: 'lookup', arguments: '{"q":1}' }],
			},
			{ role: 'tool', toolCallId: 't1', content: '{"rows":2}' },
			{ role: 'tool', toolCallId: 't2', content: 'Error: boom' },
		]);
	});

	it('our answer as the SDK result: text and tool-call blocks, finish tool-calls, usage totals', () => {
		const result = toGenerateResult(
			{
				text: 'ok',
				finishReason: 'tool_calls',
				toolCalls: [{ id: 'c', name: 'n', arguments: '{}' }],
			},
			{ inputTokens: 7, outputTokens: 3 },
		);
		expect(result).toMatchObject({
			finishReason: 'tool-calls',
			usage: { promptTokens: 7, completionTokens: 3, totalTokens: 10 },
			message: {
				role: 'assistant',
				content: [
					{ type: 'text', text: 'ok' },
					{ type: 'tool-call', toolCallId: 'c', toolName: 'n', input: '{}' },
				],
			},
		});
		expect(
			toGenerateResult({ text: 'x', finishReason: 'length' }, { inputTokens: 0, outputTokens: 0 })
				.finishReason,
		).toBe('length');
	});
});

describe('ProtectedChatModel (what the agent gets)', () => {
	const answer: GenerateResult = toGenerateResult(
		{
			text: 'Looking it up',
			finishReason: 'tool_calls',
			toolCalls: [{ id: 'c1', name: 'lookup', arguments: '{"q":"x"}' }],
		},
		{ inputTokens: 4, outputTokens: 2 },
	);

	it('generate: the conversation and the bound tools (zod schemas as JSON Schema) go to the protected call', async () => {
		const seen: Array<Parameters<ChatCall>> = [];
		const model = new ProtectedChatModel('openai', 'm', async (...args) => {
			seen.push(args);
			return answer;
		});
		const withTools = model.withTools([
			{
				type: 'function',
				name: 'lookup',
				description: 'Find',
				inputSchema: z.object({ q: z.string() }),
			},
		]);
		const abort = new AbortController();
		const result = await withTools.generate(
			[{ role: 'user', content: [{ type: 'text', text: 'find x' }] }],
			{ signal: abort.signal } as never,
		);
		expect(result).toBe(answer);
		const [messages, tools, signal] = seen[0];
		expect(messages).toEqual([{ role: 'user', content: 'find x' }]);
		expect(tools).toEqual([
			expect.objectContaining({
				name: 'lookup',
				description: 'Find',
				parameters: expect.objectContaining({
					type: 'object',
					properties: { q: { type: 'string' } },
				}),
			}),
		]);
		expect(signal).toBe(abort.signal);
		// the model it was bound from keeps no tools
		await model.generate([{ role: 'user', content: [{ type: 'text', text: 'again' }] }]);
		expect(seen[1][1]).toEqual([]);
	});

	it('stream: the text pieces as the call sends them, then each tool call whole, then the finish with usage', async () => {
		const model = new ProtectedChatModel('openai', 'm', async (_m, _t, _s, onText) => {
			onText!('Looking ');
			await new Promise((r) => setTimeout(r, 5));
			onText!('it up');
			return answer;
		});
		const chunks = [];
		for await (const c of model.stream([{ role: 'user', content: [{ type: 'text', text: 'q' }] }]))
			chunks.push(c);
		expect(chunks).toEqual([
			{ type: 'text-delta', delta: 'Looking ' },
			{ type: 'text-delta', delta: 'it up' },
			{ type: 'tool-call-delta', id: 'c1', name: 'lookup', argumentsDelta: '{"q":"x"}' },
			{ type: 'finish', finishReason: 'tool-calls', usage: answer.usage },
		]);
	});

	it('stream: a service that answered in one piece (no events) still gives its text', async () => {
		const model = new ProtectedChatModel('openai', 'm', async () => answer);
		const chunks = [];
		for await (const c of model.stream([{ role: 'user', content: [{ type: 'text', text: 'q' }] }]))
			chunks.push(c);
		expect(chunks[0]).toEqual({ type: 'text-delta', delta: 'Looking it up' });
	});

	it("a failed call fails generate and stream with the call's error", async () => {
		const model = new ProtectedChatModel('openai', 'm', async () => {
			throw new Error('rate_limited: HTTP 429');
		});
		await expect(model.generate([])).rejects.toThrow('rate_limited');
		const it = model.stream([])[Symbol.asyncIterator]();
		await expect(it.next()).rejects.toThrow('rate_limited');
	});
});

/**
 * What a chat model under n8n's AI Agent needs from the simulator: tool calls and their results in
 * both wire formats, and streamed answers (with a stream that dies half way), over real HTTP.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';

import { startSimulator, type Simulator } from '../../simulator';
import { countInputTokens, countTokens } from '../../simulator/answers';

let sim: Simulator;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are asserted field by field
type Json = Record<string, any>;

beforeAll(async () => {
	sim = await startSimulator({ seed: 1 });
});
afterAll(() => sim.close());
beforeEach(() => {
	sim.reset();
	sim.setFault(undefined);
});

const openai = (options: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}) =>
	new OpenAI({ apiKey: 'sim-key', baseURL: sim.baseUrl, maxRetries: 0, timeout: 5000, ...options });
const anthropic = (options: Partial<ConstructorParameters<typeof Anthropic>[0]> = {}) =>
	new Anthropic({ apiKey: 'sim-key', baseURL: sim.url, maxRetries: 0, timeout: 5000, ...options });

function post(path: string, body: unknown, headers: Record<string, string> = {}) {
	const auth: Record<string, string> =
		path === '/v1/messages'
			? { 'x-api-key': 'sim-key', 'anthropic-version': '2023-06-01' }
			: { authorization: 'Bearer sim-key' };
	return fetch(`${sim.url}${path}`, {
		method: 'POST',
		headers: { 'content-type': 'application/json', ...auth, ...headers },
		body: JSON.stringify(body),
	});
}
const json = (res: Response | Promise<Response>) =>
	Promise.resolve(res).then((r) => r.json() as Promise<Json>);

/** The error message of a 400, after checking it is one. */
async function badRequest(res: Promise<Response>): Promise<string> {
	const r = await res;
	const body = await json(r);
	expect(r.status).toBe(400);
	expect(body.error.type).toBe('invalid_request_error');
	return body.error.message as string;
}

/** A stream's events as [event name, parsed data]; OpenAI's have no name, and `[DONE]` stays text. */
function parseSse(text: string): Array<[string | undefined, Json | string]> {
	return text
		.split('\n\n')
		.filter(Boolean)
		.map((block) => {
			const event = /^event: (.*)$/m.exec(block)?.[1];
			const data = /^data: (.*)$/m.exec(block)![1];
			return [event, data === '[DONE]' ? data : (JSON.parse(data) as Json)];
		});
}

/** Reads a body until it ends or breaks: what arrived, and whether it broke. */
async function readAll(res: Response): Promise<{ text: string; broke: boolean }> {
	const reader = res.body!.getReader();
	const decoder = new TextDecoder();
	let text = '';
	try {
		for (;;) {
			const { done, value } = await reader.read();
			if (done) return { text, broke: false };
			text += decoder.decode(value, { stream: true });
		}
	} catch {
		return { text, broke: true };
	}
}

const WEATHER = {
	type: 'object',
	properties: {
		unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
		days: { type: 'integer', minimum: 1 },
		detailed: { type: 'boolean' },
		city: { type: 'string' },
	},
	required: ['city'],
};
const openAiTools: OpenAI.ChatCompletionTool[] = [
	{ type: 'function', function: { name: 'search_docs', description: 'Searches the docs' } },
	{
		type: 'function',
		function: { name: 'get_weather', description: 'The weather in a city', parameters: WEATHER },
	},
];
const anthropicTools: Anthropic.Tool[] = [
	{ name: 'search_docs', input_schema: { type: 'object' } },
	{ name: 'get_weather', description: 'The weather in a city', input_schema: WEATHER as never },
];

describe('tool calls, OpenAI chat completions', () => {
	it('calls the tool the prompt names, with arguments from its schema, and counts the call', async () => {
		const res = await openai().chat.completions.create({
			model: 'sim-standard',
			tools: openAiTools,
			messages: [{ role: 'user', content: 'What is the weather in Paris? Ask GET_WEATHER.' }],
		});
		const message = res.choices[0].message;
		expect(res.choices[0].finish_reason).toBe('tool_calls');
		expect(message.content).toBeNull();
		expect(message.tool_calls).toHaveLength(1);
		const call = message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
		expect(call).toMatchObject({ type: 'function', function: { name: 'get_weather' } });
		expect(call.id).toMatch(/^call_\w{8,}$/);
		// required first; strings get the prompt (enums keep to their values), numbers 1, booleans true
		expect(call.function.arguments).toBe(
			JSON.stringify({
				city: 'What is the weather in Paris? Ask GET_WEATHER.',
				unit: 'celsius',
				days: 1,
				detailed: true,
			}),
		);
		expect(res.usage!.completion_tokens).toBe(countTokens(call.function.arguments));
		expect(sim.counters().toolCalls).toBe(1);
		sim.reset();
		expect(sim.counters().toolCalls).toBe(0);
	});

	it('calls the first tool when none is named (a schema without properties gets {input}), and ids differ', async () => {
		const ask = () =>
			openai().chat.completions.create({
				model: 'sim-standard',
				tools: openAiTools,
				messages: [{ role: 'user', content: 'How do I reset my password? [[sim:key=first]]' }],
			});
		const [a, b] = await Promise.all([ask(), ask()]);
		const call = a.choices[0].message
			.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
		expect(call.function.name).toBe('search_docs');
		// the directive is not part of the arguments
		expect(JSON.parse(call.function.arguments)).toEqual({ input: 'How do I reset my password?' });
		expect(call.id).not.toBe(b.choices[0].message.tool_calls![0].id);
		expect(sim.counters()).toMatchObject({ toolCalls: 2, byKey: { first: 2 } });
	});

	it('follows tool_choice: a named tool, required, and none (a text answer)', async () => {
		const ask = (tool_choice: OpenAI.ChatCompletionToolChoiceOption) =>
			openai().chat.completions.create({
				model: 'sim-standard',
				tools: openAiTools,
				tool_choice,
				messages: [{ role: 'user', content: 'search_docs for the weather' }],
			});
		const forced = await ask({ type: 'function', function: { name: 'get_weather' } });
		expect(forced.choices[0].message.tool_calls![0]).toMatchObject({
			function: { name: 'get_weather' },
		});
		const required = await ask('required');
		expect(required.choices[0].message.tool_calls![0]).toMatchObject({
			function: { name: 'search_docs' },
		});
		const none = await ask('none');
		expect(none.choices[0]).toMatchObject({
			finish_reason: 'stop',
			message: { content: expect.stringMatching(/^Category: /) },
		});
		expect(none.choices[0].message.tool_calls).toBeUndefined();
	});

	it('answers the tool results word for word, naming each tool, and bills them as input', async () => {
		const user = 'Weather in Paris and the docs on rain?';
		const conversation = (weather: string): OpenAI.ChatCompletionMessageParam[] => [
			{ role: 'system', content: 'You are an agent.' },
			{ role: 'user', content: user },
			{
				role: 'assistant',
				content: null,
				tool_calls: [
					{
						id: 'call_w',
						type: 'function',
						function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
					},
					{ id: 'call_d', type: 'function', function: { name: 'search_docs', arguments: '{}' } },
				],
			},
			{ role: 'tool', tool_call_id: 'call_w', content: weather },
			{ role: 'tool', tool_call_id: 'call_d', content: 'Rain: take an umbrella.' },
		];
		const weather = 'Sunny, 21 °C, light wind from the west';
		const res = await openai().chat.completions.create({
			model: 'sim-standard',
			tools: openAiTools,
			messages: conversation(weather),
		});
		expect(res.choices[0].finish_reason).toBe('stop');
		expect(res.choices[0].message.content).toBe(
			`According to get_weather: ${weather}\nAccording to search_docs: Rain: take an umbrella.`,
		);
		expect(res.choices[0].message.tool_calls).toBeUndefined();
		expect(sim.counters().toolCalls).toBe(0);
		// messages (tool calls as "name arguments"), plus the tool definitions as their JSON
		expect(res.usage!.prompt_tokens).toBe(
			countInputTokens([
				'You are an agent.',
				user,
				'get_weather {"city":"Paris"}\nsearch_docs {}',
				weather,
				'Rain: take an umbrella.',
			]) + countTokens(JSON.stringify(openAiTools)),
		);
		const shorter = await openai().chat.completions.create({
			model: 'sim-standard',
			tools: openAiTools,
			messages: conversation('Sunny'),
		});
		expect(res.usage!.prompt_tokens - shorter.usage!.prompt_tokens).toBe(
			countTokens(weather) - countTokens('Sunny'),
		);
	});

	it('takes the assistant message it answered back, and answers a new question with a new call', async () => {
		const client = openai();
		const messages: OpenAI.ChatCompletionMessageParam[] = [
			{ role: 'user', content: 'get_weather for Oslo' },
		];
		const first = await client.chat.completions.create({
			model: 'sim-standard',
			tools: openAiTools,
			messages,
		});
		const call = first.choices[0].message.tool_calls![0];
		messages.push(first.choices[0].message, {
			role: 'tool',
			tool_call_id: call.id,
			content: 'Snow',
		});
		const second = await client.chat.completions.create({
			model: 'sim-standard',
			tools: openAiTools,
			messages,
		});
		expect(second.choices[0].message.content).toBe('According to get_weather: Snow');
		messages.push(second.choices[0].message, { role: 'user', content: 'And the docs?' });
		const third = await client.chat.completions.create({
			model: 'sim-standard',
			tools: openAiTools,
			messages,
		});
		expect(third.choices[0].message.tool_calls![0]).toMatchObject({
			function: { name: 'search_docs', arguments: '{"input":"And the docs?"}' },
		});
	});

	it('refuses malformed tools, an unknown tool_choice and broken tool conversations with 400', async () => {
		const ask = (extra: Json, messages: unknown[] = [{ role: 'user', content: 'hi' }]) =>
			badRequest(post('/v1/chat/completions', { model: 'sim-standard', messages, ...extra }));
		expect(await ask({ tools: [{ type: 'function', function: { description: 'x' } }] })).toMatch(
			/^tools\.0\.function\.name: /,
		);
		expect(
			await ask({ tools: [{ type: 'function', function: { name: 'get weather!' } }] }),
		).toMatch(/^tools\.0\.function\.name: a tool name is 1 to 64 letters/);
		expect(await ask({ tools: [{ function: { name: 'a' } }] })).toMatch(/^tools\.0\.type: /);
		expect(
			await ask({ tools: [{ type: 'function', function: { name: 'a', parameters: 'x' } }] }),
		).toMatch(/^tools\.0\.function\.parameters: /);
		expect(await ask({ tools: [openAiTools[0], openAiTools[0]] })).toMatch(
			/^tools\.1\.name: tool names must be unique/,
		);
		expect(
			await ask({
				tools: openAiTools,
				tool_choice: { type: 'function', function: { name: 'nope' } },
			}),
		).toBe('tool_choice.function.name: no tool named "nope" in tools');
		expect(await ask({ tools: openAiTools, tool_choice: 'always' })).toMatch(
			/^tool_choice: tool_choice must be 'auto', 'none', 'required'/,
		);
		expect(await ask({ tool_choice: 'auto' })).toMatch(/only allowed when 'tools' are specified/);

		const call = {
			role: 'assistant',
			content: null,
			tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'a', arguments: '{}' } }],
		};
		const user = { role: 'user', content: 'hi' };
		expect(
			await ask({}, [user, call, { role: 'tool', tool_call_id: 'call_2', content: 'x' }]),
		).toBe(
			'messages.2.tool_call_id: "call_2" is not the id of a tool call in the preceding assistant message',
		);
		expect(await ask({}, [user, { role: 'tool', tool_call_id: 'call_1', content: 'x' }])).toMatch(
			/^messages\.1\.role: messages with role 'tool' must be a response to a preceding message with 'tool_calls'/,
		);
		expect(await ask({}, [user, call])).toMatch(
			/^messages\.1: An assistant message with 'tool_calls' must be followed by tool messages .* did not have response messages: call_1$/,
		);
		expect(await ask({}, [user, call, user])).toMatch(/did not have response messages: call_1$/);
		expect(await ask({}, [user, call, { role: 'tool', content: 'x' }])).toMatch(
			/^messages\.2\.tool_call_id: messages with role 'tool' must have a 'tool_call_id'/,
		);
		expect(
			await ask({}, [
				user,
				{ ...call, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'a' } }] },
			]),
		).toMatch(/^messages\.1\.tool_calls\.0\.function\.arguments: /);
	});

	it('keeps the faults: 429 with Retry-After, a 500 storm then a tool call, a reset', async () => {
		const body = (content: string) => ({
			model: 'sim-standard',
			tools: openAiTools,
			messages: [{ role: 'user', content }],
		});
		const limited = await post(
			'/v1/chat/completions',
			body('weather [[sim:status=429;retry-after=3]]'),
		);
		expect(limited.status).toBe(429);
		expect(limited.headers.get('retry-after')).toBe('3');
		expect((await json(limited)).error.code).toBe('rate_limit_exceeded');

		const storm = [];
		for (let i = 0; i < 4; i++)
			storm.push(
				await post(
					'/v1/chat/completions',
					body('get_weather [[sim:fail-first=3;status=500;key=storm]]'),
				),
			);
		expect(storm.map((r) => r.status)).toEqual([500, 500, 500, 200]);
		expect((await json(storm[3])).choices[0].finish_reason).toBe('tool_calls');
		expect(sim.counters()).toMatchObject({ toolCalls: 1, byFault: { status_500: 3 } });

		await expect(
			post('/v1/chat/completions', body('x'), { 'x-sim-fault': 'reset' }),
		).rejects.toThrow();
	});
});

describe('tool calls, Anthropic messages', () => {
	it('answers one tool_use block with arguments from the input schema', async () => {
		const res = await anthropic().messages.create({
			model: 'sim-standard',
			max_tokens: 200,
			tools: anthropicTools,
			messages: [{ role: 'user', content: 'Fahrenheit please: get weather for Austin' }],
		});
		expect(res.stop_reason).toBe('tool_use');
		expect(res.content).toHaveLength(1);
		const block = res.content[0] as Anthropic.ToolUseBlock;
		expect(block).toMatchObject({ type: 'tool_use', name: 'get_weather' });
		expect(block.id).toMatch(/^toolu_\w{8,}$/);
		const prompt = 'Fahrenheit please: get weather for Austin';
		expect(block.input).toEqual({ city: prompt, unit: 'fahrenheit', days: 1, detailed: true });
		expect(res.usage.output_tokens).toBe(countTokens(JSON.stringify(block.input)));
		expect(res.usage.input_tokens).toBe(
			countInputTokens([prompt]) + countTokens(JSON.stringify(anthropicTools)),
		);
		expect(sim.counters().toolCalls).toBe(1);
	});

	it('follows tool_choice: tool, any, none', async () => {
		const ask = (tool_choice: Anthropic.ToolChoice) =>
			anthropic().messages.create({
				model: 'sim-standard',
				max_tokens: 200,
				tools: anthropicTools,
				tool_choice,
				messages: [{ role: 'user', content: 'hello' }],
			});
		expect((await ask({ type: 'tool', name: 'get_weather' })).content[0]).toMatchObject({
			type: 'tool_use',
			name: 'get_weather',
		});
		expect((await ask({ type: 'any' })).content[0]).toMatchObject({ name: 'search_docs' });
		const none = await ask({ type: 'none' });
		expect(none.stop_reason).toBe('end_turn');
		expect(none.content).toEqual([{ type: 'text', text: expect.stringMatching(/^Category: /) }]);
	});

	it('answers tool_result blocks (text or blocks, errors too) word for word with the tool names', async () => {
		const res = await anthropic().messages.create({
			model: 'sim-standard',
			max_tokens: 200,
			tools: anthropicTools,
			messages: [
				{ role: 'user', content: 'Weather and docs?' },
				{
					role: 'assistant',
					content: [
						{ type: 'text', text: 'Let me look.' },
						{ type: 'tool_use', id: 'toolu_w', name: 'get_weather', input: { city: 'Rome' } },
						{ type: 'tool_use', id: 'toolu_d', name: 'search_docs', input: {} },
					],
				},
				{
					role: 'user',
					content: [
						{
							type: 'tool_result',
							tool_use_id: 'toolu_w',
							content: [
								{ type: 'text', text: 'Cloudy' },
								{ type: 'text', text: '18 °C' },
							],
						},
						{
							type: 'tool_result',
							tool_use_id: 'toolu_d',
							content: 'index offline',
							is_error: true,
						},
					],
				},
			],
		});
		expect(res.stop_reason).toBe('end_turn');
		expect(res.content).toEqual([
			{
				type: 'text',
				text: 'According to get_weather: Cloudy\n18 °C\nsearch_docs failed: index offline',
			},
		]);
		expect(res.usage.input_tokens).toBe(
			countInputTokens([
				'Weather and docs?',
				'Let me look.\nget_weather {"city":"Rome"}\nsearch_docs {}',
				'Cloudy\n18 °C\nindex offline',
			]) + countTokens(JSON.stringify(anthropicTools)),
		);
	});

	it('refuses malformed tools, an unknown tool_choice and unmatched tool ids with 400', async () => {
		const ask = (extra: Json, messages: unknown[] = [{ role: 'user', content: 'hi' }]) =>
			badRequest(
				post('/v1/messages', { model: 'sim-standard', max_tokens: 50, messages, ...extra }),
			);
		expect(await ask({ tools: [{ name: 'a' }] })).toMatch(/^tools\.0\.input_schema: /);
		expect(await ask({ tools: [{ name: 'a', input_schema: { type: 'string' } }] })).toMatch(
			/^tools\.0\.input_schema\.type: /,
		);
		expect(await ask({ tools: [{ name: 'a b', input_schema: { type: 'object' } }] })).toMatch(
			/^tools\.0\.name: a tool name is 1 to 64/,
		);
		expect(await ask({ tools: anthropicTools, tool_choice: { type: 'tool', name: 'nope' } })).toBe(
			'tool_choice.name: no tool named "nope" in tools',
		);
		expect(await ask({ tools: anthropicTools, tool_choice: { type: 'sometimes' } })).toMatch(
			/^tool_choice\.type: tool_choice\.type must be 'auto', 'any', 'none' or 'tool'/,
		);
		expect(await ask({ tool_choice: { type: 'any' } })).toMatch(/needs tools/);

		const use = {
			role: 'assistant',
			content: [{ type: 'tool_use', id: 'toolu_1', name: 'a', input: {} }],
		};
		const result = (id: string) => ({
			role: 'user',
			content: [{ type: 'tool_result', tool_use_id: id, content: 'x' }],
		});
		const user = { role: 'user', content: 'hi' };
		expect(await ask({}, [user, use, result('toolu_2')])).toMatch(
			/^messages\.2\.content\.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_2\. /,
		);
		expect(await ask({}, [result('toolu_1')])).toMatch(/unexpected `tool_use_id`/);
		expect(await ask({}, [user, use, user])).toMatch(
			/^messages\.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1\. /,
		);
		expect(await ask({}, [user, use])).toMatch(/^messages\.1: `tool_use` ids were found/);
		expect(
			await ask({}, [
				user,
				{ role: 'assistant', content: [{ type: 'tool_use', name: 'a', input: {} }] },
			]),
		).toMatch(/^messages\.1\.content\.0\.id: /);
		expect(
			await ask({}, [
				{ role: 'user', content: [{ type: 'tool_use', id: 't', name: 'a', input: {} }] },
			]),
		).toMatch(/tool_use blocks can only be in assistant messages/);
	});

	it('keeps the faults: 529 overloaded and 429 with Retry-After on a tool request', async () => {
		const body = (content: string) => ({
			model: 'sim-standard',
			max_tokens: 50,
			tools: anthropicTools,
			messages: [{ role: 'user', content }],
		});
		const overloaded = await post('/v1/messages', body('hi [[sim:status=529]]'));
		expect(overloaded.status).toBe(529);
		expect((await json(overloaded)).error.type).toBe('overloaded_error');
		const limited = await post('/v1/messages', body('hi'), { 'x-sim-fault': 'status=429' });
		expect(limited.headers.get('retry-after')).toBe('1');
	});
});

describe('streaming, OpenAI chat completions', () => {
	it('streams the same answer in pieces, with usage last and [DONE], and counts its tokens', async () => {
		const body = {
			model: 'sim-standard',
			messages: [{ role: 'user', content: 'Please pay the attached invoice' }],
		};
		const whole = await json(post('/v1/chat/completions', body));
		sim.reset();
		const res = await post('/v1/chat/completions', {
			...body,
			stream: true,
			stream_options: { include_usage: true },
		});
		expect(res.status).toBe(200);
		expect(res.headers.get('content-type')).toBe('text/event-stream');
		expect(res.headers.get('x-request-id')).toMatch(/^req_/);
		const text = await res.text();
		expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
		const chunks = parseSse(text).map(([, data]) => data);
		expect(chunks.at(-1)).toBe('[DONE]');
		const objects = chunks.slice(0, -1) as Json[];
		for (const c of objects)
			expect(c).toMatchObject({ object: 'chat.completion.chunk', model: 'sim-standard' });
		expect(new Set(objects.map((c) => c.id)).size).toBe(1);
		expect(objects[0].choices[0]).toEqual({
			index: 0,
			delta: { role: 'assistant', content: '' },
			logprobs: null,
			finish_reason: null,
		});
		const pieces = objects.slice(1, -2).map((c) => c.choices[0].delta.content as string);
		expect(pieces.length).toBeGreaterThan(3);
		expect(pieces.join('')).toBe(whole.choices[0].message.content);
		expect(objects.at(-2)!.choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
		expect(objects.at(-1)).toMatchObject({ choices: [], usage: whole.usage });
		expect(sim.counters()).toMatchObject({
			tokens: { input: whole.usage.prompt_tokens, output: whole.usage.completion_tokens },
			byStatus: { '200': 1 },
		});
		expect(sim.requestLog()[0]).toMatchObject({ outcome: '200', fault: 'none' });
	});

	it('works with the openai client: text chunks, and no usage chunk unless asked', async () => {
		const stream = await openai().chat.completions.create({
			model: 'sim-standard',
			stream: true,
			messages: [{ role: 'user', content: 'I cannot login' }],
		});
		const chunks: OpenAI.ChatCompletionChunk[] = [];
		for await (const chunk of stream) chunks.push(chunk);
		expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(
			'Category: support. Sentiment: neutral. Summary: I cannot login',
		);
		expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
		expect(chunks.every((c) => c.usage === undefined)).toBe(true);
	});

	it('streams a tool call: its id and name first, then the arguments in pieces', async () => {
		const res = await post('/v1/chat/completions', {
			model: 'sim-standard',
			stream: true,
			tools: openAiTools,
			messages: [{ role: 'user', content: 'get_weather in Lisbon' }],
		});
		const chunks = parseSse(await res.text()).map(([, d]) => d) as Json[];
		const deltas = chunks.slice(0, -1).map((c) => c.choices[0]);
		expect(deltas[0].delta).toEqual({ role: 'assistant', content: '' });
		expect(deltas[1].delta.tool_calls).toEqual([
			{
				index: 0,
				id: expect.stringMatching(/^call_/),
				type: 'function',
				function: { name: 'get_weather', arguments: '' },
			},
		]);
		const pieces = deltas.slice(2, -1).map((d) => {
			expect(Object.keys(d.delta.tool_calls[0])).toEqual(['index', 'function']);
			return d.delta.tool_calls[0].function.arguments as string;
		});
		expect(pieces.length).toBeGreaterThan(2);
		expect(JSON.parse(pieces.join(''))).toMatchObject({ city: 'get_weather in Lisbon' });
		expect(deltas.at(-1)).toMatchObject({ delta: {}, finish_reason: 'tool_calls' });
		expect(sim.counters().toolCalls).toBe(1);

		// the openai client puts the same pieces back together
		const final = await openai()
			.chat.completions.stream({
				model: 'sim-standard',
				tools: openAiTools,
				messages: [{ role: 'user', content: 'get_weather in Lisbon' }],
			})
			.finalChatCompletion();
		const call = final.choices[0].message
			.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
		expect(JSON.parse(call.function.arguments)).toEqual(JSON.parse(pieces.join('')));
		expect(final.choices[0].finish_reason).toBe('tool_calls');
	});

	it('faults decided before the answer are plain HTTP errors, not a stream', async () => {
		const ask = (fault: string) =>
			post(
				'/v1/chat/completions',
				{ model: 'sim-standard', stream: true, messages: [{ role: 'user', content: 'x' }] },
				{ 'x-sim-fault': fault },
			);
		const limited = await ask('status=429;retry-after=2');
		expect(limited.status).toBe(429);
		expect(limited.headers.get('content-type')).toBe('application/json');
		expect(limited.headers.get('retry-after')).toBe('2');
		const html = await ask('html-error');
		expect([html.status, html.headers.get('content-type')]).toEqual([502, 'text/html']);
		await expect(ask('reset')).rejects.toThrow();
		const t0 = Date.now();
		expect((await ask('latency=120')).headers.get('content-type')).toBe('text/event-stream');
		expect(Date.now() - t0).toBeGreaterThanOrEqual(110);
		const error = await openai({ timeout: 200, defaultHeaders: { 'x-sim-fault': 'hang' } })
			.chat.completions.create({
				model: 'sim-standard',
				stream: true,
				messages: [{ role: 'user', content: 'x' }],
			})
			.catch((e: unknown) => e);
		expect(error).toBeInstanceOf(OpenAI.APIConnectionError);
		await sim.idle();
	});

	it('stream-cut sends the first chunks, then closes the connection without an end', async () => {
		const res = await post('/v1/chat/completions', {
			model: 'sim-standard',
			stream: true,
			stream_options: { include_usage: true },
			messages: [
				{ role: 'user', content: 'Please pay the attached invoice [[sim:stream-cut;key=cut]]' },
			],
		});
		expect(res.status).toBe(200);
		const { text, broke } = await readAll(res);
		expect(broke).toBe(true);
		const chunks = parseSse(text).map(([, d]) => d) as Json[];
		expect(chunks[0].choices[0].delta.role).toBe('assistant');
		// 10 word pieces: the first 5 arrive
		expect(
			chunks
				.slice(1)
				.map((c) => c.choices[0].delta.content)
				.join(''),
		).toBe('Category: invoice. Sentiment: neutral. Summary: ');
		expect(text).not.toContain('[DONE]');
		expect(text).not.toContain('finish_reason":"stop');
		await sim.idle();
		expect(sim.requestLog().find((e) => e.key === 'cut')).toMatchObject({
			fault: 'stream-cut',
			outcome: 'stream-cut',
		});
		expect(sim.counters().byStatus).toEqual({ 'stream-cut': 1 });

		// the openai client sees the chunks, then an error
		const seen: string[] = [];
		const error = await (async () => {
			const stream = await openai({
				defaultHeaders: { 'x-sim-fault': 'stream-cut' },
			}).chat.completions.create({
				model: 'sim-standard',
				stream: true,
				tools: openAiTools,
				messages: [{ role: 'user', content: 'get_weather' }],
			});
			for await (const chunk of stream)
				seen.push(chunk.choices[0].delta.tool_calls?.[0].function?.arguments ?? '');
		})().catch((e: unknown) => e);
		// undici's TypeError("terminated"), from another realm under jest
		expect(error).toHaveProperty('message', expect.stringMatching(/terminated/));
		expect(seen.join('').length).toBeGreaterThan(0);
	});

	it('trickle spreads the events, truncated cuts and malformed-json breaks one; not streamed, stream-cut truncates', async () => {
		const ask = (fault: string, stream = true) =>
			post(
				'/v1/chat/completions',
				{ model: 'sim-standard', stream, messages: [{ role: 'user', content: 'hello there' }] },
				{ 'x-sim-fault': fault },
			);
		const t0 = Date.now();
		const slow = await ask('trickle=300');
		expect(Date.now() - t0).toBeLessThan(250);
		expect(parseSse(await slow.text()).at(-1)![1]).toBe('[DONE]');
		expect(Date.now() - t0).toBeGreaterThanOrEqual(250);

		expect((await readAll(await ask('truncated'))).broke).toBe(true);
		const broken = await (await ask('malformed-json')).text();
		expect(() => parseSse(broken)).toThrow(SyntaxError);

		const cut = await ask('stream-cut', false);
		expect(cut.headers.get('content-type')).toBe('application/json');
		await expect(cut.text()).rejects.toThrow();
		await sim.idle();
		expect(sim.requestLog().map((e) => e.outcome)).toEqual([
			'200',
			'truncated',
			'malformed-json',
			'stream-cut',
		]);
	});

	it('empty-choices and content-filter stream as such; a client that leaves is logged aborted', async () => {
		const ask = (fault: string) =>
			post(
				'/v1/chat/completions',
				{ model: 'sim-standard', stream: true, messages: [{ role: 'user', content: 'hi' }] },
				{ 'x-sim-fault': fault },
			).then(async (r) => parseSse(await r.text()).map(([, d]) => d) as Json[]);
		const empty = await ask('empty-choices');
		expect(empty.slice(0, -1).map((c) => c.choices)).toEqual([[]]);
		const filtered = await ask('content-filter');
		expect(filtered.at(-2)!.choices[0].finish_reason).toBe('content_filter');

		const abort = new AbortController();
		const res = await fetch(`${sim.baseUrl}/chat/completions`, {
			method: 'POST',
			headers: { 'content-type': 'application/json', authorization: 'Bearer sim-key' },
			body: JSON.stringify({
				model: 'sim-standard',
				stream: true,
				messages: [{ role: 'user', content: 'hi [[sim:trickle=2000;key=left]]' }],
			}),
			signal: abort.signal,
		});
		expect(res.status).toBe(200);
		abort.abort();
		await sim.idle(3000);
		expect(sim.requestLog().find((e) => e.key === 'left')).toMatchObject({ outcome: 'aborted' });
	});

	it('refuses stream_options without stream, and still does not stream the Responses API', async () => {
		expect(
			await badRequest(
				post('/v1/chat/completions', {
					model: 'm',
					stream_options: { include_usage: true },
					messages: [{ role: 'user', content: 'x' }],
				}),
			),
		).toMatch(/^stream_options: /);
		expect(
			await badRequest(post('/v1/responses', { model: 'm', input: 'x', stream: true })),
		).toMatch(/^stream: streaming is not supported/);
	});
});

describe('streaming, Anthropic messages', () => {
	it('streams message_start, the text block in deltas, message_delta and message_stop', async () => {
		const body = {
			model: 'sim-standard',
			max_tokens: 100,
			messages: [{ role: 'user', content: 'Please review the contract renewal' }],
		};
		const whole = await json(post('/v1/messages', body));
		sim.reset();
		const res = await post('/v1/messages', { ...body, stream: true });
		expect(res.headers.get('content-type')).toBe('text/event-stream');
		expect(res.headers.get('request-id')).toMatch(/^req_/);
		const raw = await res.text();
		expect(raw.startsWith('event: message_start\ndata: {"type":"message_start"')).toBe(true);
		const events = parseSse(raw) as Array<[string, Json]>;
		for (const [name, data] of events) expect(data.type).toBe(name);
		const names = events.map(([name]) => name);
		expect(names.slice(0, 3)).toEqual(['message_start', 'ping', 'content_block_start']);
		expect(names.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
		expect(events[0][1].message).toMatchObject({
			id: expect.stringMatching(/^msg_/),
			role: 'assistant',
			content: [],
			usage: { input_tokens: whole.usage.input_tokens },
		});
		const deltas = events.filter(([name]) => name === 'content_block_delta').map(([, d]) => d);
		expect(deltas.length).toBeGreaterThan(3);
		expect(deltas.every((d) => d.delta.type === 'text_delta' && d.index === 0)).toBe(true);
		expect(deltas.map((d) => d.delta.text).join('')).toBe(whole.content[0].text);
		expect(events.at(-2)![1]).toEqual({
			type: 'message_delta',
			delta: { stop_reason: 'end_turn', stop_sequence: null },
			usage: { output_tokens: whole.usage.output_tokens },
		});
		expect(sim.counters().tokens).toEqual({
			input: whole.usage.input_tokens,
			output: whole.usage.output_tokens,
		});
	});

	it('streams a tool_use block as input_json_delta pieces, which the client puts together', async () => {
		const body = {
			model: 'sim-standard',
			max_tokens: 100,
			tools: anthropicTools,
			messages: [{ role: 'user' as const, content: 'get weather in Berlin' }],
		};
		const events = parseSse(
			await (await post('/v1/messages', { ...body, stream: true })).text(),
		) as Array<[string, Json]>;
		const start = events.find(([n]) => n === 'content_block_start')![1];
		expect(start.content_block).toEqual({
			type: 'tool_use',
			id: expect.stringMatching(/^toolu_/),
			name: 'get_weather',
			input: {},
		});
		const partial = events
			.filter(([n]) => n === 'content_block_delta')
			.map(([, d]) => {
				expect(d.delta.type).toBe('input_json_delta');
				return d.delta.partial_json as string;
			});
		expect(partial.length).toBeGreaterThan(2);
		expect(JSON.parse(partial.join(''))).toMatchObject({ city: 'get weather in Berlin' });
		expect(events.at(-2)![1].delta.stop_reason).toBe('tool_use');

		const final = await anthropic().messages.stream(body).finalMessage();
		expect(final.stop_reason).toBe('tool_use');
		expect(final.content).toEqual([
			expect.objectContaining({
				type: 'tool_use',
				name: 'get_weather',
				input: JSON.parse(partial.join('')),
			}),
		]);
		expect(final.usage.output_tokens).toBe(countTokens(partial.join('')));
		expect(sim.counters().toolCalls).toBe(2);
	});

	it('works with the @anthropic-ai/sdk client, and stream-cut makes it fail after some text', async () => {
		const stream = anthropic().messages.stream({
			model: 'sim-standard',
			max_tokens: 100,
			messages: [{ role: 'user', content: 'Where is my refund?' }],
		});
		const pieces: string[] = [];
		stream.on('text', (t) => pieces.push(t));
		const final = await stream.finalMessage();
		expect(pieces.length).toBeGreaterThan(3);
		expect(final.content).toEqual([{ type: 'text', text: pieces.join('') }]);

		const seen: string[] = [];
		const cut = anthropic({
			defaultHeaders: { 'x-sim-fault': 'stream-cut;key=a-cut' },
		}).messages.stream({
			model: 'sim-standard',
			max_tokens: 100,
			messages: [{ role: 'user', content: 'Where is my refund?' }],
		});
		cut.on('text', (t) => seen.push(t));
		await expect(cut.finalMessage()).rejects.toThrow();
		expect(seen.join('')).toBe(pieces.slice(0, Math.ceil(pieces.length / 2)).join(''));
		await sim.idle();
		expect(sim.requestLog().find((e) => e.key === 'a-cut')?.outcome).toBe('stream-cut');
	});

	it('faults decided before the answer stay plain HTTP errors in the Anthropic format', async () => {
		const res = await post(
			'/v1/messages',
			{ model: 'm', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'x' }] },
			{ 'x-sim-fault': 'status=529' },
		);
		expect(res.status).toBe(529);
		expect(res.headers.get('content-type')).toBe('application/json');
		expect((await json(res)).error.type).toBe('overloaded_error');
		const refused = parseSse(
			await (
				await post(
					'/v1/messages',
					{ model: 'm', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'x' }] },
					{ 'x-sim-fault': 'content-filter' },
				)
			).text(),
		).map(([n]) => n);
		expect(refused).toEqual(['message_start', 'ping', 'message_delta', 'message_stop']);
	});
});

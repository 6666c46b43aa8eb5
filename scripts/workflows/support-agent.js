'use strict';
const { T, AI_CREDENTIAL, Workflow, webhook, respond } = require('./builder');

const COST_TAG = 'support-answer';

const w = new Workflow('support-agent', 'AI patterns: support agent with a budget per customer');

w.note(
	'About',
	`## Support agent (n8n's AI Agent)
An AI Agent answers customers and looks up orders with a tool. Its model is the **AI Call Chat Model**: the AI Call's protections inside the agent.

**POST /webhook/ai/support** \`{"customer": "acme", "question": "Where is order 12345?"}\`
- **200** the agent's answer
- **503** + \`Retry-After\` when the AI is rate limited or this customer's budget is spent
- **200** + \`X-Fallback: degraded\` when the AI is broken right now
- **202** when a person has to answer
- **400** when the customer or the question is missing

**GET /webhook/ai/support/cost**: the cost per answer today (usage ledger).`,
	[0, -0.25],
	368,
	5,
);
w.note(
	'Adopt',
	`### To adopt
1. Pick your **AI Service** credential and model in **Chat model (AI Call)**.
2. Replace **Order status** with your own tool (a workflow, an HTTP request).
3. The **Budget** is per customer (\`{{ $json.body.customer }}\`, 0.50 USD a day): one customer cannot spend everybody's money. AI Usage's Check Budget shows what is left.
4. Retries (rate limits, with Retry-After) and the fallback model happen inside the chat model, per model call of the agent; what still fails leaves the agent's error output to the **Fallback Router**.
5. Set **Authentication** on the webhook before exposing it: every request costs AI calls.`,
	[3, -0.25],
	480,
);

const hook = webhook('POST', 'ai/support');
w.node('POST /ai/support', T.webhook, hook.params, [0, 0], hook.extra);
w.node(
	'Check request',
	T.completenessCheck,
	{
		rules: {
			rule: [
				{ path: 'body.customer', check: 'notEmpty', name: 'customer given' },
				{ path: 'body.question', check: 'notEmpty', name: 'question given' },
				{ path: 'body.question', check: 'maxLength', value: '4000', name: 'question short enough' },
			],
		},
	},
	[1, 0],
);
w.node(
	'Support agent',
	T.agent,
	{
		promptType: 'define',
		text: '={{ $json.body.question }}',
		options: {
			systemMessage:
				'You are a support agent. Use the order status tool for questions about an order. Answer in two or three sentences.',
		},
	},
	[2.2, 0],
	{ onError: 'continueErrorOutput' },
);
w.node(
	'Chat model (AI Call)',
	T.aiCallChatModel,
	{
		model: { __rl: true, mode: 'id', value: 'sim-standard' },
		timeoutPreset: 'interactive',
		fallbacks: {
			fallback: [
				{ model: 'sim-large', on: ['server_error', 'timeout', 'overloaded'], credential: 'primary' },
			],
		},
		budgets: {
			budget: [
				{
					budgetName: 'support-per-customer',
					budgetScope: 'key',
					budgetKey: '={{ $json.body.customer }}',
					budgetPeriod: 'day',
					budgetLimitUsd: 0.5,
					budgetWarnPercent: 80,
				},
			],
		},
		options: { maxRetries: 2, baseDelayMs: 250, costTag: COST_TAG },
	},
	[1.9, 1.4],
	{ credentials: AI_CREDENTIAL },
);
w.node(
	'Order status',
	T.codeTool,
	{
		name: 'order_status',
		description: 'The shipping status of an order. Input: the customer question with the order number.',
		jsCode: [
			'// replace with your order system',
			"const id = String(query).match(/\\d{3,}/)?.[0];",
			"return id ? `Order ${id}: shipped, arrives on Friday.` : 'No order number in the question.';",
		].join('\n'),
	},
	[2.9, 1.4],
);
w.node(
	'Count answer',
	T.aiUsage,
	{ operation: 'recordOutcome', outcomeTag: COST_TAG, outcomeCount: 1 },
	[4.0, -0.1],
);
w.node(
	'Respond 200',
	T.respond,
	respond(200, "={{ { answer: $('Support agent').item.json.output } }}"),
	[5.0, -0.1],
);
w.node('Fallback Router', T.fallbackRouter, {}, [4.0, 0.9]);
w.node(
	'Respond 200 (degraded)',
	T.respond,
	respond(
		200,
		'={{ { answer: $json.ai.text, fallback: $json.fallback.strategy, reason: $json.fallback.reason } }}',
		{ 'X-Fallback': '={{ $json.fallback.strategy }}' },
	),
	[5.2, 0.8],
);
w.node(
	'Respond 503 (try later)',
	T.respond,
	respond(
		503,
		'={{ $json.fallback.class === "budget_exceeded" ? { error: "budget_spent", message: "Your AI budget for today is spent. Try again when it resets.", retryAt: $json.fallback.retryAt } : { error: "busy", message: "The AI service is overloaded. Try again later.", retryAt: $json.fallback.retryAt } }}',
		{ 'Retry-After': '={{ Math.max(1, Math.ceil($json.fallback.retryInMs / 1000)) }}' },
	),
	[5.2, 1.9],
);
w.node(
	'Respond 202 (a person answers)',
	T.respond,
	respond(
		202,
		'={{ { status: "accepted", message: "A person will answer.", reference: $execution.id, reason: $json.fallback.reason } }}',
	),
	[5.2, 3.0],
);
w.node(
	'Respond 400',
	T.respond,
	respond(400, '={{ { error: "invalid_request", problems: $json.completeness.failed } }}'),
	[2.2, -1.1],
);

const costHook = webhook('GET', 'ai/support/cost');
w.node('GET cost', T.webhook, costHook.params, [0, 3.6], costHook.extra);
w.node(
	'Cost per answer',
	T.aiUsage,
	{ operation: 'report', window: 'today', groupBy: 'tag', filterTag: COST_TAG },
	[1, 3.6],
);
w.node('Respond cost', T.respond, respond(200, '={{ $json }}'), [2, 3.6]);

w.connect('POST /ai/support', 'Check request');
w.connect('Check request', 'Support agent', 0);
w.connect('Check request', 'Respond 400', 1);
w.supply('Chat model (AI Call)', 'Support agent', 'ai_languageModel');
w.supply('Order status', 'Support agent', 'ai_tool');
w.connect('Support agent', 'Count answer', 0);
w.connect('Support agent', 'Fallback Router', 1);
w.connect('Count answer', 'Respond 200', 0);
w.connect('Count answer', 'Respond 200', 1); // not counted: the customer still gets the answer
w.connect('Fallback Router', 'Respond 200 (degraded)', 0); // Cached
w.connect('Fallback Router', 'Respond 503 (try later)', 1); // Queue
w.connect('Fallback Router', 'Respond 202 (a person answers)', 2); // Human
w.connect('Fallback Router', 'Respond 200 (degraded)', 3); // Degraded
w.connect('GET cost', 'Cost per answer');
w.connect('Cost per answer', 'Respond cost');

module.exports = w;

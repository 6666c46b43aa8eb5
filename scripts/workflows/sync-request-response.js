'use strict';
const { T, AI_CREDENTIAL, Workflow, webhook, respond } = require('./builder');

const w = new Workflow('sync-request-response', 'AI patterns: synchronous request-response');

w.note(
	'About',
	`## Synchronous request-response
A caller waits for the answer (a chat box, a form, another service).

**POST /webhook/ai/sync** \`{"question": "..."}\`
- **200** the AI's answer
- **200** + header \`X-Fallback: cached | degraded\` when the AI failed and a last good or degraded answer stands in
- **503** + \`Retry-After\` when the service is rate limited or overloaded and no last good answer exists: try again later
- **202** when a person has to answer (the request cannot succeed as it is)
- **400** when the request misses the question

What protects the caller: a bad request never reaches the AI; the AI Call waits 15 s per attempt at most (Interactive) and retries once; each failure class has its own answer.`,
	[0, -0.25],
	488,
	5,
);
w.note(
	'Adopt',
	`### To adopt
1. Pick your **AI Service** credential and model in **Answer (AI Call)**.
2. Edit the system prompt and the request rules in **Check request**.
3. **Store** is Auto in the AI Call and the Fallback Router (they share the last good answers): n8n's own Redis in queue mode, else the Local File, or what \`N8N_AI_PATTERNS_STORE\` sets. Change both or neither.
4. Set the daily **Budget** in **Answer (AI Call)** (5 USD, shared by every execution and worker; the AI Usage node's Check Budget shows what is left).
5. Replace **Hand over to a person** with your ticket or chat hand-off.
6. The webhook is open to anyone who can reach n8n, and every request costs an AI call: set **Authentication** (e.g. Header Auth) on it before exposing it.`,
	[2.6, -0.25],
	480,
);

const hook = webhook('POST', 'ai/sync');
w.node('POST /ai/sync', T.webhook, hook.params, [0, 0], hook.extra);
w.node(
	'Check request',
	T.completenessCheck,
	{
		rules: {
			rule: [
				{ path: 'body.question', check: 'notEmpty', name: 'question given' },
				{ path: 'body.question', check: 'maxLength', value: '4000', name: 'question short enough' },
			],
		},
	},
	[1, 0],
);
w.node(
	'Answer (AI Call)',
	T.aiCall,
	{
		model: { __rl: true, mode: 'id', value: 'sim-standard' },
		systemPrompt: 'You answer customer questions in two or three sentences.',
		userPrompt: '={{ $json.body.question }}',
		timeoutPreset: 'interactive',
		keepLastGood: true,
		budgets: {
			budget: [
				{
					budgetName: 'sync-answers-daily',
					budgetScope: 'all',
					budgetPeriod: 'day',
					budgetLimitUsd: 5,
					budgetWarnPercent: 80,
				},
			],
		},
		options: {
			maxRetries: 1,
			baseDelayMs: 250,
			totalTimeoutMs: 20000,
			costTag: 'question-answered',
		},
	},
	[2, 0],
	{ credentials: AI_CREDENTIAL },
);
w.node(
	'Respond 200',
	T.respond,
	respond(
		200,
		'={{ { answer: $json.ai.text, model: $json.ai.model, usage: $json.ai.usage, costUsd: $json.ai.cost.totalUsd } }}',
	),
	[3, 0],
);
w.node('Fallback Router', T.fallbackRouter, {}, [3, 1]);
w.node(
	'Respond 200 (fallback answer)',
	T.respond,
	respond(
		200,
		'={{ { answer: $json.ai.text, fallback: $json.fallback.strategy, reason: $json.fallback.reason } }}',
		{ 'X-Fallback': '={{ $json.fallback.strategy }}' },
	),
	[4, 0.65],
);
w.node(
	'Respond 503 (try later)',
	T.respond,
	respond(
		503,
		'={{ $json.error.class === "budget_exceeded" ? { error: "budget_spent", message: "Today\'s AI budget is spent. Try again when it resets.", retryAt: $json.fallback.retryAt } : { error: "busy", message: "The AI service is overloaded. Try again later.", retryAt: $json.fallback.retryAt } }}',
		{ 'Retry-After': '={{ Math.max(1, Math.ceil($json.fallback.retryInMs / 1000)) }}' },
	),
	[4, 2],
);
w.node('Hand over to a person', T.noOp, {}, [4, 3]);
w.node(
	'Respond 202 (a person answers)',
	T.respond,
	respond(
		202,
		'={{ { status: "accepted", message: "A person will answer.", reference: $execution.id, reason: $json.fallback.reason } }}',
	),
	[5, 3],
);
w.node(
	'Respond 400',
	T.respond,
	respond(400, '={{ { error: "invalid_request", problems: $json.completeness.failed } }}'),
	[2, 1],
);

w.connect('POST /ai/sync', 'Check request');
w.connect('Check request', 'Answer (AI Call)', 0);
w.connect('Check request', 'Respond 400', 1);
w.connect('Answer (AI Call)', 'Respond 200', 0);
w.connect('Answer (AI Call)', 'Fallback Router', 1);
w.connect('Fallback Router', 'Respond 200 (fallback answer)', 0); // Cached
w.connect('Fallback Router', 'Respond 503 (try later)', 1); // Queue
w.connect('Fallback Router', 'Hand over to a person', 2); // Human
w.connect('Fallback Router', 'Respond 200 (fallback answer)', 3); // Degraded
w.connect('Hand over to a person', 'Respond 202 (a person answers)');

module.exports = w;

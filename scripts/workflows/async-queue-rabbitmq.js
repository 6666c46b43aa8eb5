'use strict';
const {
	T,
	AI_CREDENTIAL,
	RABBITMQ_CREDENTIAL,
	Workflow,
	uuid,
	webhook,
	respond,
	table,
	tableColumns,
	tableFilter,
	ensureTable,
} = require('./builder');

const w = new Workflow('async-queue-rabbitmq', 'AI patterns: async queue on RabbitMQ');
const TABLE = 'ai_queue_outcomes';
const QUEUE = 'ai-jobs';

w.note(
	'About',
	`## Async queue on RabbitMQ
A producer publishes jobs; a worker takes at most **5 at a time** (parallel limit = backpressure: the AI never sees more than 5 calls from here) and acknowledges each message **after its execution finished successfully**: a crash or a failed execution redelivers it instead of losing it.

**POST /webhook/ai/rabbitmq/jobs** \`{"jobs": [{"jobId", "text"}, …]}\` (or one job) → **202** \`{"accepted", "jobIds"}\`

Every job ends in the Data Table **${TABLE}** as \`processed\` or \`human\`:
- AI failures that may pass (rate limit, overload, 5xx, timeout, network, circuit open) go back to **${QUEUE}** after a backoff, up to 3 times;
- the rest, and jobs re-queued 3 times, are recorded as \`human\`: the table is the review list.`,
	[-1, -2.1],
	[4.6, 2.3],
	5,
);
w.note(
	'Adopt',
	`### To adopt
1. Create a **RabbitMQ** credential and pick it in the three RabbitMQ nodes (the trigger declares the queue); pick your **AI Service** credential in **Process job (AI Call)**.
2. Set **Parallel Message Processing Limit** in **${QUEUE}** to what your AI quota allows (per worker).
3. The backoff (**Wait for the backoff**) is the Fallback Router's: base 2 s, at most 10 s here; use minutes in production (Router → Options → Queue Base Delay).
4. Replace the outcome table with your system of record, or send the \`human\` jobs on to your review tool from **Record human**.
5. Every expected failure ends on a path, so executions succeed; an execution that does fail (e.g. the table is unreachable) is redelivered at once and again until it succeeds: watch the execution list.`,
	[3.8, -2.1],
	[4.4, 2.3],
);

// Producer
const hook = webhook('POST', 'ai/rabbitmq/jobs');
w.node('POST /ai/rabbitmq/jobs', T.webhook, hook.params, [0, 0], hook.extra);
w.node(
	'Ensure outcome table',
	T.dataTable,
	ensureTable(TABLE, ['jobId', 'outcome', 'attempts', 'detail']),
	[1, 0],
	{ onError: 'continueRegularOutput' },
);
w.node(
	'Jobs from the request',
	T.code,
	{
		jsCode: `// One item per job: {"jobs": [...]} or a single job as the body.
const body = $('POST /ai/rabbitmq/jobs').first().json.body ?? {};
const jobs = Array.isArray(body.jobs) ? body.jobs : [body];
return jobs.map((job, i) => ({
  json: {
    jobId: String(job.jobId ?? \`\${$execution.id}-\${i + 1}\`),
    text: String(job.text ?? ''),
    submittedAt: new Date().toISOString(),
  },
  pairedItem: { item: 0 },
}));`,
	},
	[2, 0],
);
w.node(`Publish to ${QUEUE}`, T.rabbitmq, { queue: QUEUE, options: { durable: true } }, [3, 0], {
	credentials: RABBITMQ_CREDENTIAL,
});
w.node(
	'Respond 202',
	T.respond,
	respond(
		202,
		'={{ { accepted: $("Jobs from the request").all().length, jobIds: $("Jobs from the request").all().map(j => j.json.jobId) } }}',
	),
	[4, 0],
	{ executeOnce: true },
);

// Worker
w.node(
	QUEUE,
	T.rabbitmqTrigger,
	{
		queue: QUEUE,
		options: {
			assertQueue: true,
			durable: true,
			acknowledge: 'executionFinishesSuccessfully',
			parallelMessages: 5,
			jsonParseBody: true,
			onlyContent: true,
		},
	},
	[0, 1.3],
	{ credentials: RABBITMQ_CREDENTIAL },
);
w.node(
	'Process job (AI Call)',
	T.aiCall,
	{
		model: { __rl: true, mode: 'id', value: 'sim-standard' },
		systemPrompt: 'Summarize the text in one sentence.',
		userPrompt: '={{ $json.text }}',
		timeoutPreset: 'batch',
		options: { maxRetries: 1, baseDelayMs: 500 },
	},
	[1, 1.3],
	{ credentials: AI_CREDENTIAL },
);
/** Upserts the job's outcome by its id (a redelivered job updates its row). */
const record = (name, outcome, detail, pos, job = '$json') =>
	w.node(
		name,
		T.dataTable,
		{
			resource: 'row',
			operation: 'upsert',
			dataTableId: table(TABLE),
			...tableFilter('jobId', `={{ ${job}.jobId }}`),
			columns: tableColumns({
				jobId: `={{ ${job}.jobId }}`,
				outcome,
				attempts: `={{ String((${job}.fallback?.queueAttempts ?? 0) + 1) }}`,
				detail,
			}),
			options: {},
		},
		pos,
	);
record('Record processed', 'processed', '={{ $json.ai.text }}', [2, 1]);
const transient = [
	'rate_limited',
	'overloaded',
	'server_error',
	'timeout',
	'network',
	'circuit_open',
];
const others = [
	'auth',
	'bad_request',
	'context_length',
	'content_filter',
	'invalid_output',
	'budget_exceeded',
];
w.node(
	'Retry or a person?',
	T.fallbackRouter,
	{
		routing: 'custom',
		rules: {
			rule: [
				{ classes: transient, strategies: 'queue, human' },
				{ classes: others, strategies: 'human' },
			],
		},
		drill: 'list',
		drillStrategies: 'queue, human',
		options: { maxRequeues: 3, queueBaseSeconds: 2, queueMaxSeconds: 10 },
	},
	[2, 1.7],
);
w.node(
	'Wait for the backoff',
	T.wait,
	{ amount: '={{ Math.max(1, Math.ceil($json.fallback.retryInMs / 1000)) }}', unit: 'seconds' },
	[3, 1.4],
	{ webhookId: uuid('async-queue-rabbitmq/wait') },
);
w.node(
	`Re-publish to ${QUEUE}`,
	T.rabbitmq,
	{
		queue: QUEUE,
		sendInputData: false,
		message:
			'={{ JSON.stringify({ jobId: $json.jobId, text: $json.text, submittedAt: $json.submittedAt, fallback: { queueAttempts: $json.fallback.queueAttempts } }) }}',
		options: { durable: true },
	},
	[4, 1.4],
	{ credentials: RABBITMQ_CREDENTIAL },
);
record('Record human', 'human', '={{ $json.fallback.reason }}', [3, 2]);

w.connect('POST /ai/rabbitmq/jobs', 'Ensure outcome table');
w.connect('Ensure outcome table', 'Jobs from the request');
w.connect('Jobs from the request', `Publish to ${QUEUE}`);
w.connect(`Publish to ${QUEUE}`, 'Respond 202');
w.connect(QUEUE, 'Process job (AI Call)');
w.connect('Process job (AI Call)', 'Record processed', 0);
w.connect('Process job (AI Call)', 'Retry or a person?', 1);
// Cached and Degraded are not in these rules; wired to a person all the same, so no item is dropped.
w.connect('Retry or a person?', 'Record human', 0);
w.connect('Retry or a person?', 'Wait for the backoff', 1);
w.connect('Retry or a person?', 'Record human', 2);
w.connect('Retry or a person?', 'Record human', 3);
w.connect('Wait for the backoff', `Re-publish to ${QUEUE}`);

module.exports = w;

'use strict';
const {
	T,
	AI_CREDENTIAL,
	RABBITMQ_CREDENTIAL,
	Workflow,
	uuid,
	webhook,
	condition,
	respond,
	table,
	tableColumns,
	tableFilter,
	ensureTable,
} = require('./builder');

const w = new Workflow('async-queue-rabbitmq', 'AI patterns: async queue on RabbitMQ');
const TABLE = 'ai_queue_outcomes';
/**
 * The queue's name is written once, in the trigger's Queue field: both publishing nodes read it
 * with $('Job queue').params.queue, the trigger's parameters as saved, which n8n resolves without
 * execution data (so the producer's execution can read them) and renames with the node. It is
 * the raw value, hence a plain name there, not an expression. $vars needs a licence
 * (feat:variables) and $env is blocked by default in n8n 2 (N8N_BLOCK_ENV_ACCESS_IN_NODE): not a
 * place every user has. A test run (importSamples) sets its own name in the trigger alone.
 */
const QUEUE = 'ai-jobs';
const TRIGGER = 'Job queue';
const QUEUE_FROM_TRIGGER = `={{ $('${TRIGGER}').params.queue }}`;

w.note(
	'About',
	`## Async queue on RabbitMQ
A producer publishes jobs to the queue **${QUEUE}**; a worker takes at most **5 at a time** (parallel limit = backpressure: the AI never sees more than 5 calls from here) and acknowledges each message **after its execution finished successfully**: a crash or a failed execution redelivers it instead of losing it. Messages are persistent in a durable queue.

**POST /webhook/ai/rabbitmq/jobs** \`{"jobs": [{"jobId"?, "text"}, …]}\` (1 to 1000 jobs) → **202** \`{"accepted", "jobIds"}\`, or **400**

Every job ends in the Data Table **${TABLE}** as \`processed\` or \`human\`:
- AI failures that may pass (rate limit, overload, 5xx, timeout, network, circuit open) go back to the queue after a backoff, up to 3 times;
- the rest, jobs re-queued 3 times, jobs without text and messages that are not a job are recorded as \`human\`: the table is the review list.`,
	[0, -0.3],
	624,
	5,
);
w.note(
	'Adopt',
	`### To adopt
1. Create a **RabbitMQ** credential and pick it in the three RabbitMQ nodes (the trigger declares the queue); pick your **AI Service** credential in **Process job (AI Call)**.
2. The queue's name is set once, in **Queue** of **${TRIGGER}** (a plain name, not an expression): both publishing nodes read it from there. Two n8n on one broker need two names, or they take each other's jobs.
3. Set **Parallel Message Processing Limit** in **${TRIGGER}** to what your AI quota allows. In n8n queue mode the trigger runs on the main instance: the limit holds for the whole n8n.
4. The backoff (**Wait for the backoff**) is the Fallback Router's: base 2 s, at most 10 s here. Keep it under 65 s: a longer Wait parks the execution, the message is acknowledged and the parallel limit no longer holds (for longer delays use a RabbitMQ delay queue with a TTL and a dead-letter exchange).
5. Replace the outcome table with your system of record, or send the \`human\` jobs on to your review tool from **Record human**.
6. Every expected failure ends on a path, so executions succeed; an execution that does fail (e.g. the table is unreachable) is redelivered at once, again and again: watch the execution list.
7. The webhook is open to anyone who can reach n8n: set **Authentication** (e.g. Header Auth) on it.`,
	[3.4, -0.3],
	720,
);

const persistent = {
	durable: true,
	arguments: { argument: [{ key: 'persistent', value: 'true' }] },
};
const COLUMNS = ['jobId', 'outcome', 'attempts', 'detail'];

// Producer
const hook = webhook('POST', 'ai/rabbitmq/jobs');
w.node('POST /ai/rabbitmq/jobs', T.webhook, hook.params, [0, 0], hook.extra);
w.node(
	'Check request',
	T.completenessCheck,
	{
		rules: {
			rule: [
				{ path: 'body.jobs', check: 'type', value: 'array', name: 'jobs is a list' },
				{ path: 'body.jobs', check: 'minItems', value: '1', name: 'at least one job' },
				{ path: 'body.jobs', check: 'maxItems', value: '1000', name: 'at most 1000 jobs' },
			],
		},
	},
	[1, 0],
);
w.node(
	'Respond 400',
	T.respond,
	respond(400, '={{ { error: "invalid_request", problems: $json.completeness.failed } }}'),
	[2, 1],
);
w.node('Ensure outcome table', T.dataTable, ensureTable(TABLE, COLUMNS), [2, 0], {
	onError: 'continueRegularOutput',
});
w.node(
	'Jobs from the request',
	T.code,
	{
		jsCode: `// One item per job of {"jobs": [...]}; the worker sends a job without text to a person.
const { jobs } = $('POST /ai/rabbitmq/jobs').first().json.body;
return jobs.map((job, i) => ({
  json: {
    jobId: String(job?.jobId ?? \`\${$execution.id}-\${i + 1}\`),
    text: String(job?.text ?? ''),
    submittedAt: new Date().toISOString(),
  },
  pairedItem: { item: 0 },
}));`,
	},
	[3, 0],
);
w.node('Publish job', T.rabbitmq, { queue: QUEUE_FROM_TRIGGER, options: persistent }, [4, 0], {
	credentials: RABBITMQ_CREDENTIAL,
});
w.node(
	'Respond 202',
	T.respond,
	respond(
		202,
		'={{ { accepted: $("Jobs from the request").all().length, jobIds: $("Jobs from the request").all().map(j => j.json.jobId) } }}',
	),
	[5, 0],
	{ executeOnce: true },
);

// Worker
w.node(
	TRIGGER,
	T.rabbitmqTrigger,
	{
		queue: QUEUE,
		options: {
			assertQueue: true,
			durable: true,
			acknowledge: 'executionFinishesSuccessfully',
			parallelMessages: 5,
		},
	},
	[0, 2],
	{ credentials: RABBITMQ_CREDENTIAL },
);
w.node('Ensure outcome table (worker)', T.dataTable, ensureTable(TABLE, COLUMNS), [1, 2], {
	onError: 'continueRegularOutput',
});
w.node(
	'Job from the message',
	T.code,
	{
		jsCode: `// Parsed here rather than in the trigger: a message that is not a job goes to a person
// (field "problem") instead of stalling the worker.
const raw = String($('${TRIGGER}').first().json.content ?? '');
let job;
try {
  job = JSON.parse(raw);
} catch {
  job = undefined;
}
if (!job || typeof job !== 'object')
  return [{ json: { jobId: \`invalid-message-\${$execution.id}\`, problem: 'not a job: ' + raw.slice(0, 200) } }];
const text = String(job.text ?? '').trim();
return [{
  json: {
    jobId: String(job.jobId ?? \`message-\${$execution.id}\`),
    text,
    submittedAt: job.submittedAt ?? null,
    fallback: { queueAttempts: Number(job.fallback?.queueAttempts ?? 0) },
    ...(text ? {} : { problem: 'the job has no text' }),
  },
}];`,
	},
	[2, 2],
);
w.node(
	'Is it a job?',
	T.if,
	condition(w.file, 'Is it a job?', '={{ $json.problem }}', 'empty'),
	[3, 2.27],
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
	[4, 1.45],
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
record('Record processed', 'processed', '={{ $json.ai.text }}', [5, 1]);
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
	[5, 2],
);
w.node(
	'Wait for the backoff',
	T.wait,
	// under 65 s, so the execution (and the unacknowledged message) stays in this worker slot
	{
		amount: '={{ Math.min(60, Math.max(1, Math.ceil($json.fallback.retryInMs / 1000))) }}',
		unit: 'seconds',
	},
	[6, 1.85],
	{ webhookId: uuid('async-queue-rabbitmq/wait') },
);
w.node(
	'Re-publish job',
	T.rabbitmq,
	{
		queue: QUEUE_FROM_TRIGGER,
		sendInputData: false,
		message:
			'={{ JSON.stringify({ jobId: $json.jobId, text: $json.text, submittedAt: $json.submittedAt, fallback: { queueAttempts: $json.fallback.queueAttempts } }) }}',
		options: persistent,
	},
	[7, 1.85],
	{ credentials: RABBITMQ_CREDENTIAL },
);
record('Record human', 'human', '={{ $json.problem ?? $json.fallback.reason }}', [6, 3.6]);

w.connect('POST /ai/rabbitmq/jobs', 'Check request');
w.connect('Check request', 'Ensure outcome table', 0);
w.connect('Check request', 'Respond 400', 1);
w.connect('Ensure outcome table', 'Jobs from the request');
w.connect('Jobs from the request', 'Publish job');
w.connect('Publish job', 'Respond 202');
w.connect(TRIGGER, 'Ensure outcome table (worker)');
w.connect('Ensure outcome table (worker)', 'Job from the message');
w.connect('Job from the message', 'Is it a job?');
w.connect('Is it a job?', 'Process job (AI Call)', 0);
w.connect('Is it a job?', 'Record human', 1);
w.connect('Process job (AI Call)', 'Record processed', 0);
w.connect('Process job (AI Call)', 'Retry or a person?', 1);
// Cached and Degraded are not in these rules; wired to a person all the same, so no item is dropped.
w.connect('Retry or a person?', 'Record human', 0);
w.connect('Retry or a person?', 'Wait for the backoff', 1);
w.connect('Retry or a person?', 'Record human', 2);
w.connect('Retry or a person?', 'Record human', 3);
w.connect('Wait for the backoff', 'Re-publish job');

module.exports = w;
